#include "core/scheduler.h"

#include <doctest/doctest.h>

#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeExecutor;
using testing::ListJobSource;
using testing::Outcome;
using testing::RecordingObserver;

struct Harness {
  explicit Harness(std::vector<Duration> durations, std::vector<int> statuses = {})
      : durations_(std::move(durations)),
        statuses_(std::move(statuses)),
        executor(clock,
                 [this](uint64_t seq, int) {
                   Outcome o;
                   o.duration = durations_.at(seq - 1);
                   o.exit_status = statuses_.empty() ? 0 : statuses_.at(seq - 1);
                   return o;
                 }),
        source(testing::numbered(durations_.size())) {}

  RunStats run(SchedulerOptions options, Scheduler::StopCheck stop = {}) {
    Scheduler scheduler(std::move(options), clock, executor, source, testing::command_for, observer,
                        std::move(stop));
    return scheduler.run();
  }

  double seconds_since_start(TimePoint t) const { return to_seconds(t - start); }

 private:
  // Declared before executor, whose outcome function reads them.
  std::vector<Duration> durations_;
  std::vector<int> statuses_;

 public:
  FakeClock clock;
  TimePoint start = clock.now();
  FakeExecutor executor;
  ListJobSource source;
  RecordingObserver observer;
};

SchedulerOptions with(int workers, DispatchMode mode = DispatchMode::kPool) {
  SchedulerOptions options;
  options.workers = workers;
  options.mode = mode;
  return options;
}

TEST_CASE("pool mode starts the next job the moment a worker is free") {
  Harness h({3s, 1s, 1s, 1s});
  const RunStats stats = h.run(with(2));
  REQUIRE(h.executor.starts.size() == 4);
  // Job 1 holds worker 1 for 3 s; jobs 2, 3, 4 follow each other on worker 2.
  CHECK(h.executor.starts[0].worker == 1);
  CHECK(h.seconds_since_start(h.executor.starts[1].at) == doctest::Approx(0));
  CHECK(h.executor.starts[2].worker == 2);
  CHECK(h.seconds_since_start(h.executor.starts[2].at) == doctest::Approx(1));
  CHECK(h.seconds_since_start(h.executor.starts[3].at) == doctest::Approx(2));
  CHECK(to_seconds(stats.wall()) == doctest::Approx(3));
  CHECK(stats.jobs == 4);
  CHECK(stats.succeeded == 4);
}

// Hears of each turn's starts as the scheduler announces them, and of what the executor had
// been given by then.
class TurnObserver final : public RunObserver {
 public:
  explicit TurnObserver(const FakeExecutor& executor) : executor_(executor) {}
  void before_start(std::span<const StartingAttempt> starting) override {
    Turn turn;
    turn.executor_starts = executor_.starts.size();
    for (const StartingAttempt& s : starting) {
      turn.jobs.emplace_back(s.job->seq, s.attempt->number, s.attempt->worker);
      CHECK(s.attempt->seq == s.job->seq);
      CHECK(s.attempt->command.line ==
            "job " + s.job->record.fields.at(0) + " on " + std::to_string(s.attempt->worker));
    }
    turns.push_back(std::move(turn));
  }
  void on_start(const Job& job, const Attempt&) override {
    // Each start comes after its turn was announced, and right after the executor's.
    REQUIRE(!turns.empty());
    CHECK(executor_.starts.back().seq == job.seq);
    started_after.push_back(turns.size());
  }

  struct Turn {
    size_t executor_starts = 0;  // attempts the executor had started before this turn's
    std::vector<std::tuple<uint64_t, int, WorkerId>> jobs;  // seq, attempt number, worker
  };
  std::vector<Turn> turns;
  std::vector<size_t> started_after;  // on_start: the number of turns announced then

 private:
  const FakeExecutor& executor_;
};

TEST_CASE("a turn's starts are told to the observer together, before the executor starts any") {
  FakeClock clock;
  // Job 2's first attempt fails: its retry is a start of a later turn, with its number.
  FakeExecutor executor(clock, [](uint64_t seq, int attempt) {
    Outcome o;
    o.duration = seq == 1 ? 3s : 1s;
    o.exit_status = seq == 2 && attempt == 1 ? 1 : 0;
    return o;
  });
  ListJobSource source(testing::numbered(4));
  TurnObserver observer(executor);
  SchedulerOptions options = with(3);
  options.retry.retries = 1;
  options.retry.backoff = 0s;
  Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
  const RunStats stats = scheduler.run();
  CHECK(stats.succeeded == 4);
  REQUIRE(observer.turns.size() == 2);
  // The first turn: three jobs announced while the executor had started none of them.
  CHECK(observer.turns[0].executor_starts == 0);
  using Start = std::tuple<uint64_t, int, WorkerId>;
  CHECK(observer.turns[0].jobs == std::vector<Start>{{1, 1, 1}, {2, 1, 2}, {3, 1, 3}});
  // After 1 s jobs 2 and 3 end: job 2's retry and job 4 share the next turn.
  CHECK(observer.turns[1].executor_starts == 3);
  CHECK(observer.turns[1].jobs == std::vector<Start>{{2, 2, 2}, {4, 1, 3}});
  CHECK(observer.started_after == std::vector<size_t>{1, 1, 1, 2, 2});
  REQUIRE(executor.starts.size() == 5);
}

TEST_CASE("batch mode waits for the whole batch before starting the next") {
  Harness h({3s, 1s, 1s, 1s});
  const RunStats stats = h.run(with(2, DispatchMode::kBatch));
  REQUIRE(h.executor.starts.size() == 4);
  CHECK(h.seconds_since_start(h.executor.starts[1].at) == doctest::Approx(0));
  CHECK(h.seconds_since_start(h.executor.starts[2].at) == doctest::Approx(3));
  CHECK(h.seconds_since_start(h.executor.starts[3].at) == doctest::Approx(3));
  CHECK(to_seconds(stats.wall()) == doctest::Approx(4));
  // 6 busy worker-seconds out of 2 workers x 4 s.
  CHECK(stats.utilization() == doctest::Approx(0.75));
  CHECK(to_seconds(stats.idle()) == doctest::Approx(2));
}

TEST_CASE("batch mode runs a short last batch") {
  Harness h({1s, 1s, 1s, 1s, 1s});
  const RunStats stats = h.run(with(2, DispatchMode::kBatch));
  CHECK(h.executor.starts.size() == 5);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(3));
}

TEST_CASE("-j is respected at every instant, and pool is never slower than batch") {
  std::mt19937 random(42);
  std::uniform_int_distribution<int> millis(1, 2000);
  std::vector<Duration> durations;
  for (int i = 0; i < 200; ++i) durations.emplace_back(std::chrono::milliseconds(millis(random)));
  for (int workers : {1, 3, 8}) {
    CAPTURE(workers);
    Harness pool(durations);
    const RunStats pool_stats = pool.run(with(workers));
    Harness batch(durations);
    const RunStats batch_stats = batch.run(with(workers, DispatchMode::kBatch));
    CHECK(pool.executor.max_running == static_cast<size_t>(workers));
    CHECK(batch.executor.max_running == static_cast<size_t>(workers));
    CHECK(pool_stats.jobs == 200);
    CHECK(batch_stats.jobs == 200);
    CHECK(pool_stats.wall() <= batch_stats.wall());
    if (workers > 1) CHECK(pool_stats.wall() < batch_stats.wall());
    // Every worker number stays within 1..N.
    for (const auto& s : pool.executor.starts) CHECK((s.worker >= 1 && s.worker <= workers));
  }
}

TEST_CASE("with one worker jobs run strictly one after another, in input order") {
  Harness h({2s, 1s, 3s});
  h.run(with(1));
  CHECK(h.observer.started == std::vector<uint64_t>{1, 2, 3});
  CHECK(h.seconds_since_start(h.executor.starts[1].at) == doctest::Approx(2));
  CHECK(h.seconds_since_start(h.executor.starts[2].at) == doctest::Approx(3));
}

TEST_CASE("the command is built with the job and the worker it runs on") {
  Harness h({1s, 1s, 1s});
  h.run(with(2));
  CHECK(h.executor.starts[0].line == "job 1 on 1");
  CHECK(h.executor.starts[1].line == "job 2 on 2");
  CHECK(h.executor.starts[2].line == "job 3 on 1");
}

TEST_CASE("the keep-order window stops a fast job from running too far ahead") {
  // Job 1 takes 10 s; with a window of 3, job 4 may not start before job 1 has ended.
  Harness h({10s, 1s, 1s, 1s, 1s});
  SchedulerOptions options = with(2);
  options.keep_order_window = 3;
  const RunStats stats = h.run(options);
  REQUIRE(h.executor.starts.size() == 5);
  CHECK(h.executor.starts[3].seq == 4);
  CHECK(h.seconds_since_start(h.executor.starts[3].at) == doctest::Approx(10));
  CHECK(stats.jobs == 5);
}

TEST_CASE("the keep-order window is never smaller than the number of workers") {
  Harness h({1s, 1s, 1s, 1s});
  SchedulerOptions options = with(4);
  options.keep_order_window = 1;
  h.run(options);
  CHECK(h.executor.max_running == 4);
}

TEST_CASE("statistics count successes, failures, attempts and latency") {
  Harness h({1s, 2s, 3s, 4s}, {0, 1, 0, 7});
  const RunStats stats = h.run(with(4));
  CHECK(stats.jobs == 4);
  CHECK(stats.succeeded == 2);
  CHECK(stats.failed == 2);
  CHECK(stats.attempts == 4);
  CHECK(stats.latency.count() == 4);
  CHECK(to_seconds(stats.latency.min()) == doctest::Approx(1));
  CHECK(to_seconds(stats.latency.max()) == doctest::Approx(4));
  CHECK(to_seconds(stats.busy) == doctest::Approx(10));
  CHECK(stats.utilization() == doctest::Approx(10.0 / 16.0));
  CHECK(h.observer.exit_statuses == std::vector<int>{0, 1, 0, 7});
}

TEST_CASE("a source that is not ready yet is polled again, and no job is lost") {
  FakeClock clock;
  FakeExecutor executor(clock, [](uint64_t, int) { return Outcome{}; });
  ListJobSource source(testing::numbered(5), 3);
  RecordingObserver observer;
  Scheduler scheduler(with(2), clock, executor, source, testing::command_for, observer);
  const RunStats stats = scheduler.run();
  CHECK(stats.jobs == 5);
  CHECK(observer.started == std::vector<uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("empty input runs nothing") {
  Harness h({});
  const RunStats stats = h.run(with(3));
  CHECK(stats.jobs == 0);
  CHECK(h.executor.starts.empty());
}

TEST_CASE("a graceful stop starts nothing more and lets running jobs finish") {
  Harness h({5s, 5s, 5s, 5s, 5s});
  h.executor.interrupt_at = h.start + 1s;
  const RunStats stats = h.run(with(2), [&] {
    return StopOrder{h.clock.now() >= h.start + 1s ? StopRequest::kGraceful : StopRequest::kNone};
  });
  CHECK(h.executor.starts.size() == 2);
  CHECK(h.executor.cancels.empty());
  CHECK(stats.jobs == 2);
  CHECK(stats.succeeded == 2);
  CHECK(stats.not_started == 0);  // the rest was never pulled from the source
  CHECK(to_seconds(stats.wall()) == doctest::Approx(5));
}

TEST_CASE("the stop check's cause is the run's stop cause; a later stop keeps the first") {
  Harness h({5s, 5s, 5s});
  h.executor.interrupt_at = h.start + 1s;
  SchedulerOptions options = with(2);
  options.deadline = 2s;  // comes after the stop check's stop, and ends the running jobs
  const RunStats stats = h.run(options, [&] {
    if (h.clock.now() < h.start + 1s) return StopOrder{};
    return StopOrder{StopRequest::kGraceful, StopCause::kOutputError};
  });
  CHECK(stats.stop_cause == StopCause::kOutputError);
  CHECK(h.executor.starts.size() == 2);
  CHECK(stats.killed == 2);  // by the deadline, which did not rename the cause
}

TEST_CASE("an immediate stop terminates running jobs, then kills what is left") {
  Harness h({5s, 5s, 5s});
  h.executor.interrupt_at = h.start + 1s;
  SchedulerOptions options = with(2);
  options.kill_after = 2s;
  const RunStats stats = h.run(options, [&] {
    return StopOrder{h.clock.now() >= h.start + 1s ? StopRequest::kImmediate : StopRequest::kNone};
  });
  CHECK(h.executor.starts.size() == 2);
  REQUIRE(h.executor.cancels.size() == 2);
  CHECK(h.executor.cancels[0].second == CancelMode::kTerminate);
  CHECK(h.executor.cancels[1].second == CancelMode::kTerminate);
  CHECK(stats.jobs == 2);
  CHECK(stats.failed == 2);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(1));
}

TEST_CASE("attempts that ignore the terminate request are killed after kill_after") {
  FakeClock clock;
  const TimePoint start = clock.now();
  FakeExecutor executor(clock, [](uint64_t, int) { return Outcome{std::chrono::hours(1), 0}; });
  // This executor's attempts survive SIGTERM: only a kill ends them.
  struct Stubborn final : Executor {
    FakeExecutor& inner;
    std::vector<CancelMode> modes;
    explicit Stubborn(FakeExecutor& e) : inner(e) {}
    void start(const Attempt& a) override { inner.start(a); }
    void cancel(WorkerId w, CancelMode m) override {
      modes.push_back(m);
      if (m == CancelMode::kKill) inner.cancel(w, m);
    }
    WaitResult wait(TimePoint d, std::span<pollfd> w = {}) override { return inner.wait(d, w); }
    void wake() override {}
  } stubborn(executor);
  executor.interrupt_at = start + 1s;
  ListJobSource source(testing::numbered(1));
  RecordingObserver observer;
  SchedulerOptions options = with(1);
  options.kill_after = 3s;
  Scheduler scheduler(options, clock, stubborn, source, testing::command_for, observer, [&] {
    return StopOrder{clock.now() >= start + 1s ? StopRequest::kImmediate : StopRequest::kNone};
  });
  const RunStats stats = scheduler.run();
  CHECK(stubborn.modes == std::vector<CancelMode>{CancelMode::kTerminate, CancelMode::kKill});
  CHECK(to_seconds(stats.wall()) == doctest::Approx(4));
  CHECK(stats.failed == 1);
}

}  // namespace
}  // namespace taskpool
