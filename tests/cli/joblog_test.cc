#include "cli/joblog.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
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
  c.detail.stdout_bytes = 42;
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

TEST_CASE("a download's Command column says where its file went") {
  Attempt a{4, 1, 1, Command{"http://h/a%20b", {}}, Download{"http://h/a%20b", "x/a b", ""}};
  Completion c;
  CHECK(joblog_line(a, c, 2.0, ":", "./dl//") ==
        "4\t:\t2.000\t     0.000\t0\t0\t0\t0\thttp://h/a%20b -> dl/x/a b\n");
  // A download whose path was refused has no file: the URL alone.
  a.download->path.clear();
  CHECK(joblog_line(a, c, 2.0, ":", "dl").ends_with("\thttp://h/a%20b\n"));
}

TEST_CASE("a timed-out attempt has Exitval -1, as in GNU parallel") {
  Attempt a{3, 1, 1, Command{"sleep 100", {}}};
  Completion c;
  c.signal = 15;
  c.timed_out = true;
  c.end = c.start + 1s;
  CHECK(joblog_line(a, c, 2.0) == "3\t:\t2.000\t     1.000\t0\t0\t-1\t15\tsleep 100\n");
}

TEST_CASE("appending to a joblog keeps its lines and writes no second header") {
  char dir[] = "/tmp/taskpool-joblog-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/log";
  Attempt a{1, 1, 1, Command{"true", {}}};
  Completion ok;
  { JobLog(path).write(a, ok); }
  a.seq = 2;
  Completion failed;
  failed.exit_status = 1;
  { JobLog(path, true).write(a, failed); }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const auto jobs = parse_joblog(text.str(), path);
  CHECK(jobs.size() == 2);
  CHECK(jobs.at(1).succeeded);
  CHECK_FALSE(jobs.at(2).succeeded);
  const std::string s = text.str();
  CHECK(s.find("Seq\t", 1) == std::string::npos);
  // A new joblog in append mode still gets its header.
  const std::string fresh = std::string(dir) + "/fresh";
  { JobLog(fresh, true).write(a, ok); }
  CHECK(read_joblog(fresh).size() == 1);
  unlink(path.c_str());
  unlink(fresh.c_str());
  rmdir(dir);
}

TEST_CASE("parsing a joblog: the last line of a job wins, tabs in commands, a cut-off line") {
  const std::string header = JobLog::kHeader;
  const std::string text = header +
                           "1\t:\t1.0\t0.1\t0\t0\t1\t0\tfalse\n"
                           "2\t:\t1.0\t0.1\t0\t0\t0\t0\tprintf 'a\tb'\n"
                           "1\t:\t2.0\t0.1\t0\t0\t0\t0\tfalse\n"
                           "3\t:\t1.0\t0.1\t0\t0\t-1\t15\tsleep 9\n"
                           "4\t:\t1.0\t0.1\t0\t0\t0\t0\ttr";
  const auto jobs = parse_joblog(text, "log");
  CHECK(jobs.size() == 3);
  CHECK(jobs.at(1).succeeded);
  CHECK(jobs.at(2).succeeded);
  CHECK_FALSE(jobs.at(3).succeeded);
  CHECK(jobs.count(4) == 0);
  CHECK(parse_joblog("", "log").empty());
}

TEST_CASE("a foreign or corrupt joblog is an error naming the file and the line") {
  const std::string header = JobLog::kHeader;
  const auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_joblog(text, "jobs.log");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of("hello world\n").find("'jobs.log' is not a joblog") != std::string::npos);
  CHECK(error_of(header + "1\t:\t1.0\n").find("'jobs.log' line 2") != std::string::npos);
  CHECK(error_of(header + "1\t:\t1.0\t0.1\t0\t0\t0\t0\ta\nx\t:\t1\t1\t0\t0\t0\t0\tb\n")
            .find("line 3") != std::string::npos);
  CHECK(error_of(header + "1\t:\t1.0\t0.1\t0\t0\tok\t0\ta\n").find("Exitval") != std::string::npos);
  CHECK(error_of(header + "0\t:\t1.0\t0.1\t0\t0\t0\t0\ta\n").find("line 2") != std::string::npos);
}

TEST_CASE("appending to a joblog cut off mid-line drops the partial line first") {
  char dir[] = "/tmp/taskpool-joblog-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/log";
  {
    std::ofstream out(path);
    out << JobLog::kHeader << "1\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n2\t:\t1.0\t0.";
  }
  Attempt a{2, 1, 1, Command{"false", {}}};
  Completion failed;
  failed.exit_status = 1;
  { JobLog(path, true).write(a, failed); }
  const auto jobs = read_joblog(path);
  CHECK(jobs.size() == 2);
  CHECK(jobs.at(1).succeeded);
  CHECK_FALSE(jobs.at(2).succeeded);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("a joblog cut off inside its header holds no job, and appending rewrites the header") {
  const std::string header = JobLog::kHeader;
  CHECK(parse_joblog(header.substr(0, 5), "log").empty());
  CHECK(parse_joblog(header.substr(0, header.size() - 1), "log").empty());
  CHECK_THROWS_AS(parse_joblog(header.substr(0, 5) + "X", "log"), Error);

  char dir[] = "/tmp/taskpool-joblog-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/log";
  { std::ofstream(path) << header.substr(0, 7); }
  Attempt a{1, 1, 1, Command{"true", {}}};
  { JobLog(path, true).write(a, Completion{}); }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().starts_with(header));
  CHECK(read_joblog(path).size() == 1);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("appending to a joblog whose cut-off last line is longer than one read drops it whole") {
  char dir[] = "/tmp/taskpool-joblog-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/log";
  const std::string failed_line = "1\t:\t1.0\t0.1\t0\t0\t1\t0\tfalse\n";
  {
    // A -X job's line of 200 000 bytes, cut off before its newline: its own Exitval reads 0.
    std::ofstream out(path);
    out << JobLog::kHeader << failed_line << "2\t:\t1.0\t0.1\t0\t0\t0\t0\techo "
        << std::string(200000, 'x');
  }
  Attempt a{3, 1, 1, Command{"true", {}}};
  { JobLog(path, true).write(a, Completion{}); }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string kept = std::string(JobLog::kHeader) + failed_line;
  const std::string after = text.str();
  CHECK(after.starts_with(kept + "3\t:\t"));
  CHECK(after.find("xxx") == std::string::npos);  // nothing of the cut-off line is left
  CHECK(std::count(after.begin(), after.end(), '\n') == 3);
  const auto jobs = read_joblog(path);
  CHECK(jobs.size() == 2);
  CHECK_FALSE(jobs.at(1).succeeded);
  CHECK(jobs.count(2) == 0);
  CHECK(jobs.at(3).succeeded);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("same_command: a job's command against the one the joblog lists for it") {
  const std::string header = JobLog::kHeader;
  const CommandTemplate plain({"echo", "{}"});
  const Job job{2, Record{{"a b", "c"}}};
  const std::string ran = plain.expand(job, 1).line;  // echo 'a b' c
  auto logged = parse_joblog(header + "2\t:\t1.0\t0.1\t0\t0\t0\t0\t" + ran + "\n", "log");
  CHECK(same_command(logged.at(2), plain, job));
  CHECK_FALSE(same_command(logged.at(2), plain, Job{2, Record{{"a b"}}}));
  CHECK_FALSE(same_command(logged.at(2), CommandTemplate({"printf", "{}"}), job));

  // A newline in the command is NUL in the joblog, and still the same command.
  const Job multiline{1, Record{{"x\ny"}}};
  const std::string line = JobLog::kHeader + std::string("1\t:\t1\t1\t0\t0\t0\t0\techo 'x") +
                           std::string(1, '\0') + "y'\n";
  CHECK(same_command(parse_joblog(line, "log").at(1), plain, multiline));

  // With {%}, the joblog's worker number is read from its command: any worker matches.
  const CommandTemplate worker({"echo", "{%}", "{}"});
  const std::string on_worker_12 = worker.expand(job, 12).line;
  logged = parse_joblog(header + "2\t:\t1\t1\t0\t0\t0\t0\t" + on_worker_12 + "\n", "log",
                        /*keep_commands=*/true);
  CHECK(same_command(logged.at(2), worker, job));
  CHECK_FALSE(same_command(logged.at(2), worker, Job{2, Record{{"a b"}}}));
  logged = parse_joblog(header + "2\t:\t1\t1\t0\t0\t0\t0\techo x 'a b' c\n", "log", true);
  CHECK_FALSE(same_command(logged.at(2), worker, job));
}

}  // namespace
}  // namespace taskpool
