// Worker groups: the workers of one host, lost together when the host goes down.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::Outcome;

// Two hosts of two workers each: workers 1 and 3 are host 0, workers 2 and 4 host 1.
SchedulerOptions two_hosts(int per_host = 2) {
  SchedulerOptions options;
  options.worker_groups = interleave_groups({per_host, per_host});
  options.workers = static_cast<int>(options.worker_groups.size());
  options.retry.backoff = Duration::zero();
  return options;
}

struct Run : testing::ScriptedRun {
  explicit Run(size_t jobs, std::function<Outcome(uint64_t, int)> script = {})
      : ScriptedRun(
            jobs, script ? std::move(script) : [](uint64_t, int) { return Outcome{}; }) {}

  std::set<WorkerId> workers_used_after(TimePoint t) const {
    std::set<WorkerId> used;
    for (const auto& s : executor.starts) {
      if (s.at > t) used.insert(s.worker);
    }
    return used;
  }
};

TEST_CASE("interleave_groups takes the groups in turn") {
  CHECK(interleave_groups({3, 2, 1}) == std::vector<int>{0, 1, 2, 0, 1, 0});
  CHECK(interleave_groups({1, 3}) == std::vector<int>{0, 1, 1, 1});
  CHECK(interleave_groups({2}) == std::vector<int>{0, 0});
}

TEST_CASE("jobs spread over the groups while workers are free") {
  Run r(2);
  r.run(two_hosts());
  REQUIRE(r.executor.starts.size() == 2);
  // The two jobs go to different hosts, not to host 0's two workers.
  CHECK(r.executor.starts[0].worker == 1);
  CHECK(r.executor.starts[1].worker == 2);
}

TEST_CASE("a group's workers each run at most one attempt at a time, and all are used") {
  SchedulerOptions options;
  options.worker_groups = interleave_groups({3, 1});
  options.workers = 4;
  Run r(40);
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 40);
  CHECK(r.executor.max_running == 4);
  size_t on_group_1 = 0;
  for (const auto& s : r.executor.starts) on_group_1 += s.worker == 2 ? 1 : 0;
  CHECK(on_group_1 == 10);  // one worker of four, all jobs the same length
}

TEST_CASE("a lost group gets no more jobs; its failed attempt is retried on another group") {
  Run r(8);
  bool lost = false;
  r.executor.on_worker = [&](WorkerId worker, Outcome& outcome) {
    if (worker % 2 == 0 && !lost) {  // host 1's first attempt: the host dies under it
      lost = true;
      outcome.exit_status = 255;
      outcome.lost_worker = true;
    }
  };
  SchedulerOptions options = two_hosts();
  options.retry.retries = 1;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 8);
  CHECK(stats.failed == 0);
  CHECK(stats.retried == 1);
  CHECK(stats.attempts == 9);
  CHECK(stats.lost_groups == std::vector<int>{1});
  CHECK(stats.stop_cause == StopCause::kNone);
  // Host 1's other worker was running a job when the host was lost; that one ended normally
  // (the fake says so), but nothing started on host 1 after the loss.
  for (WorkerId w : r.workers_used_after(r.start)) CHECK(w % 2 == 1);
}

TEST_CASE("without retries, the attempt lost with its host fails the job") {
  Run r(4);
  r.executor.on_worker = [&](WorkerId worker, Outcome& outcome) {
    if (worker == 2) {
      outcome.exit_status = 255;
      outcome.lost_worker = true;
    }
  };
  const RunStats stats = r.run(two_hosts());
  CHECK(stats.failed == 1);
  CHECK(stats.succeeded == 3);
  CHECK(stats.lost_groups == std::vector<int>{1});
}

TEST_CASE("an attempt that never ran goes back to the queue and does not count") {
  Run r(4);
  r.executor.on_worker = [&](WorkerId worker, Outcome& outcome) {
    if (worker % 2 == 0) {  // host 1 cannot be reached
      outcome.duration = 0s;
      outcome.exit_status = 255;
      outcome.lost_worker = true;
      outcome.never_ran = true;
    }
  };
  const RunStats stats = r.run(two_hosts());
  CHECK(stats.succeeded == 4);
  CHECK(stats.failed == 0);
  CHECK(stats.attempts == 4);
  CHECK(stats.retried == 0);
  CHECK(stats.lost_groups == std::vector<int>{1});
  // Job 2 was handed to host 1 first, then ran on host 0 as its first attempt.
  std::vector<int> job2_attempts;
  for (const auto& s : r.executor.starts) {
    if (s.seq == 2) job2_attempts.push_back(s.number);
  }
  CHECK(job2_attempts == std::vector<int>{1, 1});
  CHECK(r.observer.ended.size() == 4);
}

TEST_CASE("when every group is lost the rest of the jobs are not started") {
  Run r(10);
  r.executor.on_worker = [&](WorkerId, Outcome& outcome) {
    outcome.exit_status = 255;
    outcome.lost_worker = true;
  };
  const RunStats stats = r.run(two_hosts());
  // One attempt per worker's first job (4 started at once); host 0 is lost with the first
  // completion, host 1 with the second.
  CHECK(r.executor.starts.size() == 4);
  CHECK(stats.stop_cause == StopCause::kNoWorkers);
  CHECK(stats.lost_groups.size() == 2);
  CHECK(stats.failed == 4);
  CHECK(stats.jobs == 4);
  // The list source reports no records read ahead: only the one pulled to see that jobs were
  // left counts (the reader's count covers the rest in a real run).
  CHECK(stats.not_started == 1);
}

TEST_CASE("every group lost after the last job ended is no stop") {
  Run r(2);
  r.executor.on_worker = [&](WorkerId, Outcome& outcome) { outcome.lost_worker = true; };
  const RunStats stats = r.run(two_hosts(1));
  CHECK(stats.succeeded == 2);
  CHECK(stats.stop_cause == StopCause::kNone);
  CHECK(stats.not_started == 0);
}

TEST_CASE("batch mode goes on with the workers that are left") {
  Run r(9);
  r.executor.on_worker = [&](WorkerId worker, Outcome& outcome) {
    if (worker == 2) {
      outcome.lost_worker = true;
      outcome.never_ran = true;
      outcome.duration = 0s;
    }
  };
  SchedulerOptions options = two_hosts();
  options.mode = DispatchMode::kBatch;
  const RunStats stats = r.run(options);
  CHECK(stats.succeeded == 9);
  CHECK(stats.lost_groups == std::vector<int>{1});
}

}  // namespace
}  // namespace taskpool
