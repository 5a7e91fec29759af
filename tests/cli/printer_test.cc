#include "cli/printer.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "core/error.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

// A pipe whose read end collects whatever the printer writes.
struct Capture {
  int fds[2];
  Capture() { REQUIRE(pipe(fds) == 0); }
  ~Capture() {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
  }
  std::string text() {
    close(fds[1]);
    fds[1] = -1;
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

using testing::job;

Completion output(WorkerId worker, const std::string& out, const std::string& err = "") {
  Completion c;
  c.worker = worker;
  c.stdout_data = std::make_unique<OutputBuffer>();
  c.stdout_data->append(out);
  c.stderr_data = std::make_unique<OutputBuffer>();
  c.stderr_data->append(err);
  return c;
}

void finish(OutputPrinter& p, uint64_t seq, const std::string& out, const std::string& err = "") {
  Job j = job(seq, {"r" + std::to_string(seq)});
  Attempt a{seq, 1, 1, Command{"cmd " + std::to_string(seq), {}}};
  Completion c = output(1, out, err);
  p.job_ended(j, a, c);
}

TEST_CASE("without -k output is printed in completion order, stdout and stderr apart") {
  Capture out, err;
  OutputPrinter p({}, out.fds[1], err.fds[1]);
  finish(p, 2, "two\n", "e2\n");
  finish(p, 1, "one\n");
  CHECK(out.text() == "two\none\n");
  CHECK(err.text() == "e2\n");
}

TEST_CASE("-k holds output until every earlier job is printed") {
  Capture out, err;
  OutputPrinter p({.keep_order = true}, out.fds[1], err.fds[1]);
  finish(p, 3, "three\n");
  finish(p, 2, "two\n");
  CHECK(p.held() == 2);
  finish(p, 1, "one\n");
  CHECK(p.held() == 0);
  finish(p, 4, "four\n");
  CHECK(out.text() == "one\ntwo\nthree\nfour\n");
}

TEST_CASE("--tag prefixes every line, also an unterminated last one and stderr lines") {
  Capture out, err;
  OutputPrinter p({.tag = true}, out.fds[1], err.fds[1]);
  Job j = job(1, {"a b", "c"});
  Attempt a{1, 1, 1, Command{"x", {}}};
  Completion c = output(1, "1\n2\nno newline", "e\n");
  p.job_ended(j, a, c);
  CHECK(out.text() == "a b c\t1\na b c\t2\na b c\tno newline");
  CHECK(err.text() == "a b c\te\n");
}

TEST_CASE("--dry-run prints the command line of each job") {
  Capture out, err;
  OutputPrinter p({.keep_order = true, .print_commands = true}, out.fds[1], err.fds[1]);
  Job j2 = job(2, {"b"});
  Attempt a2{2, 1, 2, Command{"echo 'b c'", {}}};
  Completion c2;
  p.job_ended(j2, a2, c2);
  Job j1 = job(1, {"a"});
  Attempt a1{1, 1, 1, Command{"echo a", {}}};
  Completion c1;
  p.job_ended(j1, a1, c1);
  CHECK(out.text() == "echo a\necho 'b c'\n");
}

TEST_CASE("--line-buffer lines are tagged with the record running on that worker") {
  Capture out, err;
  OutputPrinter p({.tag = true}, out.fds[1], err.fds[1]);
  p.job_started(job(1, {"x"}), Attempt{1, 1, 2, {}});
  p.job_started(job(2, {"y"}), Attempt{2, 1, 1, {}});
  p.lines(2, Stream::kStdout, "from x\n");
  p.lines(1, Stream::kStdout, "from y\nmore y\n");
  p.lines(1, Stream::kStderr, "err y\n");
  CHECK(out.text() == "x\tfrom x\ny\tfrom y\ny\tmore y\n");
  CHECK(err.text() == "y\terr y\n");
}

TEST_CASE("a closed pipe is reported as BrokenPipe, other write errors as Error") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  CHECK_THROWS_AS(write_all(fds[1], "x", "test"), BrokenPipe);
  close(fds[1]);
  CHECK_THROWS_AS(write_all(-1, "x", "test"), Error);
}

TEST_CASE("-k: a skipped job holds nothing back; what never ended is printed at the finish") {
  Capture out, err;
  OutputPrinter p({true, false, false}, out.fds[1], err.fds[1]);
  finish(p, 2, "two\n");
  p.skip(1);  // --resume: job 1 is done already
  finish(p, 4, "four\n");
  CHECK(p.held() == 1);
  // Job 3 never ends (the run stopped, or priorities started 4 first): 4 is printed at the end.
  p.finish();
  CHECK(p.held() == 0);
  CHECK(out.text() == "two\nfour\n");
}

}  // namespace
}  // namespace taskpool
