#include "core/scheduler.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <random>
#include <string>

namespace taskpool {

namespace {

std::function<double()> default_random() {
  auto engine = std::make_shared<std::minstd_rand>(static_cast<std::minstd_rand::result_type>(
      std::chrono::steady_clock::now().time_since_epoch().count()));
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Clock& clock, Executor& executor, JobSource& source,
                     CommandBuilder build, RunObserver& observer, StopCheck stop_check)
    : options_(std::move(options)),
      clock_(clock),
      executor_(executor),
      source_(source),
      build_(std::move(build)),
      observer_(observer),
      stop_check_(std::move(stop_check)),
      ready_(options_.priority),
      feed_gate_(options_.window),
      limits_(options_.limits),
      gate_(options_.gate) {
  assert(options_.workers >= 1);
  // The reorder window must hold at least one full set of workers, or -k would idle them.
  if (options_.keep_order_window != 0) {
    options_.keep_order_window =
        std::max<uint64_t>(options_.keep_order_window, static_cast<uint64_t>(options_.workers));
  }
  if (!options_.random) options_.random = default_random();
  // Jobs waiting for a retry keep their record; past this many, new jobs wait instead of
  // failing into the retry queue without bound.
  max_waiting_ = std::max<size_t>(64, 4 * static_cast<size_t>(options_.workers));
  running_.resize(static_cast<size_t>(options_.workers));
  workers_ = options_.workers;
  grouped_ = !options_.worker_groups.empty();
  if (options_.worker_groups.empty()) {
    options_.worker_groups.assign(static_cast<size_t>(options_.workers), 0);
  }
  assert(options_.worker_groups.size() == static_cast<size_t>(options_.workers));
  group_down_.assign(static_cast<size_t>(std::ranges::max(options_.worker_groups)) + 1, false);
  live_workers_ = options_.workers;
  for (WorkerId w = options_.workers; w >= 1; --w) free_workers_.push_back(w);
  std::make_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
}

RunStats Scheduler::run() {
  stats_.workers = options_.workers;
  stats_.max_workers = options_.workers;
  stats_.start = clock_.now();
  if (options_.deadline > Duration::zero()) deadline_at_ = stats_.start + options_.deadline;
  if (options_.rate) bucket_.emplace(*options_.rate, options_.burst, stats_.start);
  if (options_.tick_interval > Duration::zero()) next_tick_ = stats_.start + options_.tick_interval;
  while (true) {
    if (options_.live) live_at_ = options_.live(*this, clock_.now());
    const TimePoint now = clock_.now();
    if (live_at_ <= now) live_at_ = kNever;  // a time gone by asks for no wake-up
    if (now >= next_tick_) {
      observer_.on_tick(now);
      next_tick_ = now + options_.tick_interval;
    }
    if (stop_check_) {
      const StopOrder order = stop_check_();
      apply_stop(order.request, order.cause);
    }
    if (now >= deadline_at_) apply_stop(StopRequest::kImmediate, StopCause::kDeadline);
    check_timers(now);
    wake_at_ = kNever;
    if (stop_ == StopRequest::kNone && !paused_) start_ready_jobs(now);
    const bool nothing_left = input_done_ && ready_.empty() && waiting_.empty();
    if (running_count_ == 0 && (nothing_left || stop_ != StopRequest::kNone)) break;
    if (running_count_ == 0 && live_workers_ == 0) {
      // Every group is lost: what is left can run nowhere.
      if (jobs_left()) stats_.stop_cause = StopCause::kNoWorkers;
      break;
    }
    wait_for_executor();
  }
  // Jobs still waiting for a retry end with the attempt that failed last.
  while (!waiting_.empty()) {
    Waiting entry = pop_waiting();
    finish_job(entry.job, entry.last_attempt, entry.last, entry.first_start);
  }
  stats_.not_started =
      ready_.size() + dropped_ + (std::max(source_taken_, source_.records_seen()) - source_taken_);
  if (halt_counts_failures_) {
    stats_.halt_exit_status = static_cast<int>(std::min<uint64_t>(stats_.failed, 101));
  }
  stats_.end = clock_.now();
  stats_.keys = limits_.stats();
  if (!stats_.worker_changes.empty()) {
    // The capacity the run had: each number of workers for as long as it held.
    TimePoint from = stats_.start;
    int workers = stats_.workers;
    for (const WorkerChange& change : stats_.worker_changes) {
      stats_.worker_time += (change.at - from) * workers;
      from = change.at;
      workers = change.workers;
    }
    stats_.worker_time += (stats_.end - from) * workers;
  }
  return stats_;
}

bool Scheduler::pull_one() {
  Record record;
  while (!input_done_) {
    switch (source_.poll(record)) {
      case JobSource::State::kReady: {
        ++source_taken_;
        const uint64_t seq = next_seq_++;
        if (options_.skip && options_.skip(seq)) {
          ++stats_.skipped;
          mark_ended(seq);
          observer_.on_skipped(seq);
          continue;
        }
        if (options_.max_records != 0 && records_ >= options_.max_records) {
          // One record too many: it is not run, and nothing more is taken.
          ++dropped_;
          close_intake();
          return false;
        }
        ++records_;
        ready_.push(make_job(seq, std::move(record)));
        return true;
      }
      case JobSource::State::kNotYet:
        return false;
      case JobSource::State::kEnd:
        input_done_ = true;
        return false;
    }
  }
  return false;
}

Scheduler::Waiting Scheduler::pop_waiting() {
  std::pop_heap(waiting_.begin(), waiting_.end(), LaterFirst());
  Waiting entry = std::move(waiting_.back());
  waiting_.pop_back();
  return entry;
}

bool Scheduler::order_window_allows(uint64_t seq) const {
  return options_.keep_order_window == 0 || seq - lowest_unfinished_ < options_.keep_order_window;
}

bool Scheduler::retry_due(TimePoint now) const {
  return !waiting_.empty() && waiting_.front().due <= now;
}

void Scheduler::fill_window() {
  if (!ready_.prioritized()) return;
  while (ready_.size() < options_.window && pull_one()) {
  }
}

bool Scheduler::new_job_available(TimePoint now) {
  take_lowest_ = false;
  if (waiting_.size() >= max_waiting_) return false;
  if (!limits_.empty()) return keyed_job_available(now);
  fill_window();
  if (ready_.empty() && !pull_one()) return false;
  if (order_window_allows(ready_.next().seq)) return true;
  // Priorities reorder the jobs, but -k's window holds: the lowest job may always start (it is
  // the one the window waits for, or comes right after it).
  take_lowest_ = ready_.prioritized() && order_window_allows(ready_.lowest().seq);
  return take_lowest_;
}

void Scheduler::check_timers(TimePoint now) {
  check_memory(now);
  for (auto& slot : running_) {
    if (!slot) continue;
    if (now >= slot->kill_at) {
      slot->kill_at = kNever;
      executor_.cancel(slot->attempt.worker, CancelMode::kKill);
    }
    if (now >= slot->timeout_at) {
      slot->timeout_at = kNever;
      slot->timed_out = true;
      slot->kill_at = std::min(slot->kill_at, now + options_.kill_after);
      executor_.cancel(slot->attempt.worker, CancelMode::kTerminate);
    }
  }
}

void Scheduler::handle(Completion completion) {
  auto& slot = running_.at(static_cast<size_t>(completion.worker - 1));
  assert(slot.has_value());
  Running done = std::move(*slot);
  slot.reset();
  --running_count_;
  if (!limits_.empty()) key_ended(done.job, completion, clock_.now());
  const int group = options_.worker_groups[static_cast<size_t>(done.attempt.worker - 1)];
  if (completion.lost_worker) retire_group(group);
  // A worker above workers_ was retired by set_workers while busy: it stays retired.
  if (!group_down_[static_cast<size_t>(group)] && done.attempt.worker <= workers_) {
    free_workers_.push_back(done.attempt.worker);
    std::push_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  }
  if (completion.short_of_resources && !completion.started) {
    return short_of_resources(std::move(done), std::move(completion));
  }
  if (completion.never_ran) return return_job(std::move(done), std::move(completion));

  ++stats_.attempts;
  if (completion.started) stats_.busy += completion.runtime();
  // An executor may know of a timeout itself (a download's own); the scheduler's is the other.
  completion.timed_out = completion.timed_out || done.timed_out;
  completion.stopped = done.stopped;
  completion.short_of_memory = done.short_of_memory;
  if (done.short_of_memory) gate_.expire();  // what it freed decides whether another must go
  if (completion.timed_out) ++stats_.timed_out;

  // An attempt that could not start at all (a missing program) would fail the same way again,
  // and so would one its executor calls permanent (a 404).
  const bool retry = !completion.succeeded() && completion.started && !completion.permanent &&
                     done.attempt.number <= options_.retry.retries && stop_ == StopRequest::kNone &&
                     !done.stopped;
  if (!retry) {
    finish_job(done.job, done.attempt, completion, done.first_start);
    return;
  }
  Duration delay = backoff_delay(options_.retry, done.attempt.number, options_.random());
  if (completion.retry_after) {
    // The other side knows best when to come back, within the user's cap.
    delay = std::max(delay, std::min(*completion.retry_after,
                                     std::max(options_.retry.backoff_max, options_.retry.backoff)));
  }
  observer_.on_retry(done.job, done.attempt, completion, delay);
  completion.detail = {};
  const TimePoint now = clock_.now();
  waiting_.push_back(Waiting{now + delay, std::move(done.job), done.attempt.number + 1,
                             done.first_start, std::move(completion), std::move(done.attempt)});
  std::push_heap(waiting_.begin(), waiting_.end(), LaterFirst());
}

void Scheduler::retire_group(int group) {
  if (group_down_[static_cast<size_t>(group)]) return;
  group_down_[static_cast<size_t>(group)] = true;
  stats_.lost_groups.push_back(group);
  live_workers_ -= static_cast<int>(std::ranges::count(options_.worker_groups, group));
  std::erase_if(free_workers_, [&](WorkerId w) {
    return options_.worker_groups[static_cast<size_t>(w - 1)] == group;
  });
  std::make_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  // A batch waits for workers that are gone no more.
  batch_left_ = std::min(batch_left_, static_cast<size_t>(live_workers_));
}

void Scheduler::short_of_resources(Running done, Completion completion) {
  const TimePoint now = clock_.now();
  if (!shortage_) shortage_ = Shortage{now, now, kNever, Duration::zero(), now, false};
  Shortage& shortage = *shortage_;
  // Attempts started together fail together, and take one step of the backoff; the next step is
  // for the attempt started after the hold.
  if (shortage.hold == Duration::zero()) {
    shortage.hold = kFirstHold;
  } else if (shortage.probing) {
    shortage.hold = std::min(2 * shortage.hold, kLongestHold);
  }
  shortage.probing = false;
  shortage.last = now;
  shortage.hold_until = now + shortage.hold;
  if (running_count_ > 0) {
    shortage.idle_since = kNever;
    const auto running = static_cast<int>(running_count_);
    if (now - shortage.since >= kShrinkAfter && !grouped_ && running < workers_) {
      const int from = workers_;
      set_workers(running);
      observer_.on_workers_limited(from, workers_, completion);
    }
  } else if (completion.own_shortage) {
    // This process's own limit, with none of the run's jobs holding anything under it: waiting
    // cannot help.
    completion.error += " (with none of the run's jobs running to give one back)";
    return give_up_starting(done, completion);
  } else if (shortage.idle_since == kNever) {
    shortage.idle_since = now;
  } else if (now - shortage.idle_since >= kPatience) {
    // None of the run's jobs holds anything, yet nothing can start: the job fails rather than
    // wait for ever, and so does each next one at once while this lasts.
    completion.error +=
        " (nothing could start for " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kPatience).count()) +
        " s, with none of the run's jobs running)";
    return give_up_starting(done, completion);
  }
  return_job(std::move(done), std::move(completion));
}

void Scheduler::give_up_starting(const Running& done, Completion& completion) {
  shortage_->hold_until = clock_.now();
  ++stats_.attempts;
  finish_job(done.job, done.attempt, completion, done.first_start);
}

void Scheduler::return_job(Running done, Completion completion) {
  observer_.on_returned(done.job, done.attempt, completion);
  // In a batch, the job takes its place again.
  if (options_.mode == DispatchMode::kBatch) {
    batch_left_ = std::min(batch_left_ + 1, static_cast<size_t>(live_workers_));
  }
  if (done.attempt.number == 1) {
    // Never tried anywhere: back to the head of the line, as if it had not been started.
    ready_.push(std::move(done.job), /*front=*/true);
    return;
  }
  // A retry that never ran: due again at once, and if the run ends first, it fails as this.
  completion.detail = {};
  waiting_.push_back(Waiting{clock_.now(), std::move(done.job), done.attempt.number,
                             done.first_start, std::move(completion), std::move(done.attempt)});
  std::push_heap(waiting_.begin(), waiting_.end(), LaterFirst());
}

bool Scheduler::jobs_left() { return !ready_.empty() || !waiting_.empty() || pull_one(); }

void Scheduler::finish_job(const Job& job, const Attempt& attempt, Completion& completion,
                           TimePoint first_start) {
  ++stats_.jobs;
  if (completion.succeeded()) {
    ++stats_.succeeded;
    note_success(completion);
  } else {
    ++stats_.failed;
  }
  if (attempt.number > 1) ++stats_.retried;
  if (completion.stopped) ++stats_.killed;
  const TimePoint end = completion.started ? completion.end : clock_.now();
  stats_.latency.add(std::max(Duration::zero(), end - first_start));
  mark_ended(job.seq);
  observer_.on_job_end(job, attempt, completion);
  check_halt(completion);
}

void Scheduler::check_halt(const Completion& completion) {
  const HaltPolicy& halt = options_.halt;
  if (halt.when == HaltPolicy::When::kNever || stats_.stop_cause == StopCause::kHalt) return;
  const uint64_t read =
      std::max(source_taken_, source_.records_seen()) + stats_.fed - stats_.skipped;
  const HaltTally tally{stats_.failed, stats_.succeeded, read};
  if (!halt_reached(halt, tally)) return;
  // GNU parallel's exit statuses for a halt: the failing job's own for fail=1, the percentage
  // for fail=N%, 0 for success; otherwise the usual count of failed jobs.
  if (halt.count == HaltPolicy::Count::kSuccess) {
    stats_.halt_exit_status = 0;
  } else if (halt.count == HaltPolicy::Count::kFail && halt.percent) {
    stats_.halt_exit_status = static_cast<int>(stats_.failed * 100 / std::max<uint64_t>(1, read));
  } else if (halt.count == HaltPolicy::Count::kFail && halt.threshold == 1) {
    stats_.halt_exit_status =
        completion.signal != 0 ? 128 + completion.signal : completion.exit_status;
  } else {
    // The jobs that failed, counted when the run ends; those the halt kept from starting do
    // not count.
    halt_counts_failures_ = true;
  }
  apply_stop(halt.when == HaltPolicy::When::kNow ? StopRequest::kImmediate : StopRequest::kGraceful,
             StopCause::kHalt);
}

void Scheduler::apply_stop(StopRequest request, StopCause cause) {
  if (request <= stop_) return;
  stop_ = request;
  if (stats_.stop_cause == StopCause::kNone) stats_.stop_cause = cause;
  if (request != StopRequest::kImmediate) return;
  const TimePoint now = clock_.now();
  const Duration delay = cause == StopCause::kDeadline ? options_.grace : options_.kill_after;
  for (auto& slot : running_) {
    if (!slot) continue;
    slot->stopped = true;
    slot->timeout_at = kNever;
    slot->kill_at = std::min(slot->kill_at, now + delay);
    executor_.cancel(slot->attempt.worker, CancelMode::kTerminate);
  }
}

TimePoint Scheduler::next_wakeup() const {
  TimePoint at = std::min({wake_at_, next_tick_, live_at_, gate_wakeup()});
  if (stop_ != StopRequest::kImmediate) at = std::min(at, deadline_at_);
  for (const auto& slot : running_) {
    if (slot) at = std::min({at, slot->timeout_at, slot->kill_at});
  }
  return at;
}

}  // namespace taskpool
