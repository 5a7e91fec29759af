// How the ready jobs start: which job or retry goes to which free worker, within the mode, the
// rate and a shortage of resources; and the turn's starts, told to the observer together before
// the executor starts any of them.
#include <algorithm>
#include <functional>

#include "core/scheduler.h"

namespace taskpool {

void Scheduler::start_ready_jobs(TimePoint now) {
  pick_ready_jobs(now);
  if (starting_.empty()) return;
  // The observer sees the whole turn's starts first: a job server commits them as running in
  // one go, so that no process runs whose start a crash could take back.
  std::vector<StartingAttempt> starting;
  starting.reserve(starting_.size());
  for (const WorkerId worker : starting_) {
    const Running& slot = *running_[static_cast<size_t>(worker - 1)];
    starting.push_back({&slot.job, &slot.attempt});
  }
  observer_.before_start(starting);
  for (const WorkerId worker : starting_) {
    const Running& slot = *running_[static_cast<size_t>(worker - 1)];
    executor_.start(slot.attempt);
    observer_.on_start(slot.job, slot.attempt);
  }
  starting_.clear();
}

void Scheduler::pick_ready_jobs(TimePoint now) {
  if (!shortage_allows_start(now)) return;
  if (options_.mode == DispatchMode::kBatch && batch_left_ == 0) {
    // A batch starts only when the previous one has wholly ended, and only full (but the last).
    if (running_count_ != 0) return;
    const auto workers = static_cast<size_t>(live_workers_);
    const auto due = static_cast<size_t>(std::count_if(
        waiting_.begin(), waiting_.end(), [&](const Waiting& w) { return w.due <= now; }));
    fill_window();
    while (ready_.size() + due < workers && waiting_.size() < max_waiting_ && pull_one()) {
    }
    const size_t available = std::min(workers, ready_.size() + due);
    if (available < workers && !input_done_) {
      if (!waiting_.empty()) wake_at_ = waiting_.front().due;
      return;
    }
    if (available == 0) {
      if (!waiting_.empty()) wake_at_ = waiting_.front().due;
      return;
    }
    batch_left_ = available;
  }
  while (!free_workers_.empty()) {
    if (options_.mode == DispatchMode::kBatch && batch_left_ == 0) return;
    // A retry that is due and a new job take turns, so that neither starves the other. In a
    // batch, the batch's own retries go first.
    const bool batch = options_.mode == DispatchMode::kBatch;
    take_lowest_ = false;
    key_wake_ = kNever;
    bool retry = limits_.empty() ? retry_due(now) : keyed_retry_due(now);
    if (retry && !batch && last_was_retry_ && new_job_available(now)) retry = false;
    if (!retry && (batch && limits_.empty() ? ready_.empty() : !new_job_available(now))) {
      if (!waiting_.empty()) wake_at_ = waiting_.front().due;
      if (!limits_.empty()) wake_at_ = key_wake_;  // it knows of the retries held back too
      return;
    }
    if (!gate_allows(now)) return;
    if (bucket_ && !bucket_->try_take(now)) {
      wake_at_ = bucket_->next_token(now);
      return;
    }
    start_next(now, retry);
    last_was_retry_ = retry;
    if (batch) --batch_left_;
    if (shortage_) {
      // One at a time while resources are short; the next one a hold later at the soonest.
      shortage_->probing = true;
      shortage_->hold_until = now + kFirstHold;
      wake_at_ = shortage_->hold_until;
      return;
    }
  }
}

bool Scheduler::shortage_allows_start(TimePoint now) {
  if (!shortage_) return true;
  Shortage& shortage = *shortage_;
  if (shortage.probing) {
    // The attempt started after the last hold did not come back: there were resources for it.
    shortage.probing = false;
    shortage.hold = Duration::zero();
    shortage.idle_since = kNever;
  }
  // Over once attempts start again and none has failed for a while.
  if (shortage.hold == Duration::zero() && now >= shortage.last + kShortageOver) {
    shortage_.reset();
    return true;
  }
  if (now >= shortage.hold_until) return true;
  wake_at_ = shortage.hold_until;
  return false;
}

void Scheduler::start_next(TimePoint now, bool retry) {
  std::pop_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  const WorkerId worker = free_workers_.back();
  free_workers_.pop_back();

  Running slot;
  if (retry) {
    Waiting entry = take_retry();
    slot.job = std::move(entry.job);
    slot.attempt.number = entry.next_attempt;
    slot.first_start = entry.first_start;
  } else {
    slot.job = take_ready();
    if (!fed_ready_.empty()) fed_ready_.erase(slot.job.seq);
    slot.first_start = now;
  }
  if (!limits_.empty()) key_started(slot.job, now);
  slot.attempt.seq = slot.job.seq;
  slot.attempt.worker = worker;
  AttemptPayload payload = build_(slot.job, worker);
  slot.attempt.command = std::move(payload.command);
  slot.attempt.download = std::move(payload.download);
  slot.started = now;
  slot.timeout_at = timeout_for(now);
  gate_.started();
  running_[static_cast<size_t>(worker - 1)] = std::move(slot);
  ++running_count_;
  starting_.push_back(worker);
}

}  // namespace taskpool
