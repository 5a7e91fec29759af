// The run's observers: the order of the fan-out, the status line cleared before other output,
// and the one place where the first error is latched.
#include "cli/observers.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

// A status line that marks where it was cleared, in the same pipe as the output around it.
class MarkingStatusLine final : public StatusLine {
 public:
  explicit MarkingStatusLine(int fd) : fd_(fd) {}
  void clear() override { REQUIRE(write(fd_, "<clear>", 7) == 7); }
  void restore() override { REQUIRE(write(fd_, "<restore>", 9) == 9); }

 private:
  int fd_;
};

// Notes its name in a shared trace at each call.
class TracingObserver final : public RunObserver {
 public:
  TracingObserver(std::string name, std::vector<std::string>& trace)
      : name_(std::move(name)), trace_(trace) {}
  void before_start(std::span<const StartingAttempt> starting) override {
    trace_.push_back(name_ + ".before_start " + std::to_string(starting.size()));
  }
  void on_start(const Job&, const Attempt&) override { trace_.push_back(name_ + ".start"); }
  void on_job_end(const Job&, const Attempt&, Completion&) override {
    trace_.push_back(name_ + ".end");
  }
  void on_tick(TimePoint) override { trace_.push_back(name_ + ".tick"); }

 private:
  std::string name_;
  std::vector<std::string>& trace_;
};

Completion failed_with(const std::string& error) {
  Completion c;
  c.worker = 1;
  c.started = false;
  c.exit_status = 127;
  c.error = error;
  return c;
}

Completion printing(const std::string& out) {
  Completion c;
  c.worker = 1;
  c.detail.stdout_data = std::make_unique<OutputBuffer>();
  c.detail.stdout_data->append(out);
  c.detail.stderr_data = std::make_unique<OutputBuffer>();
  return c;
}

TEST_CASE("the fan-out calls its observers in the order they were added, for every event") {
  std::vector<std::string> trace;
  TracingObserver a("a", trace);
  TracingObserver b("b", trace);
  ObserverFanOut fan_out;
  fan_out.add(a);
  fan_out.add(b);
  const Job job = testing::job(1, {"x"});
  const Attempt attempt{1, 1, 1, Command{"echo x", {}}};
  Completion completion;
  const std::vector<StartingAttempt> starting{{&job, &attempt}};
  fan_out.before_start(starting);
  fan_out.on_start(job, attempt);
  fan_out.on_job_end(job, attempt, completion);
  fan_out.on_tick(TimePoint{});
  CHECK(trace == std::vector<std::string>{"a.before_start 1", "b.before_start 1", "a.start",
                                          "b.start", "a.end", "b.end", "a.tick", "b.tick"});
}

TEST_CASE(
    "messages clear the status line first and restore it after, and only jobs that failed with a "
    "reason say so") {
  testing::Capture pipe;
  MarkingStatusLine status(pipe.fds[1]);
  RunFailure failure;
  MessageObserver messages(failure, status, pipe.fds[1]);
  const Job job = testing::job(3, {"x"});
  const Attempt attempt{3, 1, 2, Command{"false x", {}}};
  Completion exited;
  exited.worker = 2;
  exited.exit_status = 1;
  messages.on_retry(job, attempt, exited, 2s);
  messages.on_job_end(job, attempt, exited);  // named, with its status
  Completion missing = failed_with("nosuch: command not found");
  messages.on_job_end(job, attempt, missing);
  messages.on_workers_limited(8, 3, missing);
  messages.on_workers_limited(3, 2, missing);  // once
  CHECK(pipe.text() ==
        "<clear>taskpool: job 3 exited with status 1 (attempt 1); retrying in 2.00 s: false x\n"
        "<restore><clear>taskpool: job 3 failed (exit status 1): false x\n"
        "<restore><clear>taskpool: nosuch: command not found\n"
        "<restore><clear>taskpool: warning: no more processes could start (nosuch: command not "
        "found); running -j 3 instead of -j 8 (raise the process limit, ulimit -u, to run more)\n"
        "<restore>");
  CHECK_FALSE(failure.stops_run());
}

TEST_CASE("output clears the status line, and restores it, only for a job that prints something") {
  testing::Capture out;
  MarkingStatusLine status(out.fds[1]);
  RunFailure failure;
  OutputPrinter printer({}, out.fds[1], out.fds[1]);
  OutputObserver output(printer, failure, status);
  const Attempt attempt{1, 1, 1, Command{"echo", {}}};
  Completion quiet = printing("");
  output.on_job_end(testing::job(1, {"a"}), attempt, quiet);
  Completion loud = printing("hello\n");
  output.on_job_end(testing::job(2, {"b"}), Attempt{2, 1, 1, Command{"echo", {}}}, loud);
  CHECK(out.text() == "<clear>hello\n<restore>");
}

TEST_CASE("the first error is latched; a closed standard output silences everything after it") {
  RunFailure failure;
  NoStatusLine status;
  {
    MessageObserver messages(failure, status, -1);  // a write to a bad descriptor fails
    messages.say("first\n");
    messages.say("second\n");
  }
  CHECK(failure.stops_run());
  CHECK(failure.message() == "cannot write standard error: Bad file descriptor");
  failure.fail("a later error");
  CHECK(failure.message() == "cannot write standard error: Bad file descriptor");
  failure.input_failed("record 3: column 2 is 'x', not a number (--priority-col)");
  CHECK(failure.message() == "record 3: column 2 is 'x', not a number (--priority-col)");

  RunFailure closed;
  testing::Capture pipe;
  close(pipe.fds[0]);
  pipe.fds[0] = -1;
  MessageObserver messages(closed, status, pipe.fds[1]);
  signal(SIGPIPE, SIG_IGN);  // as in taskpool: a closed pipe is EPIPE
  messages.say("to nobody\n");
  CHECK(closed.broken_pipe());
  CHECK(closed.message().empty());
  bool ran = false;
  closed.guard([&] { ran = true; });
  CHECK_FALSE(ran);
}

TEST_CASE("-S: each job counts for the host of the worker its last attempt ran on") {
  HostTally tally({0, 1, 0}, 2);
  Completion c;
  for (const WorkerId worker : {1, 2, 3, 3}) {
    tally.on_job_end(testing::job(1, {"x"}), Attempt{1, 1, worker, Command{"x", {}}}, c);
  }
  CHECK(tally.jobs() == std::vector<uint64_t>{3, 1});
}

}  // namespace
}  // namespace taskpool
