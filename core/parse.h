// Parsing the values of flags that are more than a number: durations, rates, --halt.
// Each throws UsageError naming the flag and the bad value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/policy.h"
#include "core/time.h"

namespace taskpool {

// The bounds of every duration and rate a flag takes. Ten years is longer than any run a user
// could want, and every time point taskpool computes is now plus a few such durations: far
// inside the 292 years a nanosecond count holds. A duration above zero is at least a
// millisecond, so that a tiny one is an error, not silently zero.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 3650);
inline constexpr Duration kMinDuration = std::chrono::milliseconds(1);
// Rates, per second: from one a day (waits of a day at most) to a million a second (more than
// any machine starts processes or transfers).
inline constexpr double kMinRate = 1.0 / 86400;
inline constexpr double kMaxRate = 1e6;

// Digits only: no sign, no blanks. Nullopt when `text` is anything else or too large.
std::optional<uint64_t> parse_whole_number(std::string_view text);

// "500ms", "2s", "1.5m", "1h", "1d", or a bare number of seconds: digits with an optional
// fraction (no sign, exponent, inf or nan). 0, or from kMinDuration to kMaxDuration.
Duration parse_duration(std::string_view flag, std::string_view text);

// "10/s", "600/m", "3600/h", "2/d", or a bare number per second, from kMinRate to kMaxRate.
// Returns per second.
double parse_rate(std::string_view flag, std::string_view text);

// GNU parallel's --halt: "never", "soon,fail=3", "now,fail=10%", "now,success=1", "soon,done=2",
// and the old forms 0, 1, 2, -1, -2 and "1-99%".
HaltPolicy parse_halt(std::string_view text);

}  // namespace taskpool
