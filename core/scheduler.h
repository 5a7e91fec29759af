// The scheduler: the loop that hands jobs to free workers, in pool or batch mode.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/executor.h"
#include "core/feed_gate.h"
#include "core/job.h"
#include "core/keyed_limits.h"
#include "core/policy.h"
#include "core/ready_jobs.h"
#include "core/start_gate.h"
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
  // Records read from the input so far, including those not polled yet (0 when unknown). Lets
  // --halt percentages and the not-started count see past the queue.
  virtual uint64_t records_seen() const { return 0; }
};

// An attempt the scheduler is about to start (RunObserver::before_start).
struct StartingAttempt {
  const Job* job;
  const Attempt* attempt;
};

// What the scheduler reports while it runs. Called on the scheduler's thread.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // The attempts one turn of the loop starts, all of them, before the executor starts any (then
  // on_start for each, right after the executor started it). What is recorded here is known
  // before any of their processes runs: a job server makes their starts durable with one commit
  // for the turn, so that a crash cannot take back the start of a job that ran.
  virtual void before_start(std::span<const StartingAttempt> /*starting*/) {}
  virtual void on_start(const Job& /*job*/, const Attempt& /*attempt*/) {}
  // An attempt failed and the job will be tried again after `delay`. Its output is dropped after
  // this call (only the last attempt's output is printed, as GNU parallel does).
  virtual void on_retry(const Job& /*job*/, const Attempt& /*attempt*/,
                        const Completion& /*completion*/, Duration /*delay*/) {}
  // The job's last attempt ended; `completion` (with its output) may be moved from.
  virtual void on_job_end(const Job& /*job*/, const Attempt& /*attempt*/,
                          Completion& /*completion*/) {}
  // An attempt came back without having run (`never_ran`: its host was down); the job waits for
  // another worker.
  virtual void on_returned(const Job& /*job*/, const Attempt& /*attempt*/,
                           const Completion& /*completion*/) {}
  // Job `seq` is skipped (SchedulerOptions::skip): it will not run.
  virtual void on_skipped(uint64_t /*seq*/) {}
  // Attempts have not been able to start for a lack of resources (`completion`, the latest, says
  // which) while other jobs ran, for Scheduler::kShrinkAfter: the pool shrank from `from`
  // workers to `to`, the jobs that were running then.
  virtual void on_workers_limited(int /*from*/, int /*to*/, const Completion& /*completion*/) {}
  // Every SchedulerOptions::tick_interval, whatever else happens (progress reports).
  virtual void on_tick(TimePoint /*now*/) {}
};

class Scheduler;

enum class StopRequest {
  kNone,
  kGraceful,   // start nothing more; let running attempts finish
  kImmediate,  // also terminate running attempts (then kill them after kill_after)
};

// What a Scheduler::StopCheck asks for, and why (the run's RunStats::stop_cause).
struct StopOrder {
  StopRequest request = StopRequest::kNone;
  StopCause cause = StopCause::kSignal;
};

struct SchedulerOptions {
  int workers = 1;
  DispatchMode mode = DispatchMode::kPool;
  // With --keep-order: never start job S while job S - keep_order_window has not ended, which
  // bounds the output held back for reordering. 0: no bound.
  uint64_t keep_order_window = 0;
  RetryPolicy retry;
  Duration timeout{0};  // per attempt; 0: none
  // --timeout N%: an attempt is ended as by `timeout` once it runs longer than timeout_percent %
  // of the median runtime of the jobs that succeeded so far, as GNU parallel's (no limit before
  // the first success). 0: none.
  double timeout_percent = 0;
  // From SIGTERM to SIGKILL, for timeouts and for an immediate stop.
  Duration kill_after = std::chrono::seconds(5);
  std::optional<double> rate;  // attempt starts per second
  int burst = 1;
  Duration deadline{0};  // for the whole run; 0: none
  // After the deadline, from SIGTERM to SIGKILL.
  Duration grace = std::chrono::seconds(5);
  HaltPolicy halt;
  // Jobs to leave out (--resume): called with each job's sequence number.
  std::function<bool(uint64_t)> skip;
  // How often RunObserver::on_tick is called; 0: never.
  Duration tick_interval{0};
  // Worker groups: worker_groups[w - 1] is the group of worker w (a group is, say, one remote
  // host's workers). A completion with `lost_worker` retires its worker's whole group: nothing
  // starts on it again. Empty: all workers are one group. See interleave_groups.
  std::vector<int> worker_groups;
  // Uniform in [0, 1), for backoff jitter. Default: a generator seeded from the clock.
  std::function<double()> random;

  // Changes made while the run goes (resize, pause, suspend, status): called on the scheduler's
  // thread at the top of every turn of the loop, so after every completion and wake-up. It may
  // call the Scheduler's live methods. Returns when it wants to be called again at the latest
  // (kNever: whenever the loop turns next).
  std::function<TimePoint(Scheduler&, TimePoint now)> live;
  // Among the jobs ready to start, those with a higher priority start first (ties: input order).
  // The scheduler then holds up to `window` jobs ahead of the running ones to choose from.
  // Unset: input order.
  std::function<double(const Job&)> priority;
  // Jobs held ready ahead of the running ones: the priority window, and the most records fed
  // back by jobs (feed()) that wait before feeding jobs are held up (feed_room(), FeedGate).
  size_t window = 1024;
  // Makes a record of what a job fed back (WaitResult::fed): split into fields as the input is.
  // Unset: one field, the text.
  std::function<Record(WorkerId, std::string)> fed_record;
  // The caller's own descriptors (a server's sockets), watched in the same wait as the jobs:
  // `watch` fills the set before each wait; `on_watched` gets it back after a wait in which one
  // of them was ready (its revents set), on the scheduler's thread, between turns. It may call
  // the live methods.
  std::function<void(std::vector<pollfd>&)> watch;
  std::function<void(std::span<const pollfd>)> on_watched;
  // The most records taken in all, from the source and fed back. One more is not run: from then
  // on no record is taken (StopCause::kMaxRecords), while the jobs taken so far run, retries
  // included. 0: no limit.
  uint64_t max_records = 0;
  // Keyed limits (--limit): a job starts only when each limit allows its key, which
  // `limit_keys` makes of it (one key per limit) when it is taken. A job that waits for its key
  // holds no worker and its timeout does not run; the ready jobs of other keys start meanwhile,
  // searched among the first `window` ready jobs, the keys served least recently first.
  std::vector<KeyedLimit> limits;
  std::function<std::vector<std::string>(const Job&)> limit_keys;
  // --load, --memfree: no job (nor retry) starts while the gate is closed, and while less than
  // half of memfree is available the youngest job is terminated (as a timeout is, one at a
  // time; Completion::short_of_memory), as GNU parallel does. Its attempt failed: it is retried
  // as --retries says.
  GateOptions gate;
};

// A snapshot of a running pool (Scheduler::status()).
struct PoolStatus {
  int workers = 0;
  size_t running = 0;
  size_t queued = 0;    // ready to start: read or fed, not started yet
  size_t retrying = 0;  // waiting for a retry
  bool paused = false;
  uint64_t jobs = 0;  // ended
  uint64_t succeeded = 0;
  uint64_t failed = 0;
};

// Worker groups for SchedulerOptions::worker_groups from the groups' sizes, taken in turn (group
// 0's first worker, group 1's first, ..., group 0's second, ...) so that the lowest free worker,
// which starts next, spreads jobs over the groups. Returns one group index per worker.
std::vector<int> interleave_groups(const std::vector<int>& sizes);

// Runs jobs until the source ends (or a stop), then returns the statistics.
//
// A shortage of resources: an attempt that comes back short_of_resources did not run, so its job
// goes back to wait (the attempt does not count) and nothing starts for a while: the first hold
// is kFirstHold, doubled for each further failure up to kLongestHold. While the shortage lasts
// (until attempts start again and kShortageOver passes without a failure), one attempt starts at
// a time, kFirstHold apart at the soonest, so that a machine out of processes is not asked for
// hundreds at once. When it goes on for kShrinkAfter while jobs of the run are running, those
// jobs are what the machine lets the run have: the pool shrinks to them
// (RunObserver::on_workers_limited; not with worker groups). When attempts cannot start for
// kPatience with no job of the run running, the job fails with the executor's error, and so does
// each next one at once while that lasts; at once for a shortage of taskpool's own
// (Completion::own_shortage), which nothing outside the run can end.
// Not thread-safe; run() is called once.
class Scheduler {
 public:
  using CommandBuilder = std::function<AttemptPayload(const Job&, WorkerId)>;
  using StopCheck = std::function<StopOrder()>;

  static constexpr Duration kFirstHold = std::chrono::milliseconds(10);
  static constexpr Duration kLongestHold = std::chrono::seconds(1);
  static constexpr Duration kShortageOver = std::chrono::seconds(1);
  static constexpr Duration kShrinkAfter = std::chrono::seconds(1);
  static constexpr Duration kPatience = std::chrono::seconds(10);

  Scheduler(SchedulerOptions options, Clock& clock, Executor& executor, JobSource& source,
            CommandBuilder build, RunObserver& observer, StopCheck stop_check = {});

  RunStats run();

  // The live methods: call them from SchedulerOptions::live or on_watched, on the scheduler's
  // thread.
  //
  // Sets the number of workers (>= 1). Growing adds workers numbered after the others, free at
  // once. Shrinking retires the highest-numbered workers: a free one at once, a busy one when its
  // attempt ends (nothing is killed). Only when all workers are one group (not with
  // worker_groups): returns false and changes nothing otherwise.
  bool set_workers(int workers);
  int workers() const { return workers_; }
  // Paused: start nothing (no new job, no retry); running attempts go on, timers run.
  void set_paused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }
  // Stops the whole run: suspends every running attempt (Executor::suspend), calls `stopped`,
  // which returns when the run is to go on, and resumes the attempts. The time in between does
  // not count towards the deadline, timeouts, backoff or rate (all move later by that much).
  void suspend(const std::function<void()>& stopped);
  PoolStatus status() const;
  // A record fed back by a running job (the executor's WaitResult::fed come here): it becomes a
  // job, ahead of the source's records. The run does not end while a fed record waits. Past
  // max_records it is dropped and stops the run.
  void feed(Record record);
  // Whether more fed records are welcome now: fewer than `window` fed ones wait, or the run is
  // stopping (then they are dropped and counted). A job whose records are not welcome waits on
  // its pipe, but for FeedGate's exceptions.
  bool feed_room() const;
  // Whether fed records can never run any more (max_records reached): feeding jobs may be cut
  // off.
  bool feed_closed() const { return intake_closed_; }
  // Ends job `seq` for good, as a cancel: a running attempt is terminated (SIGTERM to its
  // process group, SIGKILL kill_after later) and not retried; a job waiting for its retry ends
  // at once with its last attempt. Either way it ends as stopped (Completion::stopped). Returns
  // false when the job is neither running nor waiting (not started yet, or ended).
  bool cancel_job(uint64_t seq);

 private:
  struct Running {
    Job job;
    Attempt attempt;
    TimePoint first_start{};
    TimePoint started{};            // this attempt's start
    TimePoint timeout_at = kNever;  // when it gets SIGTERM for running too long
    TimePoint kill_at = kNever;     // when it gets SIGKILL
    bool timed_out = false;
    bool stopped = false;
    bool short_of_memory = false;  // terminated as the youngest while memory was short
  };
  // A job whose attempt failed, waiting for its retry without holding a worker.
  struct Waiting {
    TimePoint due;
    Job job;
    int next_attempt;
    TimePoint first_start;
    Completion last;  // the failed attempt, reported if the retry never comes
    Attempt last_attempt;
  };
  struct LaterFirst {
    bool operator()(const Waiting& a, const Waiting& b) const {
      return a.due != b.due ? a.due > b.due : a.job.seq > b.job.seq;
    }
  };
  // Attempts came back short_of_resources lately (see the class comment).
  struct Shortage {
    TimePoint since;                // its first failure
    TimePoint last;                 // its latest failure
    TimePoint idle_since = kNever;  // failures with no job running, without a break, since then
    Duration hold{0};               // the latest hold; 0 after an attempt started in it
    TimePoint hold_until;           // nothing starts before then
    bool probing = false;           // an attempt started after the hold; no failure came back yet
  };

  bool pull_one();
  Waiting pop_waiting();
  bool order_window_allows(uint64_t seq) const;
  bool retry_due(TimePoint now) const;
  bool new_job_available(TimePoint now);
  // Keyed limits (scheduler_keys.cc).
  Job make_job(uint64_t seq, Record record) const;
  bool keyed_job_available(TimePoint now);
  bool keyed_retry_due(TimePoint now);
  Job take_ready();
  Waiting take_retry();
  void key_started(const Job& job, TimePoint now);
  void key_ended(const Job& job, const Completion& completion, TimePoint now);
  // Starts what may start now (scheduler_start.cc): picks the jobs and retries for the free
  // workers, tells the observer, then the executor.
  void start_ready_jobs(TimePoint now);
  void pick_ready_jobs(TimePoint now);
  void start_next(TimePoint now, bool retry);
  void check_timers(TimePoint now);
  void handle(Completion completion);
  void finish_job(const Job& job, const Attempt& attempt, Completion& completion,
                  TimePoint first_start);
  void check_halt(const Completion& completion);
  void mark_ended(uint64_t seq);
  void apply_stop(StopRequest request, StopCause cause);
  void retire_group(int group);
  void return_job(Running done, Completion completion);
  void short_of_resources(Running done, Completion completion);
  // A shortage that waiting will not end: the attempt counts, and its job fails.
  void give_up_starting(const Running& done, Completion& completion);
  bool shortage_allows_start(TimePoint now);
  bool jobs_left();
  TimePoint next_wakeup() const;
  void close_intake();
  void fill_window();
  void wait_for_executor();
  void take_fed(std::vector<FedRecord>& fed);
  // --timeout N%, --load, --memfree (scheduler_gate.cc).
  TimePoint timeout_for(TimePoint started) const;
  void note_success(const Completion& completion);
  bool gate_allows(TimePoint now);
  void check_memory(TimePoint now);
  TimePoint gate_wakeup() const;

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
  std::vector<WorkerId> starting_;          // picked by this turn, not yet given to the executor
  std::vector<bool> group_down_;            // index: group
  int live_workers_ = 0;                    // workers whose group is not down
  std::vector<WorkerId> free_workers_;      // a min-heap: the lowest free worker starts next
  int workers_ = 0;                         // workers 1..workers_ take attempts (set_workers)
  ReadyJobs ready_;                         // pulled from the source or fed, not yet started
  std::unordered_set<uint64_t> fed_ready_;  // of which fed (their sequence numbers)
  FeedGate feed_gate_;
  size_t feeders_waiting_ = 0;           // the executor's latest WaitResult::feeders_waiting
  std::optional<FeedOrder> feed_order_;  // the latest told to the executor
  std::vector<pollfd> watched_;          // options_.watch's descriptors, for one wait
  bool paused_ = false;
  bool last_was_retry_ = false;   // retries and new jobs take turns when both can start
  bool take_lowest_ = false;      // new_job_available: start ready_.lowest(), not next()
  uint64_t records_ = 0;          // taken from the source and fed, for max_records
  uint64_t source_taken_ = 0;     // records polled from the source (skipped ones too)
  uint64_t dropped_ = 0;          // records taken but never to run (max_records, a stop)
  bool intake_closed_ = false;    // max_records reached: no record is taken any more
  bool grouped_ = false;          // options_.worker_groups was given
  TimePoint live_at_ = kNever;    // when options_.live wants to be called
  std::vector<Waiting> waiting_;  // a min-heap on (due, seq), ordered by LaterFirst
  size_t max_waiting_ = 0;        // beyond this many waiting retries, no new job starts
  uint64_t next_seq_ = 1;
  bool input_done_ = false;
  StopRequest stop_ = StopRequest::kNone;
  TimePoint deadline_at_ = kNever;
  std::optional<TokenBucket> bucket_;
  KeyedLimits limits_;
  std::optional<size_t> ready_pick_;  // keyed: the ready job to start next (its index)
  std::optional<size_t> retry_pick_;  // keyed: the retry to start next (its index in waiting_)
  TimePoint key_wake_ = kNever;       // keyed: when a job held back may start at the soonest
  struct KeyWait {
    TimePoint since;
    size_t limit;
  };
  std::unordered_map<uint64_t, KeyWait> key_waits_;  // jobs held back by a key, by seq
  TimePoint wake_at_ = kNever;  // when start_ready_jobs can start something it could not now
  std::optional<Shortage> shortage_;
  StartGate gate_;
  Histogram successes_;  // the runtimes of the attempts that succeeded, for --timeout N%
  TimePoint next_tick_ = kNever;
  size_t batch_left_ = 0;              // batch mode: attempts of the current batch not started yet
  bool halt_counts_failures_ = false;  // the exit status is the count of failed jobs
  // --keep-order bookkeeping: the lowest job not yet ended, and which jobs above it have ended.
  uint64_t lowest_unfinished_ = 1;
  std::deque<bool> ended_window_;  // ended_window_[s - lowest_unfinished_]
};

}  // namespace taskpool
