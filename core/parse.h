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

// Digits only: no sign, no blanks. Nullopt when `text` is anything else or too large.
std::optional<uint64_t> parse_whole_number(std::string_view text);

// "500ms", "2s", "1.5m", "1h", "1d", or a bare number of seconds. Not negative.
Duration parse_duration(std::string_view flag, std::string_view text);

// "10/s", "600/m", "3600/h", or a bare number per second. Positive. Returns per second.
double parse_rate(std::string_view flag, std::string_view text);

// GNU parallel's --halt: "never", "soon,fail=3", "now,fail=10%", "now,success=1", "soon,done=2",
// and the old forms 0, 1, 2, -1, -2 and "1-99%".
HaltPolicy parse_halt(std::string_view text);

}  // namespace taskpool
