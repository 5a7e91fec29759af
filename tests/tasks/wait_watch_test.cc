// Every executor's wait() watches the caller's descriptors beside its own, and the scheduler
// hands the ready ones to SchedulerOptions::on_watched: a pipe stands for a server's socket.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "core/scheduler.h"
#include "core/unique_fd.h"
#include "tasks/dry_run_executor.h"
#include "tasks/fetch_executor.h"
#include "tasks/fetch_lanes.h"
#include "tasks/pipes.h"
#include "tasks/process_executor.h"
#include "tasks/refusing_executor.h"
#include "tests/core/fake_executor.h"
#include "tests/tasks/executor_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TimePoint watch_now() { return std::chrono::steady_clock::now(); }

// A pipe written to by another thread after `delay`: wait() must return for it, well before its
// deadline.
struct WatchedPipe {
  WatchedPipe() { REQUIRE(make_pipe(pipe) == 0); }
  ~WatchedPipe() {
    if (writer.joinable()) writer.join();
  }
  void write_after(Duration delay) {
    writer = std::thread([this, delay] {
      std::this_thread::sleep_for(delay);
      [[maybe_unused]] const ssize_t n = ::write(pipe.write.get(), "x", 1);
    });
  }
  Pipe pipe;
  std::thread writer;
};

// wait() with the pipe watched: it returns when the pipe is written to, nothing else having
// happened, with POLLIN in its revents.
void check_watch(Executor& executor) {
  WatchedPipe watched;
  std::vector<pollfd> fds{{watched.pipe.read.get(), POLLIN, 0}};
  // Nothing ready: revents stay zero when the deadline ends the wait.
  fds[0].revents = POLLERR;
  CHECK(executor.wait(watch_now() + 20ms, fds).empty());
  CHECK(fds[0].revents == 0);
  watched.write_after(50ms);
  const TimePoint before = watch_now();
  const WaitResult result = executor.wait(before + 20s, fds);
  CHECK(result.empty());
  CHECK((fds[0].revents & POLLIN) != 0);
  CHECK(watch_now() - before < 10s);
}

TEST_CASE("wait watches the caller's descriptors: process executor") {
  ProcessExecutor executor({}, testing::current_signal_mask());
  check_watch(executor);
}

TEST_CASE("wait watches the caller's descriptors: dry run, behind the refusing executor") {
  SteadyClock clock;
  RefusingExecutor executor(std::make_unique<DryRunExecutor>(clock, -1), clock);
  check_watch(executor);
}

TEST_CASE("wait watches the caller's descriptors: fetch executor") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  FetchOptions options;
  options.output_dir = dir.string();
  FetchExecutor executor(options, testing::current_signal_mask());
  check_watch(executor);
}

TEST_CASE("wait watches the caller's descriptors: fetch lanes") {
  FetchOptions options;
  options.output_dir = std::filesystem::temp_directory_path().string();
  options.lanes = 2;
  FetchLanes executor(options, testing::current_signal_mask());
  check_watch(executor);
}

// Jobs that come only after the watched descriptor was read: the source says "not yet" until then.
class GatedSource final : public JobSource {
 public:
  State poll(Record& out) override {
    if (!open || given) return given ? State::kEnd : State::kNotYet;
    given = true;
    out.fields = {"after"};
    return State::kReady;
  }
  bool open = false;
  bool given = false;
};

TEST_CASE("the scheduler calls on_watched between turns with the ready descriptors") {
  SteadyClock clock;
  DryRunExecutor executor(clock, -1);
  GatedSource source;
  testing::RecordingObserver observer;
  WatchedPipe watched;
  SchedulerOptions options;
  options.deadline = 30s;  // a bound, should the watch be missed
  std::vector<int> seen;
  options.watch = [&](std::vector<pollfd>& fds) {
    fds.push_back({watched.pipe.read.get(), POLLIN, 0});
  };
  options.on_watched = [&](std::span<const pollfd> fds) {
    for (const pollfd& fd : fds) {
      if (fd.revents == 0) continue;
      char byte;
      CHECK(::read(fd.fd, &byte, 1) == 1);
      seen.push_back(fd.fd);
      source.open = true;
    }
  };
  watched.write_after(50ms);
  Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
  const RunStats stats = scheduler.run();
  CHECK(seen == std::vector<int>{watched.pipe.read.get()});
  CHECK(stats.stop_cause == StopCause::kNone);
  CHECK(stats.succeeded == 1);
  CHECK(to_seconds(stats.wall()) < 10);
}

}  // namespace
}  // namespace taskpool
