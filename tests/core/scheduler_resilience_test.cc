// The scheduler's resilience policies with a fake executor and a fake clock: retries and backoff,
// timeouts, rate pacing, the deadline, --halt and skipped jobs.
#include <doctest/doctest.h>

#include <map>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeExecutor;
using testing::ListJobSource;
using testing::Outcome;
using testing::RecordingObserver;

// Runs `jobs` jobs whose attempts go as `script(seq, attempt)` says.
struct Run : testing::ScriptedRun {
  using ScriptedRun::ScriptedRun;

  RunStats go(SchedulerOptions options, Scheduler::StopCheck stop = {}) {
    if (!options.random) options.random = [] { return 1.0; };  // no jitter: exact schedules
    return run(options, std::move(stop));
  }
  double at(size_t start_index) const {
    return to_seconds(executor.starts.at(start_index).at - start);
  }
  // The start times of `seq`'s attempts, in seconds from the run's start.
  std::vector<double> attempts_of(uint64_t seq) const {
    std::vector<double> times;
    for (const auto& s : executor.starts) {
      if (s.seq == seq) times.push_back(to_seconds(s.at - start));
    }
    return times;
  }
};

SchedulerOptions workers(int n) {
  SchedulerOptions options;
  options.workers = n;
  return options;
}

// An executor whose attempts ignore SIGTERM: only SIGKILL ends them.
struct Stubborn final : Executor {
  explicit Stubborn(FakeExecutor& e) : inner(e) {}
  void start(const Attempt& a) override { inner.start(a); }
  void cancel(WorkerId w, CancelMode m) override {
    modes.push_back(m);
    if (m == CancelMode::kKill) inner.cancel(w, m);
  }
  WaitResult wait(TimePoint d, std::span<pollfd> w = {}) override { return inner.wait(d, w); }
  void wake() override {}
  FakeExecutor& inner;
  std::vector<CancelMode> modes;
};

TEST_CASE("a job that succeeds on its third attempt passes with 2 retries, fails with 1") {
  const auto flaky = [](uint64_t, int attempt) { return Outcome{1s, attempt >= 3 ? 0 : 1}; };
  SchedulerOptions options = workers(1);
  options.retry.backoff = 0s;
  options.retry.retries = 2;
  {
    Run run(1, flaky);
    const RunStats stats = run.go(options);
    CHECK(stats.succeeded == 1);
    CHECK(stats.failed == 0);
    CHECK(stats.attempts == 3);
    CHECK(stats.retried == 1);
    CHECK(run.observer.ended == std::vector<uint64_t>{1});  // reported once, at the end
  }
  options.retry.retries = 1;
  {
    Run run(1, flaky);
    const RunStats stats = run.go(options);
    CHECK(stats.succeeded == 0);
    CHECK(stats.failed == 1);
    CHECK(stats.attempts == 2);
    CHECK(run.observer.exit_statuses == std::vector<int>{1});
  }
}

TEST_CASE("retries follow the doubling backoff schedule") {
  Run run(1, [](uint64_t, int) { return Outcome{1s, 1}; });
  SchedulerOptions options = workers(1);
  options.retry = {4, 1s, 3s};
  const RunStats stats = run.go(options);
  CHECK(stats.attempts == 5);
  // Each attempt takes 1 s; the waits are 1, 2, 3 (capped), 3 s.
  const std::vector<double> expected{0, 2, 5, 9, 13};
  const std::vector<double> got = run.attempts_of(1);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]));
}

TEST_CASE("a job waiting for its retry does not hold a worker") {
  // With one worker: job 1 fails at 1 s and waits 10 s; job 2 runs in the meantime.
  Run run(2, [](uint64_t seq, int attempt) {
    return Outcome{1s, seq == 1 && attempt == 1 ? 1 : 0};
  });
  SchedulerOptions options = workers(1);
  options.retry = {1, 10s, 60s};
  const RunStats stats = run.go(options);
  REQUIRE(run.executor.starts.size() == 3);
  CHECK(run.executor.starts[1].seq == 2);
  CHECK(run.at(1) == doctest::Approx(1));
  CHECK(run.executor.starts[2].seq == 1);
  CHECK(run.executor.starts[2].number == 2);
  CHECK(run.at(2) == doctest::Approx(11));
  CHECK(stats.succeeded == 2);
  // Only busy time counts: 3 attempts of 1 s over a 12 s run.
  CHECK(to_seconds(stats.busy) == doctest::Approx(3));
}

TEST_CASE("backoff jitter spreads retries of jobs that failed together") {
  Run run(4, [](uint64_t, int attempt) { return Outcome{1s, attempt == 1 ? 1 : 0}; });
  SchedulerOptions options = workers(4);
  options.retry = {1, 8s, 60s};
  std::vector<double> randoms{0.0, 0.3, 0.6, 0.99};
  size_t next = 0;
  options.random = [&] { return randoms.at(next++); };
  run.go(options);
  std::vector<double> retries;
  for (uint64_t seq = 1; seq <= 4; ++seq) retries.push_back(run.attempts_of(seq).at(1));
  // Delays of 8 s scaled into [4 s, 8 s]: 4, 5.2, 6.4, 7.96 after the failure at 1 s.
  CHECK(retries[0] == doctest::Approx(5));
  CHECK(retries[1] == doctest::Approx(6.2));
  CHECK(retries[2] == doctest::Approx(7.4));
  CHECK(retries[3] == doctest::Approx(8.96));
}

TEST_CASE("an attempt past its timeout is terminated, marked timed out, and retried") {
  Run run(1, [](uint64_t, int attempt) { return Outcome{attempt == 1 ? 100s : 1s, 0}; });
  SchedulerOptions options = workers(1);
  options.timeout = 2s;
  options.retry = {1, 0s, 0s};
  const RunStats stats = run.go(options);
  REQUIRE(run.executor.cancels.size() == 1);
  CHECK(run.executor.cancels[0].second == CancelMode::kTerminate);
  CHECK(stats.timed_out == 1);
  CHECK(stats.attempts == 2);
  CHECK(stats.succeeded == 1);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(3));
}

TEST_CASE("a timed-out attempt that ignores SIGTERM is killed after kill_after") {
  FakeClock clock;
  const TimePoint start = clock.now();
  FakeExecutor inner(clock, [](uint64_t, int) { return Outcome{1h, 0}; });
  Stubborn executor(inner);
  ListJobSource source(testing::numbered(1));
  struct : RunObserver {
    void on_job_end(const Job&, const Attempt&, Completion& c) override {
      timed_out = c.timed_out;
      signal = c.signal;
    }
    bool timed_out = false;
    int signal = 0;
  } observer;
  SchedulerOptions options = workers(1);
  options.timeout = 2s;
  options.kill_after = 3s;
  Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
  const RunStats stats = scheduler.run();
  CHECK(executor.modes == std::vector<CancelMode>{CancelMode::kTerminate, CancelMode::kKill});
  CHECK(to_seconds(stats.wall()) == doctest::Approx(5));
  CHECK(to_seconds(clock.now() - start) == doctest::Approx(5));
  CHECK(observer.timed_out);
  CHECK(observer.signal == 9);
  CHECK(stats.failed == 1);
}

TEST_CASE("the rate spreads starts evenly however many workers there are") {
  Run run(20, [](uint64_t, int) { return Outcome{1ms, 0}; });
  SchedulerOptions options = workers(8);
  options.rate = 10.0;
  const RunStats stats = run.go(options);
  REQUIRE(run.executor.starts.size() == 20);
  for (size_t i = 0; i < 20; ++i) CHECK(run.at(i) == doctest::Approx(0.1 * i));
  CHECK(to_seconds(stats.wall()) == doctest::Approx(1.901));
}

TEST_CASE("a burst lets that many start at once, then the rate paces the rest") {
  Run run(8, [](uint64_t, int) { return Outcome{10s, 0}; });
  SchedulerOptions options = workers(8);
  options.rate = 2.0;
  options.burst = 5;
  run.go(options);
  for (size_t i = 0; i < 5; ++i) CHECK(run.at(i) == doctest::Approx(0));
  CHECK(run.at(5) == doctest::Approx(0.5));
  CHECK(run.at(6) == doctest::Approx(1.0));
  CHECK(run.at(7) == doctest::Approx(1.5));
}

TEST_CASE("retries obey the rate too") {
  Run run(1, [](uint64_t, int attempt) { return Outcome{1ms, attempt < 3 ? 1 : 0}; });
  SchedulerOptions options = workers(4);
  options.rate = 1.0;
  options.retry = {5, 0s, 0s};
  run.go(options);
  CHECK(run.attempts_of(1) == std::vector<double>{0, 1, 2});
}

TEST_CASE("at the deadline nothing more starts, running attempts get SIGTERM, and counts add up") {
  Run run(6, [](uint64_t seq, int) { return Outcome{seq <= 2 ? 1s : 100s, 0}; });
  SchedulerOptions options = workers(2);
  options.deadline = 3s;
  const RunStats stats = run.go(options);
  // Jobs 1 and 2 end at 1 s; 3 and 4 run until the deadline; 5 and 6 never start.
  CHECK(run.executor.starts.size() == 4);
  CHECK(run.executor.cancels.size() == 2);
  CHECK(stats.succeeded == 2);
  CHECK(stats.failed == 2);
  CHECK(stats.killed == 2);
  CHECK(stats.not_started <= 2);  // read ahead or not, never started
  CHECK(stats.stop_cause == StopCause::kDeadline);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(3));
}

TEST_CASE("after the deadline, attempts that ignore SIGTERM are killed when the grace ends") {
  FakeClock clock;
  FakeExecutor inner(clock, [](uint64_t, int) { return Outcome{1h, 0}; });
  Stubborn executor(inner);
  ListJobSource source(testing::numbered(3));
  RecordingObserver observer;
  SchedulerOptions options = workers(2);
  options.deadline = 10s;
  options.grace = 4s;
  options.kill_after = 1s;  // for timeouts and signals, not the deadline
  Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
  const RunStats stats = scheduler.run();
  CHECK(executor.modes == std::vector<CancelMode>{CancelMode::kTerminate, CancelMode::kTerminate,
                                                  CancelMode::kKill, CancelMode::kKill});
  CHECK(to_seconds(stats.wall()) == doctest::Approx(14));
  CHECK(stats.killed == 2);
  CHECK(observer.ended.size() == 2);
}

TEST_CASE("jobs waiting for a retry when the run stops end as failed, reported once") {
  Run run(2, [](uint64_t seq, int) { return Outcome{seq == 1 ? 1s : 50s, seq == 1 ? 1 : 0}; });
  SchedulerOptions options = workers(2);
  options.retry = {3, 100s, 100s};
  options.deadline = 20s;
  const RunStats stats = run.go(options);
  CHECK(stats.jobs == 2);
  CHECK(stats.failed == 2);  // job 1 never got its retry; job 2 was ended at the deadline
  CHECK(stats.attempts == 2);
  CHECK(run.observer.ended.size() == 2);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(20));
}

TEST_CASE("--halt now,fail=1 terminates running jobs and takes the failing job's status") {
  Run run(5, [](uint64_t seq, int) { return Outcome{seq == 2 ? 1s : 30s, seq == 2 ? 7 : 0}; });
  SchedulerOptions options = workers(2);
  options.halt = {HaltPolicy::When::kNow, HaltPolicy::Count::kFail, 1, false};
  const RunStats stats = run.go(options);
  // Job 2 fails at 1 s: job 1 is terminated, job 3 never starts.
  CHECK(run.executor.starts.size() == 2);
  CHECK(stats.halt_exit_status == 7);
  CHECK(stats.stop_cause == StopCause::kHalt);
  CHECK(stats.killed == 1);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(1));
}

TEST_CASE("--halt soon lets running jobs finish; success and percentages set the status") {
  using When = HaltPolicy::When;
  using Count = HaltPolicy::Count;
  SUBCASE("soon,fail=2") {
    Run run(6, [](uint64_t seq, int) { return Outcome{1s, seq % 2 == 0 ? 1 : 0}; });
    SchedulerOptions options = workers(1);
    options.halt = {When::kSoon, Count::kFail, 2, false};
    const RunStats stats = run.go(options);
    CHECK(run.executor.starts.size() == 4);
    CHECK(run.executor.cancels.empty());
    CHECK(stats.failed == 2);
    // The failed jobs, not the ones the halt kept from starting (GNU parallel's status).
    CHECK(stats.halt_exit_status == 2);
  }
  SUBCASE("now,success=1") {
    Run run(4, [](uint64_t seq, int) { return Outcome{1s, seq < 3 ? 1 : 0}; });
    SchedulerOptions options = workers(1);
    options.halt = {When::kNow, Count::kSuccess, 1, false};
    const RunStats stats = run.go(options);
    CHECK(run.executor.starts.size() == 3);
    CHECK(stats.halt_exit_status == 0);
  }
  SUBCASE("soon,done=3") {
    Run run(6, [](uint64_t, int) { return Outcome{1s, 0}; });
    SchedulerOptions options = workers(1);
    options.halt = {When::kSoon, Count::kDone, 3, false};
    run.go(options);
    CHECK(run.executor.starts.size() == 3);
  }
  SUBCASE("soon,fail=50% of all jobs, with the percentage as the status") {
    struct Counted final : JobSource {
      ListJobSource inner{testing::numbered(10)};
      State poll(Record& r) override { return inner.poll(r); }
      uint64_t records_seen() const override { return 10; }  // the whole input is read
    } source;
    FakeClock clock;
    FakeExecutor executor(clock, [](uint64_t seq, int) { return Outcome{1s, seq > 2 ? 1 : 0}; });
    RecordingObserver observer;
    SchedulerOptions options = workers(1);
    options.halt = {When::kSoon, Count::kFail, 50, true};
    Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
    const RunStats stats = scheduler.run();
    CHECK(executor.starts.size() == 7);  // jobs 3..7 fail: 5 of 10
    CHECK(stats.halt_exit_status == 50);
  }
}

TEST_CASE("skipped jobs keep their numbers and are not run") {
  Run run(5, [](uint64_t, int) { return Outcome{1s, 0}; });
  SchedulerOptions options = workers(2);
  options.keep_order_window = 2;
  options.skip = [](uint64_t seq) { return seq == 2 || seq == 3; };
  const RunStats stats = run.go(options);
  std::vector<uint64_t> started;
  for (const auto& s : run.executor.starts) started.push_back(s.seq);
  CHECK(started == std::vector<uint64_t>{1, 4, 5});
  CHECK(stats.skipped == 2);
  CHECK(stats.jobs == 3);
  CHECK(stats.not_started == 0);
}

TEST_CASE("batch mode retries failed jobs in a later batch") {
  Run run(4, [](uint64_t seq, int attempt) { return Outcome{1s, seq == 1 && attempt == 1}; });
  SchedulerOptions options = workers(2);
  options.mode = DispatchMode::kBatch;
  options.retry = {1, 0s, 0s};
  const RunStats stats = run.go(options);
  CHECK(stats.succeeded == 4);
  CHECK(stats.attempts == 5);
  // Batches: {1, 2}, then the due retry of 1 with 3, then 4.
  CHECK(run.attempts_of(1) == std::vector<double>{0, 1});
  CHECK(run.attempts_of(4) == std::vector<double>{2});
}

TEST_CASE("ticks come at their interval even while nothing ends") {
  Run run(1, [](uint64_t, int) { return Outcome{10s, 0}; });
  struct Ticks final : RunObserver {
    void on_tick(TimePoint now) override { at.push_back(now); }
    std::vector<TimePoint> at;
  } ticks;
  SchedulerOptions options = workers(1);
  options.tick_interval = 3s;
  Scheduler scheduler(options, run.clock, run.executor, run.source, testing::command_for, ticks);
  scheduler.run();
  REQUIRE(ticks.at.size() == 3);  // at 3, 6 and 9 s; the job ends at 10 s
  for (size_t i = 0; i < 3; ++i) {
    CHECK(to_seconds(ticks.at[i] - run.start) == doctest::Approx(3.0 * static_cast<double>(i + 1)));
  }
}

}  // namespace
}  // namespace taskpool
