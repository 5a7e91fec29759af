// --timeout N% and the start gate of --load and --memfree, with a fake executor, a fake clock
// and fake readings of the machine: the limit follows the median of the successful runtimes,
// a closed gate holds starts back without spinning, and short memory ends the youngest job.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::Outcome;
using testing::ScriptedRun;

// Readings that say what the test's functions say, counted.
struct FakeReadings final : MachineReadings {
  std::function<std::optional<double>()> load_now = [] { return 0.0; };
  std::function<std::optional<uint64_t>()> memory_now = [] { return uint64_t{1} << 40; };
  int loads = 0;
  int memories = 0;
  std::optional<double> load() override {
    ++loads;
    return load_now();
  }
  std::optional<uint64_t> available_memory() override {
    ++memories;
    return memory_now();
  }
};

struct GateRun : ScriptedRun {
  using ScriptedRun::ScriptedRun;
  std::shared_ptr<FakeReadings> readings = std::make_shared<FakeReadings>();

  double since_start() const { return to_seconds(clock.now() - start); }
  std::vector<double> start_times() const {
    std::vector<double> times;
    for (const auto& s : executor.starts) times.push_back(to_seconds(s.at - start));
    return times;
  }
  SchedulerOptions options(int workers) const {
    SchedulerOptions o;
    o.workers = workers;
    o.random = [] { return 1.0; };
    o.gate.readings = readings;
    return o;
  }
};

Outcome lasting(Duration d) { return Outcome{d, 0}; }

TEST_CASE("--timeout N%: no limit before the first success, then N% of the median") {
  // Job 1 runs 100 s alone: nothing has succeeded, so nothing limits it.
  GateRun first(3, [](uint64_t seq, int) { return lasting(seq == 1 ? 100s : 1s); });
  SchedulerOptions options = first.options(1);
  options.timeout_percent = 200;
  RunStats stats = first.run(options);
  CHECK(stats.timed_out == 0);
  CHECK(stats.succeeded == 3);

  // Runtimes 1, 1 and 9 s succeed under 1000% (the limit is 10 s after the first), then a 12 s
  // attempt is ended at 10 s: the median is 1 s (the mean, 3.7 s, would allow 37 s).
  GateRun median(4, [](uint64_t seq, int) { return lasting(seq <= 2 ? 1s : seq == 3 ? 9s : 12s); });
  options.timeout_percent = 1000;
  stats = median.run(options);
  CHECK(stats.timed_out == 1);
  CHECK(stats.succeeded == 3);
  REQUIRE(median.executor.cancels.size() == 1);
  CHECK(median.executor.cancels[0].second == CancelMode::kTerminate);
  CHECK(median.since_start() == doctest::Approx(1 + 1 + 9 + 10));
}

TEST_CASE("--timeout N%: a running attempt's limit follows the median as jobs succeed") {
  // -j2: job 1 runs 50 s; job 2 succeeds in 1 s, which makes job 1's limit 2 s after its start.
  GateRun run(3, [](uint64_t seq, int) { return lasting(seq == 1 ? 50s : 1s); });
  SchedulerOptions options = run.options(2);
  options.timeout_percent = 200;
  const RunStats stats = run.run(options);
  CHECK(stats.timed_out == 1);
  CHECK(stats.failed == 1);
  CHECK(run.since_start() == doctest::Approx(2));
  // A timed-out attempt teaches nothing: the failed ones do not count towards the median.
  CHECK(stats.succeeded == 2);
}

TEST_CASE("--load: nothing starts while the load is at the limit, and the run does not spin") {
  GateRun run(3, [](uint64_t, int) { return lasting(1s); });
  run.readings->load_now = [&run] { return run.since_start() < 10 ? 5.0 : 0.0; };
  SchedulerOptions options = run.options(2);
  options.gate.max_load = 2;
  run.run(options);
  const std::vector<double> starts = run.start_times();
  REQUIRE(starts.size() == 3);
  CHECK(starts[0] == doctest::Approx(10));
  // Read once a second while it waited: about ten readings and ten waits, not thousands.
  CHECK(run.readings->loads <= 14);
  CHECK(run.executor.waits <= 16);
  CHECK(run.readings->memories == 0);  // no --memfree: memory is never read
}

TEST_CASE("--load: jobs started since the reading count as running processes") {
  GateRun run(4, [](uint64_t, int) { return lasting(10s); });
  SchedulerOptions options = run.options(4);
  options.gate.max_load = 2;  // the readings say 0: only the jobs started count
  run.run(options);
  // Two start at once, two more at the next reading a second later.
  CHECK(run.start_times() == std::vector<double>{0, 0, 1, 1});
}

TEST_CASE("--memfree: no job starts while less than SIZE is available") {
  GateRun run(2, [](uint64_t, int) { return lasting(1s); });
  run.readings->memory_now = [&run] { return uint64_t{run.since_start() < 5 ? 60u : 100u}; };
  SchedulerOptions options = run.options(2);
  options.gate.memfree = 100;
  const RunStats stats = run.run(options);
  CHECK(run.start_times() == std::vector<double>{5, 5});
  // 60 is more than half of 100: nothing was killed.
  CHECK(run.executor.cancels.empty());
  CHECK(stats.succeeded == 2);
}

TEST_CASE("--memfree: below half of SIZE the youngest job is terminated, one at a time") {
  GateRun run(3, [](uint64_t, int attempt) { return lasting(attempt == 1 ? 100s : 1s); });
  // 40 of 100 from 5 s on, until one job has been killed: then it is plenty again.
  run.readings->memory_now = [&run] {
    if (!run.executor.cancels.empty()) return uint64_t{100};
    return uint64_t{run.since_start() < 5 ? 100u : 40u};
  };
  SchedulerOptions options = run.options(3);
  options.gate.memfree = 100;
  options.retry = {1, 0s, 0s};
  const RunStats stats = run.run(options);
  REQUIRE(run.executor.cancels.size() == 1);
  CHECK(run.executor.cancels[0].second == CancelMode::kTerminate);
  // The youngest is job 3: it is started again (its retry), the others ran their 100 s.
  REQUIRE(run.executor.starts.size() == 4);
  CHECK(run.executor.cancels[0].first == run.executor.starts[2].worker);
  CHECK(run.executor.starts[3].seq == 3);
  CHECK(run.executor.starts[3].number == 2);
  CHECK(run.executor.starts[3].at - run.start >= 5s);
  CHECK(run.executor.starts[3].at - run.start < 7s);
  CHECK(stats.attempts == 4);
  CHECK(stats.succeeded == 3);
}

TEST_CASE("--memfree: while memory stays short, the next youngest goes only after the last ends") {
  GateRun run(3, [](uint64_t, int) { return lasting(100s); });
  struct Flags final : RunObserver {
    void on_job_end(const Job&, const Attempt& a, Completion& c) override {
      if (c.short_of_memory) killed.push_back(a.seq);
    }
    std::vector<uint64_t> killed;
  } observer;
  SchedulerOptions options = run.options(3);
  options.gate.memfree = 100;
  // Plenty while the jobs start; from 3 s on, 10 of 100 (the loop wakes at each reading while
  // jobs run, so it sees the change).
  bool plenty = true;
  run.readings->memory_now = [&] { return uint64_t{plenty ? 1000u : 10u}; };
  Scheduler scheduler(options, run.clock, run.executor, run.source, testing::command_for, observer,
                      [&] {
                        if (run.since_start() >= 3) plenty = false;
                        return StopOrder{};
                      });
  const RunStats stats = scheduler.run();
  // Killed youngest first, 3, 2, then 1, each after the one before had ended.
  CHECK(observer.killed == std::vector<uint64_t>{3, 2, 1});
  CHECK(run.executor.cancels.size() == 3);
  CHECK(run.since_start() == doctest::Approx(3));
  CHECK(stats.failed == 3);
}

}  // namespace
}  // namespace taskpool
