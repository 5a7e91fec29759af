// Aggregated statistics of a run, in constant memory whatever the number of jobs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/keyed_limits.h"
#include "core/time.h"

namespace taskpool {

// Why a run was stopped before all its jobs ran.
// kSignal: a stop signal (the front end's; RunStats::stop_signal names it).
// kOutputError: an output could not be written or kept (the front end reports the error).
// kNoWorkers: every worker group was lost (every host is down) while jobs were left.
// kMaxRecords: more records came (from the input or fed by jobs) than
// SchedulerOptions::max_records.
enum class StopCause { kNone, kSignal, kDeadline, kHalt, kNoWorkers, kMaxRecords, kOutputError };

// The number of workers changed during the run (Scheduler::set_workers).
struct WorkerChange {
  TimePoint at;
  int workers;
};

// A log-bucketed histogram of durations: exact below 16 µs, then 16 buckets per power of two up
// to about 25 days, so a percentile (the middle of its bucket) is within 3.2 % of the true value.
// Min and max are exact.
// Not thread-safe.
class Histogram {
 public:
  void add(Duration d);
  uint64_t count() const { return count_; }
  Duration min() const { return count_ ? min_ : Duration{0}; }
  Duration max() const { return count_ ? max_ : Duration{0}; }
  // The p-th percentile (0 <= p <= 100), clamped to [min, max]. 0 when empty.
  Duration percentile(double p) const;

  static constexpr int kSubBuckets = 16;
  static constexpr int kOctaves = 38;
  static constexpr int kBuckets = kSubBuckets * kOctaves;
  static int bucket_of(uint64_t micros);
  static uint64_t bucket_upper(int bucket);  // in µs, exclusive

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  Duration min_{0};
  Duration max_{0};
};

struct RunStats {
  int workers = 0;    // at the start
  uint64_t jobs = 0;  // jobs that finished (succeeded + failed)
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t attempts = 0;     // attempts that ended, including retried ones
  uint64_t not_started = 0;  // jobs read but never started (stopped run)
  uint64_t retried = 0;      // finished jobs that needed more than one attempt
  uint64_t timed_out = 0;    // attempts ended for running past --timeout
  uint64_t killed = 0;       // jobs whose last attempt was ended by a stop (deadline, halt, signal)
  uint64_t skipped = 0;      // jobs skipped because the joblog says they are done (--resume)
  TimePoint start{};
  TimePoint end{};
  Duration busy{0};   // sum of attempt runtimes: busy worker-time
  Histogram latency;  // per job: start of its first attempt to end of its last
  StopCause stop_cause = StopCause::kNone;
  // Filled by the front end, which knows them: the stop signal (SIGINT ...) for kSignal, 0 for
  // none; whether the input had been read to its end when the run ended.
  int stop_signal = 0;
  bool input_read = false;
  // Set when --halt decided the exit status (GNU parallel's rules); otherwise the caller derives
  // it from the counts.
  std::optional<int> halt_exit_status;
  // Worker groups (hosts) lost during the run, in the order they were lost.
  std::vector<int> lost_groups;
  // Every change of the number of workers, in order; the run's capacity in worker-time (the
  // number of workers integrated over the run; 0 when it never changed); the most workers at
  // once.
  std::vector<WorkerChange> worker_changes;
  Duration worker_time{0};
  int max_workers = 0;
  Duration suspended{0};       // time the run was stopped as a whole (Ctrl-Z until fg)
  uint64_t fed = 0;            // records that jobs fed back (--feedback)
  std::vector<KeyStats> keys;  // per key of each keyed limit (--limit)

  Duration wall() const { return end - start; }
  double jobs_per_second() const;
  // busy worker-seconds / capacity, in [0, 1].
  double utilization() const;
  // capacity - busy, never negative.
  Duration idle() const;
  // Worker-time the run could use: workers × wall, or worker_time when the workers changed.
  Duration capacity() const;
};

}  // namespace taskpool
