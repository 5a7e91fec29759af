#include "cli/joblog.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a joblog line has GNU parallel's nine tab-separated columns") {
  Attempt a{12, 1, 3, Command{"echo 'a b'", {}}};
  Completion c;
  c.start = TimePoint{} + 1s;
  c.end = c.start + 1500ms;
  c.stdout_bytes = 42;
  c.exit_status = 3;
  CHECK(joblog_line(a, c, 1700000000.25) ==
        "12\t:\t1700000000.250\t     1.500\t0\t42\t3\t0\techo 'a b'\n");
}

TEST_CASE("a joblog line records the signal, and newlines in the command as NUL") {
  Attempt a{1, 1, 1, Command{"printf 'a\nb'", {}}};
  Completion c;
  c.signal = 9;
  c.end = c.start + 10ms;
  const std::string line = joblog_line(a, c, 1.0);
  CHECK(line == std::string("1\t:\t1.000\t     0.010\t0\t0\t0\t9\tprintf 'a\0b'\n", 42));
}

TEST_CASE("the joblog file starts with the header and gets one line per write") {
  char dir[] = "/tmp/taskpool-joblog-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/log";
  {
    JobLog log(path);
    Attempt a{1, 1, 1, Command{"true", {}}};
    Completion c;
    log.write(a, c);
    a.seq = 2;
    log.write(a, c);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  CHECK(s.rfind(JobLog::kHeader, 0) == 0);
  CHECK(std::count(s.begin(), s.end(), '\n') == 3);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("a joblog that cannot be opened is an error naming the file") {
  try {
    JobLog log("/nonexistent-dir/x/log");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("/nonexistent-dir/x/log") != std::string::npos);
  }
}

}  // namespace
}  // namespace taskpool
