// Time as the scheduler sees it. Everything that waits or measures goes through a Clock, so the
// scheduler can be tested with a fake one.
#pragma once

#include <time.h>

#include <chrono>

namespace taskpool {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;

inline constexpr TimePoint kNever = TimePoint::max();

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// The time from now until `deadline` (zero once it has passed), as poll(2) and ppoll(2) take it.
inline timespec timespec_until(TimePoint deadline) {
  const TimePoint current = std::chrono::steady_clock::now();
  const Duration left = deadline > current ? deadline - current : Duration::zero();
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  return timespec{static_cast<time_t>(nanoseconds / 1'000'000'000),
                  static_cast<long>(nanoseconds % 1'000'000'000)};
}

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace taskpool
