// Time as the scheduler sees it. Everything that waits or measures goes through a Clock, so the
// scheduler can be tested with a fake one.
#pragma once

#include <chrono>

namespace taskpool {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;

inline constexpr TimePoint kNever = TimePoint::max();

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

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
