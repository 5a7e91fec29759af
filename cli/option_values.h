// The values of flags that only the command line has: counts, byte sizes, --mode, -d. (Durations,
// rates and --halt are core/parse.h's, -j's forms cli/live.h's: those are read during a run too.)
// Each throws UsageError naming the flag and the bad value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/scheduler.h"
#include "core/time.h"

namespace taskpool {

// A whole number from 0 to `max`.
uint64_t parse_count(const char* flag, const std::string& value, uint64_t max);

// "500k", "2M", "1G" or a number of bytes, from 1 to 1 TiB.
long long parse_bytes(const char* flag, const std::string& value);

// --mode: pool or batch.
DispatchMode parse_mode(const std::string& value);

// A duration as parse_duration reads it, but not 0 (--timeout, --deadline: 0 would end at once).
Duration parse_duration_above_zero(const char* flag, const std::string& value);

// --timeout N%: the percentage N (digits with an optional fraction, above 0) when `value` ends in
// %, nullopt when it does not (a duration, then).
std::optional<double> parse_timeout_percent(const std::string& value);

// --load as GNU parallel takes it: N processes (a fraction too), +N or -N (the CPUs plus or minus
// N), N% (of the CPUs); below 0.01 it is 0.01 (0 is 0.01, as in GNU parallel).
double parse_load(const std::string& value, int cpus);

}  // namespace taskpool
