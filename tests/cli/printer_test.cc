#include "cli/printer.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using testing::Capture;
using testing::job;

Completion output(WorkerId worker, const std::string& out, const std::string& err = "") {
  Completion c;
  c.worker = worker;
  c.detail.stdout_data = std::make_unique<OutputBuffer>();
  c.detail.stdout_data->append(out);
  c.detail.stderr_data = std::make_unique<OutputBuffer>();
  c.detail.stderr_data->append(err);
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

// A joblog in a temporary directory, read back as the jobs it lists.
struct TempJoblog {
  std::string dir = "/tmp/taskpool-printer-XXXXXX";
  std::string path;
  TempJoblog() {
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    path = dir + "/log";
  }
  ~TempJoblog() {
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  std::vector<uint64_t> seqs() const {
    std::vector<uint64_t> out;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) out.push_back(std::stoull(line.substr(0, line.find('\t'))));
    return out;
  }
};

TEST_CASE("-k: a job's joblog line is written only once its output is printed, in input order") {
  TempJoblog log;
  Capture out, err;
  {
    JobLog joblog(log.path);
    OutputPrinter p({.keep_order = true}, out.fds[1], err.fds[1]);
    p.set_joblog(&joblog);
    finish(p, 2, "two\n");
    finish(p, 3, "three\n");
    // Held behind job 1: a run killed now must not find 2 and 3 done in the joblog.
    CHECK(log.seqs().empty());
    finish(p, 1, "one\n");
    CHECK(log.seqs() == std::vector<uint64_t>{1, 2, 3});
    finish(p, 5, "five\n");
    p.finish();  // the run stopped before job 4 ended: 5 is printed, then logged
    CHECK(log.seqs() == std::vector<uint64_t>{1, 2, 3, 5});
  }
  CHECK(out.text() == "one\ntwo\nthree\nfive\n");
}

TEST_CASE("a job whose output could not be printed gets no joblog line") {
  TempJoblog log;
  JobLog joblog(log.path);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  close(fds[0]);  // nobody reads: EPIPE
  signal(SIGPIPE, SIG_IGN);
  OutputPrinter p({}, fds[1], fds[1]);
  p.set_joblog(&joblog);
  CHECK_THROWS_AS(finish(p, 1, "lost\n"), BrokenPipe);
  close(fds[1]);
  CHECK(log.seqs().empty());
}

TEST_CASE("-k: held output past the memory budget waits in temporary files, and prints whole") {
  Capture out, err;
  OutputPrinter p({.keep_order = true}, out.fds[1], err.fds[1], /*held_memory_budget=*/100);
  const std::string sixty(60, 'x');
  finish(p, 2, sixty + "\n");
  CHECK(p.held_memory() == 61);
  const std::string forty_five(45, 't');
  finish(p, 3, forty_five + "\n", "e3\n");  // its stdout would pass the budget: to a file
  CHECK(p.held_memory() == 64);
  finish(p, 4, "4\n");
  CHECK(p.held_memory() == 66);
  finish(p, 1, "one\n");
  CHECK(p.held() == 0);
  CHECK(p.held_memory() == 0);
  CHECK(out.text() == "one\n" + sixty + "\n" + forty_five + "\n4\n");
  CHECK(err.text() == "e3\n");
}

}  // namespace
}  // namespace taskpool
