#include "core/scheduler.h"

#include <algorithm>
#include <cassert>
#include <functional>

namespace taskpool {

Scheduler::Scheduler(SchedulerOptions options, Clock& clock, Executor& executor,
                     JobSource& source, CommandBuilder build, RunObserver& observer,
                     StopCheck stop_check)
    : options_(options),
      clock_(clock),
      executor_(executor),
      source_(source),
      build_(std::move(build)),
      observer_(observer),
      stop_check_(std::move(stop_check)) {
  assert(options_.workers >= 1);
  // The reorder window must hold at least one full set of workers, or -k would idle them.
  if (options_.keep_order_window != 0) {
    options_.keep_order_window =
        std::max<uint64_t>(options_.keep_order_window, static_cast<uint64_t>(options_.workers));
  }
  running_.resize(static_cast<size_t>(options_.workers));
  for (WorkerId w = options_.workers; w >= 1; --w) free_workers_.push_back(w);
  std::make_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
}

RunStats Scheduler::run() {
  stats_.workers = options_.workers;
  stats_.start = clock_.now();
  while (true) {
    if (stop_check_) apply_stop(stop_check_());
    if (stop_ == StopRequest::kNone) start_ready_jobs();
    const bool nothing_left = input_done_ && ready_.empty();
    if (running_count_ == 0 && (nothing_left || stop_ != StopRequest::kNone)) break;
    for (Completion& completion : executor_.wait(next_wakeup())) handle(std::move(completion));
    if (kill_at_ != kNever && clock_.now() >= kill_at_) {
      kill_at_ = kNever;
      for (auto& slot : running_) {
        if (slot) executor_.cancel(slot->attempt.worker, CancelMode::kKill);
      }
    }
  }
  stats_.not_started = ready_.size();
  stats_.end = clock_.now();
  return stats_;
}

bool Scheduler::pull_one() {
  if (input_done_) return false;
  Record record;
  switch (source_.poll(record)) {
    case JobSource::State::kReady:
      ready_.push_back(Job{next_seq_++, std::move(record)});
      return true;
    case JobSource::State::kNotYet:
      return false;
    case JobSource::State::kEnd:
      input_done_ = true;
      return false;
  }
  return false;
}

bool Scheduler::order_window_allows(uint64_t seq) const {
  return options_.keep_order_window == 0 ||
         seq - lowest_unfinished_ < options_.keep_order_window;
}

void Scheduler::start_ready_jobs() {
  const auto workers = static_cast<size_t>(options_.workers);
  if (options_.mode == DispatchMode::kBatch) {
    // A batch starts only when the previous one has wholly ended, and only full (but the last).
    if (running_count_ != 0) return;
    while (ready_.size() < workers && pull_one()) {
    }
    if (ready_.size() < workers && !input_done_) return;
  }
  while (!free_workers_.empty()) {
    if (ready_.empty() && !pull_one()) return;
    if (!order_window_allows(ready_.front().seq)) return;
    Job job = std::move(ready_.front());
    ready_.pop_front();
    start_job(std::move(job));
  }
}

void Scheduler::start_job(Job job) {
  std::pop_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  const WorkerId worker = free_workers_.back();
  free_workers_.pop_back();

  Attempt attempt{job.seq, 1, worker, build_(job, worker)};
  const TimePoint now = clock_.now();
  executor_.start(attempt);
  observer_.on_start(job, attempt);
  running_[static_cast<size_t>(worker - 1)] = Running{std::move(job), std::move(attempt), now};
  ++running_count_;
}

void Scheduler::handle(Completion completion) {
  auto& slot = running_.at(static_cast<size_t>(completion.worker - 1));
  assert(slot.has_value());
  ++stats_.attempts;
  if (completion.started) stats_.busy += completion.runtime();

  ++stats_.jobs;
  if (completion.succeeded()) {
    ++stats_.succeeded;
  } else {
    ++stats_.failed;
  }
  const TimePoint end = completion.started ? completion.end : clock_.now();
  stats_.latency.add(end - slot->first_start);
  mark_ended(slot->attempt.seq);
  observer_.on_job_end(slot->job, slot->attempt, completion);

  free_workers_.push_back(slot->attempt.worker);
  std::push_heap(free_workers_.begin(), free_workers_.end(), std::greater<>());
  slot.reset();
  --running_count_;
}

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

void Scheduler::apply_stop(StopRequest request) {
  if (request <= stop_) return;
  stop_ = request;
  if (request != StopRequest::kImmediate) return;
  for (auto& slot : running_) {
    if (slot) executor_.cancel(slot->attempt.worker, CancelMode::kTerminate);
  }
  kill_at_ = clock_.now() + options_.kill_after;
}

TimePoint Scheduler::next_wakeup() const { return kill_at_; }

}  // namespace taskpool
