// The scheduler: the loop that hands jobs to free workers, in pool or batch mode.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "core/executor.h"
#include "core/job.h"
#include "core/stats.h"
#include "core/time.h"

namespace taskpool {

enum class DispatchMode {
  kPool,   // start the next job the moment any worker is free
  kBatch,  // start N jobs, wait until all N have ended, start the next N
};

// Where the scheduler gets its jobs. Never blocks: when nothing is ready yet, the source makes
// sure the executor's wait() is woken when something arrives.
class JobSource {
 public:
  enum class State { kReady, kNotYet, kEnd };
  virtual ~JobSource() = default;
  virtual State poll(Record& out) = 0;
};

// What the scheduler reports while it runs. Called on the scheduler's thread.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void on_start(const Job& /*job*/, const Attempt& /*attempt*/) {}
  // The job's last attempt ended; `completion` (with its output) may be moved from.
  virtual void on_job_end(const Job& /*job*/, const Attempt& /*attempt*/,
                          Completion& /*completion*/) {}
};

enum class StopRequest {
  kNone,
  kGraceful,   // start nothing more; let running attempts finish
  kImmediate,  // also terminate running attempts (then kill them after kill_after)
};

struct SchedulerOptions {
  int workers = 1;
  DispatchMode mode = DispatchMode::kPool;
  // With --keep-order: never start job S while job S - keep_order_window has not ended, which
  // bounds the output held back for reordering. 0: no bound.
  uint64_t keep_order_window = 0;
  Duration kill_after = std::chrono::seconds(5);
};

// Runs jobs until the source ends (or a stop), then returns the statistics.
// Not thread-safe; run() is called once.
class Scheduler {
 public:
  using CommandBuilder = std::function<Command(const Job&, WorkerId)>;
  using StopCheck = std::function<StopRequest()>;

  Scheduler(SchedulerOptions options, Clock& clock, Executor& executor, JobSource& source,
            CommandBuilder build, RunObserver& observer, StopCheck stop_check = {});

  RunStats run();

 private:
  struct Running {
    Job job;
    Attempt attempt;
    TimePoint first_start{};
  };

  bool pull_one();
  bool order_window_allows(uint64_t seq) const;
  void start_ready_jobs();
  void start_job(Job job);
  void handle(Completion completion);
  void mark_ended(uint64_t seq);
  void apply_stop(StopRequest request);
  TimePoint next_wakeup() const;

  SchedulerOptions options_;
  Clock& clock_;
  Executor& executor_;
  JobSource& source_;
  CommandBuilder build_;
  RunObserver& observer_;
  StopCheck stop_check_;

  RunStats stats_;
  std::vector<std::optional<Running>> running_;  // index: worker - 1
  size_t running_count_ = 0;
  std::vector<WorkerId> free_workers_;  // a min-heap: the lowest free worker starts next
  std::deque<Job> ready_;               // pulled from the source, not yet started
  uint64_t next_seq_ = 1;
  bool input_done_ = false;
  StopRequest stop_ = StopRequest::kNone;
  TimePoint kill_at_ = kNever;
  // --keep-order bookkeeping: the lowest job not yet ended, and which jobs above it have ended.
  uint64_t lowest_unfinished_ = 1;
  std::deque<bool> ended_window_;  // ended_window_[s - lowest_unfinished_]
};

}  // namespace taskpool
