// The scheduler's keyed limits (SchedulerOptions::limits): which ready job or due retry starts
// next when each job has a key per limit, and the limits' bookkeeping as attempts start and end.
#include <algorithm>
#include <tuple>

#include "core/scheduler.h"

namespace taskpool {

Job Scheduler::make_job(uint64_t seq, Record record) const {
  Job job{seq, std::move(record)};
  if (options_.limits.empty()) return job;
  if (options_.limit_keys) job.keys = options_.limit_keys(job);
  job.keys.resize(options_.limits.size());
  return job;
}

// Searches the first `window` ready jobs (read more from the source until there are that many)
// for those each limit allows, and picks the one of highest priority, then of the key served
// least recently (round robin over the keys), then first in input order. The jobs held back
// are noted (their wait is counted when they start) and key_wake_ says when the first of them
// may start, when a time says it (a rate, a pause) rather than the end of a running job.
bool Scheduler::keyed_job_available(TimePoint now) {
  ready_pick_.reset();
  while (ready_.size() < options_.window && pull_one()) {
  }
  const size_t window = std::min(ready_.size(), options_.window);
  // (-priority, last served, seq): the lowest starts.
  std::tuple<double, uint64_t, uint64_t> best{};
  for (size_t i = 0; i < window; ++i) {
    const Job& job = ready_.at(i);
    if (!order_window_allows(job.seq)) continue;
    const KeyedLimits::Verdict verdict = limits_.check(job.keys, now);
    if (!verdict.allowed) {
      key_waits_.try_emplace(job.seq, KeyWait{now, verdict.limit});
      key_wake_ = std::min(key_wake_, verdict.until);
      continue;
    }
    const std::tuple<double, uint64_t, uint64_t> rank{-ready_.priority_at(i),
                                                      limits_.last_served(job.keys), job.seq};
    if (!ready_pick_ || rank < best) {
      best = rank;
      ready_pick_ = i;
    }
  }
  return ready_pick_.has_value();
}

// Among the retries that are due, the first (by when it was due, then input order) that each
// limit allows; those held back are noted as in keyed_job_available.
bool Scheduler::keyed_retry_due(TimePoint now) {
  retry_pick_.reset();
  for (size_t i = 0; i < waiting_.size(); ++i) {
    const Waiting& entry = waiting_[i];
    if (entry.due > now) {
      key_wake_ = std::min(key_wake_, entry.due);
      continue;
    }
    const KeyedLimits::Verdict verdict = limits_.check(entry.job.keys, now);
    if (!verdict.allowed) {
      key_waits_.try_emplace(entry.job.seq, KeyWait{now, verdict.limit});
      key_wake_ = std::min(key_wake_, verdict.until);
      continue;
    }
    if (!retry_pick_ || LaterFirst()(waiting_[*retry_pick_], entry)) retry_pick_ = i;
  }
  return retry_pick_.has_value();
}

Job Scheduler::take_ready() {
  if (ready_pick_) {
    const size_t i = *ready_pick_;
    ready_pick_.reset();
    return ready_.take(i);
  }
  return take_lowest_ ? ready_.pop_lowest() : ready_.pop();
}

Scheduler::Waiting Scheduler::take_retry() {
  if (!retry_pick_) return pop_waiting();
  const auto it = waiting_.begin() + static_cast<std::ptrdiff_t>(*retry_pick_);
  retry_pick_.reset();
  Waiting entry = std::move(*it);
  waiting_.erase(it);
  std::make_heap(waiting_.begin(), waiting_.end(), LaterFirst());
  return entry;
}

void Scheduler::key_started(const Job& job, TimePoint now) {
  const auto wait = key_waits_.find(job.seq);
  if (wait == key_waits_.end()) {
    limits_.start(job.keys, now);
    return;
  }
  limits_.start(job.keys, now, now - wait->second.since, wait->second.limit);
  key_waits_.erase(wait);
}

void Scheduler::key_ended(const Job& job, const Completion& completion, TimePoint now) {
  limits_.end(job.keys);
  // The other side asked for a pause (Retry-After): its key waits that long, within the cap the
  // user put on waits before a retry; the run's other keys go on.
  if (completion.retry_after && *completion.retry_after > Duration::zero()) {
    const Duration cap = std::max(options_.retry.backoff_max, options_.retry.backoff);
    limits_.pause(job.keys, now, std::min(*completion.retry_after, cap));
  }
}

}  // namespace taskpool
