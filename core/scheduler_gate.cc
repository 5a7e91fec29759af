// The scheduler's rules that follow what happens around the jobs: --timeout N% (a share of the
// median runtime of the jobs that succeeded so far), and the start gate of --load and --memfree
// with its kill of the youngest job when memory runs short.
#include <algorithm>

#include "core/scheduler.h"

namespace taskpool {

TimePoint Scheduler::timeout_for(TimePoint started) const {
  if (options_.timeout > Duration::zero()) return started + options_.timeout;
  // GNU parallel's rule: no limit until a job has succeeded, then N% of the median runtime of
  // those that did (the histogram's median is within 3.2 % of the true one; for an even count
  // it is the lower middle value, as GNU parallel's).
  if (options_.timeout_percent <= 0 || successes_.count() == 0) return kNever;
  const double seconds = to_seconds(successes_.percentile(50)) * options_.timeout_percent / 100;
  return started + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

void Scheduler::note_success(const Completion& completion) {
  if (options_.timeout_percent <= 0 || !completion.started) return;
  successes_.add(completion.runtime());
  // The median moved: so does the limit of the attempts running now.
  // cppcheck-suppress constVariable ; the slot's timeout is what changes
  for (std::optional<Running>& slot : running_) {
    if (!slot || slot->timed_out || slot->stopped || slot->short_of_memory) continue;
    slot->timeout_at = timeout_for(slot->started);
  }
}

bool Scheduler::gate_allows(TimePoint now) {
  if (gate_.allows(now)) return true;
  wake_at_ = gate_.next_reading();
  return false;
}

void Scheduler::check_memory(TimePoint now) {
  if (!gate_.kills() || running_count_ == 0) return;
  // One at a time: the memory of the one terminated last is free only once it has ended.
  const auto killed = [](const std::optional<Running>& slot) {
    return slot && slot->short_of_memory;
  };
  if (std::ranges::any_of(running_, killed)) return;
  if (!gate_.memory_short(now)) return;
  // The youngest: the job read last, as GNU parallel takes it.
  std::optional<Running>* youngest = nullptr;
  for (auto& slot : running_) {
    if (!slot || slot->stopped || slot->timed_out) continue;
    if (youngest == nullptr || slot->job.seq > (*youngest)->job.seq) youngest = &slot;
  }
  if (youngest == nullptr) return;
  Running& slot = **youngest;
  slot.short_of_memory = true;
  slot.timeout_at = kNever;
  slot.kill_at = std::min(slot.kill_at, now + options_.kill_after);
  executor_.cancel(slot.attempt.worker, CancelMode::kTerminate);
}

TimePoint Scheduler::gate_wakeup() const {
  // While jobs run, memory is watched at every reading; otherwise only a closed gate (which set
  // wake_at_) needs the next one.
  return gate_.kills() && running_count_ > 0 ? gate_.next_reading() : kNever;
}

}  // namespace taskpool
