// The scheduler's live methods (SchedulerOptions::live, on_watched) and the records jobs feed
// back through the executor's wait; the bookkeeping of -k's window; the worker groups' layout.
#include <algorithm>
#include <functional>

#include "core/scheduler.h"

namespace taskpool {

std::vector<int> interleave_groups(const std::vector<int>& sizes) {
  std::vector<int> groups;
  std::vector<int> left = sizes;
  for (bool more = true; more;) {
    more = false;
    for (size_t g = 0; g < left.size(); ++g) {
      if (left[g] <= 0) continue;
      groups.push_back(static_cast<int>(g));
      more = --left[g] > 0 || more;
    }
  }
  return groups;
}

bool Scheduler::set_workers(int workers) {
  if (grouped_) return false;
  workers = std::max(1, workers);
  if (workers == workers_) return true;
  if (workers > workers_) {
    if (running_.size() < static_cast<size_t>(workers)) {
      running_.resize(static_cast<size_t>(workers));
      options_.worker_groups.resize(static_cast<size_t>(workers), 0);
    }
    // A worker above the old number may still be busy from before a shrink: it comes back free
    // when its attempt ends.
    for (WorkerId w = workers_ + 1; w <= workers; ++w) {
      if (running_[static_cast<size_t>(w - 1)]) continue;
      free_workers_.push_back(w);
      std::push_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
    }
  } else {
    std::erase_if(free_workers_, [&](WorkerId w) { return w > workers; });
    std::make_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  }
  workers_ = workers;
  live_workers_ = workers;
  max_waiting_ = std::max<size_t>(64, 4 * static_cast<size_t>(workers));
  if (options_.keep_order_window != 0) {
    options_.keep_order_window =
        std::max<uint64_t>(options_.keep_order_window, static_cast<uint64_t>(workers));
  }
  batch_left_ = std::min(batch_left_, static_cast<size_t>(workers));
  stats_.max_workers = std::max(stats_.max_workers, workers);
  stats_.worker_changes.push_back({clock_.now(), workers});
  return true;
}

void Scheduler::suspend(const std::function<void()>& stopped) {
  const TimePoint before = clock_.now();
  executor_.suspend(true);
  stopped();
  executor_.suspend(false);
  const Duration gone = clock_.now() - before;
  if (gone <= Duration::zero()) return;
  stats_.suspended += gone;
  const auto later = [gone](TimePoint& t) {
    if (t != kNever) t += gone;
  };
  later(deadline_at_);
  later(wake_at_);
  for (auto& slot : running_) {
    if (!slot) continue;
    later(slot->timeout_at);
    later(slot->kill_at);
  }
  for (Waiting& entry : waiting_) later(entry.due);  // all alike: the heap order holds
  if (bucket_) bucket_->shift(gone);
  limits_.shift(gone);
}

PoolStatus Scheduler::status() const {
  PoolStatus s;
  s.workers = workers_;
  s.running = running_count_;
  const uint64_t seen = source_.records_seen();
  s.queued = ready_.size() + (seen > source_taken_ ? seen - source_taken_ : 0);
  s.retrying = waiting_.size();
  s.paused = paused_;
  s.jobs = stats_.jobs;
  s.succeeded = stats_.succeeded;
  s.failed = stats_.failed;
  return s;
}

bool Scheduler::cancel_job(uint64_t seq) {
  const TimePoint now = clock_.now();
  for (auto& slot : running_) {
    if (!slot || slot->job.seq != seq) continue;
    if (slot->stopped) return true;  // ending already
    slot->stopped = true;
    slot->timeout_at = kNever;
    slot->kill_at = std::min(slot->kill_at, now + options_.kill_after);
    executor_.cancel(slot->attempt.worker, CancelMode::kTerminate);
    return true;
  }
  const auto waiting =
      std::ranges::find_if(waiting_, [seq](const Waiting& w) { return w.job.seq == seq; });
  if (waiting == waiting_.end()) return false;
  Waiting entry = std::move(*waiting);
  waiting_.erase(waiting);
  std::make_heap(waiting_.begin(), waiting_.end(), LaterFirst());
  entry.last.stopped = true;
  finish_job(entry.job, entry.last_attempt, entry.last, entry.first_start);
  return true;
}

void Scheduler::feed(Record record) {
  if (stop_ != StopRequest::kNone || intake_closed_) {
    ++dropped_;
    return;
  }
  if (options_.max_records != 0 && records_ >= options_.max_records) {
    ++dropped_;
    close_intake();
    return;
  }
  ++records_;
  ++stats_.fed;
  const uint64_t seq = next_seq_++;
  fed_ready_.insert(seq);
  ready_.push(make_job(seq, std::move(record)));
}

void Scheduler::wait_for_executor() {
  const FeedGate::State state{fed_ready_.size(), running_count_, feeders_waiting_,
                              stop_ != StopRequest::kNone, intake_closed_};
  const FeedOrder order = feed_gate_.decide(state, clock_.now());
  // Told again only when it changes (a call per wait is a cost per job), but for one chunk each,
  // which the executor carries out once.
  if (order != feed_order_ || order.mode == FeedOrder::Mode::kOneChunk) {
    executor_.set_feed(order);
    feed_order_ = order;
  }
  watched_.clear();
  if (options_.watch) options_.watch(watched_);
  WaitResult result = executor_.wait(std::min(next_wakeup(), feed_gate_.recheck_at()), watched_);
  // A job's records before its end: they are taken even when it is the last job.
  take_fed(result.fed);
  feeders_waiting_ = result.feeders_waiting;
  for (Completion& completion : result.completions) handle(std::move(completion));
  if (options_.on_watched &&
      std::ranges::any_of(watched_, [](const pollfd& fd) { return fd.revents != 0; })) {
    options_.on_watched(watched_);
  }
}

void Scheduler::take_fed(std::vector<FedRecord>& fed) {
  for (FedRecord& record : fed) {
    if (options_.fed_record) {
      feed(options_.fed_record(record.worker, std::move(record.text)));
    } else {
      feed(Record({std::move(record.text)}));
    }
  }
}

bool Scheduler::feed_room() const {
  return stop_ != StopRequest::kNone || intake_closed_ || fed_ready_.size() < options_.window;
}

void Scheduler::close_intake() {
  // Not a stop: the jobs taken so far (and their retries) still run.
  intake_closed_ = true;
  input_done_ = true;
  if (stats_.stop_cause == StopCause::kNone) stats_.stop_cause = StopCause::kMaxRecords;
}

// -k's window: job `seq` has ended; the lowest job not ended moves up past those that have.
void Scheduler::mark_ended(uint64_t seq) {
  if (options_.keep_order_window == 0) return;
  const uint64_t index = seq - lowest_unfinished_;
  if (index >= ended_window_.size()) ended_window_.resize(index + 1, false);
  ended_window_[index] = true;
  while (!ended_window_.empty() && ended_window_.front()) {
    ended_window_.pop_front();
    ++lowest_unfinished_;
  }
}

}  // namespace taskpool
