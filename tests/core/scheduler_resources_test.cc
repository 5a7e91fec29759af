// Attempts that cannot start for a lack of resources (fork's EAGAIN under `ulimit -u`, ENOMEM):
// they do not count, their jobs wait while starts are held back, the pool shrinks to what the
// machine lets the run have, and a job that can never start fails after a bounded time.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::Outcome;

// A machine that runs at most `capacity` attempts at once: one more is short of resources.
struct LimitedMachine {
  size_t capacity;
  Duration duration;
  std::set<uint64_t> running;  // the jobs holding a process

  Outcome start(uint64_t seq) {
    Outcome outcome;
    if (running.size() >= capacity) {
      outcome.short_of_resources = true;
      return outcome;
    }
    running.insert(seq);
    outcome.duration = duration;
    return outcome;
  }
};

struct ShortageRun : testing::ScriptedRun {
  using ScriptedRun::ScriptedRun;

  // Start times relative to the run's start.
  std::vector<Duration> start_times() const {
    std::vector<Duration> times;
    for (const auto& s : executor.starts) times.push_back(s.at - start);
    return times;
  }
};

// A script whose attempts are short of resources for the first `failures` starts of each job.
std::function<Outcome(uint64_t, int)> short_at_first(int failures) {
  auto calls = std::make_shared<std::map<uint64_t, int>>();
  return [calls, failures](uint64_t seq, int) {
    Outcome outcome;
    outcome.short_of_resources = ++(*calls)[seq] <= failures;
    return outcome;
  };
}

// Attempts that take `duration`, but the first start of job `seq` is short of resources.
std::function<Outcome(uint64_t, int)> short_once(uint64_t seq, Duration duration) {
  auto first = short_at_first(1);
  return [first, seq, duration](uint64_t s, int n) {
    Outcome outcome = s == seq ? first(s, n) : Outcome{};
    outcome.duration = duration;
    return outcome;
  };
}

TEST_CASE("an attempt short of resources does not count, and its job starts again after a hold") {
  ShortageRun r(1, short_at_first(1));
  SchedulerOptions options;  // no retries: a counted failure would end the job
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 1);
  CHECK(stats.failed == 0);
  CHECK(stats.attempts == 1);
  CHECK(stats.retried == 0);
  REQUIRE(r.executor.starts.size() == 2);
  CHECK(r.executor.starts[1].number == 1);  // the same attempt, again
  CHECK(r.start_times() == std::vector<Duration>{0s, Scheduler::kFirstHold});
  CHECK(r.observer.returned == std::vector<uint64_t>{1});
  CHECK(r.observer.limits.empty());
}

TEST_CASE("the hold doubles for each failure, up to a second, one attempt at a time") {
  ShortageRun r(3, short_at_first(11));
  SchedulerOptions options;
  options.workers = 3;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 3);
  CHECK(stats.attempts == 3);
  // All three fail together at once (one step of the backoff); then one attempt at a time, each
  // failure doubling the hold: 10, 20, 40 ... 640 ms, then 1 s, until the twelfth start of a
  // job succeeds.
  const std::vector<Duration> times = r.start_times();
  REQUIRE(times.size() > 14);
  CHECK(times[0] == 0s);
  CHECK(times[1] == 0s);
  CHECK(times[2] == 0s);
  std::vector<Duration> gaps;
  for (size_t i = 3; i < 14; ++i) gaps.push_back(times[i] - times[i - 1]);
  CHECK(gaps == std::vector<Duration>{10ms, 20ms, 40ms, 80ms, 160ms, 320ms, 640ms, 1s, 1s, 1s, 1s});
  for (size_t i = 0; i < 14; ++i) CHECK(r.executor.starts[i].seq == (i < 3 ? i + 1 : 3));
}

TEST_CASE("a shortage that lasts while jobs run shrinks the pool to the jobs running, once") {
  LimitedMachine machine{2, 5s, {}};
  ShortageRun r(20, [&machine](uint64_t seq, int) { return machine.start(seq); });
  r.executor.on_end = [&machine](uint64_t seq, WorkerId) { machine.running.erase(seq); };
  SchedulerOptions options;
  options.workers = 4;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 20);
  CHECK(stats.failed == 0);
  CHECK(stats.attempts == 20);
  CHECK(r.observer.limits == std::vector<std::pair<int, int>>{{4, 2}});
  REQUIRE(stats.worker_changes.size() == 1);
  CHECK(stats.worker_changes[0].workers == 2);
  // Shrunk after a second of failures, not before.
  CHECK(stats.worker_changes[0].at - r.start >= Scheduler::kShrinkAfter);
  CHECK(stats.worker_changes[0].at - r.start < Scheduler::kShrinkAfter + Scheduler::kLongestHold);
  // The failures came before the shrink (two at first, then one a hold apart): after it, a
  // worker is free only when a job has ended and given back its process.
  const size_t failures = r.executor.starts.size() - 20;
  CHECK(failures <= 10);
  for (const auto& s : r.executor.starts) {
    if (s.at > stats.worker_changes[0].at) CHECK(s.worker <= 2);
  }
}

TEST_CASE("a short shortage neither shrinks the pool nor slows it for long") {
  // Job 3's first start fails; a second without failures later, every free worker starts at
  // once again.
  ShortageRun r(40, short_once(3, 1500ms));
  SchedulerOptions options;
  options.workers = 4;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 40);
  CHECK(r.observer.limits.empty());
  CHECK(stats.worker_changes.empty());
  CHECK(r.executor.max_running == 4);
  // The last ten jobs ran four at a time.
  CHECK(r.executor.starts.back().at - r.start <= 10 * 1500ms + 100ms);
}

// Three jobs on two workers, with retries, that can never start: each fails, trying once.
RunStats never_starting(ShortageRun& r) {
  SchedulerOptions options;
  options.workers = 2;
  options.retry.retries = 3;
  RunStats stats = r.run(options);
  CHECK(stats.failed == 3);
  CHECK(stats.succeeded == 0);
  CHECK(stats.attempts == 3);
  CHECK(r.observer.exit_statuses == std::vector<int>{126, 126, 126});
  CHECK(r.observer.errors.size() == 3);
  return stats;
}

// A script whose every attempt is short of resources; of taskpool's own with `own`.
std::function<Outcome(uint64_t, int)> always_short(bool own) {
  return [own](uint64_t, int) {
    Outcome outcome;
    outcome.short_of_resources = true;
    outcome.own_shortage = own;
    return outcome;
  };
}

TEST_CASE("a job that can never start, with nothing of the run running, fails in bounded time") {
  ShortageRun r(3, always_short(false));
  const RunStats stats = never_starting(r);
  for (const std::string& error : r.observer.errors) {
    CHECK(error.find("Resource temporarily unavailable") != std::string::npos);
    CHECK(error.find("nothing could start for 10 s") != std::string::npos);
  }
  // The first job waited the patience out (and at most one more hold); the others failed at
  // once after it, trying once each.
  const Duration took = stats.end - r.start;
  CHECK(took >= Scheduler::kPatience);
  CHECK(took <= Scheduler::kPatience + Scheduler::kLongestHold);
  CHECK(r.executor.starts.size() < 40);
  CHECK(r.observer.limits.empty());
}

TEST_CASE("a shortage of taskpool's own, with nothing of the run running, fails the job at once") {
  // Its open-file limit: only the run's own jobs could give a descriptor back.
  ShortageRun r(3, always_short(true));
  const RunStats stats = never_starting(r);
  for (const std::string& error : r.observer.errors) {
    CHECK(
        error.find("Too many open files (with none of the run's jobs running to give one back)") !=
        std::string::npos);
  }
  CHECK(stats.end - r.start < Scheduler::kFirstHold * 4);  // no patience waited out
  // Two start together: the first back still counts the other as running, and waits once.
  CHECK(r.executor.starts.size() == 4);
}

TEST_CASE("a shortage of taskpool's own while jobs run waits for them, as any other") {
  // The first job holds descriptors for 2 s; the second cannot start until it ends.
  auto calls = std::make_shared<int>(0);
  ShortageRun r(2, [calls](uint64_t seq, int) {
    Outcome outcome;
    outcome.duration = 2s;
    if (seq == 2 && ++*calls <= 3) {
      outcome.short_of_resources = true;
      outcome.own_shortage = true;
    }
    return outcome;
  });
  SchedulerOptions options;
  options.workers = 2;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 2);
  CHECK(stats.failed == 0);
}

TEST_CASE("a retry short of resources keeps its attempt number") {
  auto calls = std::make_shared<int>(0);
  ShortageRun r(1, [calls](uint64_t, int) {
    Outcome outcome;
    ++*calls;
    outcome.exit_status = *calls == 1 ? 1 : 0;  // the first attempt fails
    outcome.short_of_resources = *calls == 2;   // the retry cannot start at first
    return outcome;
  });
  SchedulerOptions options;
  options.retry.retries = 1;
  options.retry.backoff = Duration::zero();
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 1);
  CHECK(stats.attempts == 2);
  CHECK(stats.retried == 1);
  REQUIRE(r.executor.starts.size() == 3);
  CHECK(r.executor.starts[1].number == 2);
  CHECK(r.executor.starts[2].number == 2);
}

TEST_CASE("in a batch, a job that could not start takes its place again before the batch ends") {
  ShortageRun r(2, short_once(2, 10s));
  SchedulerOptions options;
  options.workers = 2;
  options.mode = DispatchMode::kBatch;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 2);
  REQUIRE(r.executor.starts.size() == 3);
  CHECK(r.executor.starts[2].seq == 2);
  CHECK(r.executor.starts[2].at - r.start == Scheduler::kFirstHold);
}

TEST_CASE("with worker groups the pool keeps its workers through a shortage") {
  LimitedMachine machine{1, 3s, {}};
  ShortageRun r(6, [&machine](uint64_t seq, int) { return machine.start(seq); });
  r.executor.on_end = [&machine](uint64_t seq, WorkerId) { machine.running.erase(seq); };
  SchedulerOptions options;
  options.worker_groups = interleave_groups({1, 1});
  options.workers = 2;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 6);
  CHECK(stats.attempts == 6);
  CHECK(r.observer.limits.empty());
  CHECK(stats.worker_changes.empty());
}

}  // namespace
}  // namespace taskpool
