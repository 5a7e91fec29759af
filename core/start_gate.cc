#include "core/start_gate.h"

namespace taskpool {

void StartGate::read(TimePoint now) {
  if (read_at_ != kNever && now < read_at_ + options_.interval) return;
  read_at_ = now;
  ++readings_;
  started_since_reading_ = 0;
  if (options_.max_load) {
    if (const std::optional<double> load = options_.readings->load()) load_ = load;
  }
  if (options_.memfree != 0) {
    if (const std::optional<uint64_t> bytes = options_.readings->available_memory()) {
      available_ = bytes;
    }
  }
}

bool StartGate::allows(TimePoint now) {
  if (!enabled()) return true;
  read(now);
  if (options_.max_load && load_ &&
      *load_ + static_cast<double>(started_since_reading_) >= *options_.max_load) {
    return false;
  }
  return options_.memfree == 0 || !available_ || *available_ >= options_.memfree;
}

bool StartGate::memory_short(TimePoint now) {
  if (!kills()) return false;
  read(now);
  return available_ && *available_ < options_.memfree / 2;
}

}  // namespace taskpool
