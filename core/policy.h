// The scheduler's policies for failure and time: retry with backoff, rate pacing, and --halt.
// Pure functions and small value types, so they can be tested without a scheduler.
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace taskpool {

struct RetryPolicy {
  int retries = 0;                             // attempts after the first one
  Duration backoff = std::chrono::seconds(1);  // the delay before the first retry
  Duration backoff_max = std::chrono::seconds(60);

  bool operator==(const RetryPolicy&) const = default;
};

// The delay before the attempt after `failed_attempt` (1 for the first attempt): backoff doubled
// for each earlier retry, capped at backoff_max, then scaled by a jitter factor in [0.5, 1] taken
// from `random01` (uniform in [0, 1)), so jobs that fail together do not retry together.
Duration backoff_delay(const RetryPolicy& policy, int failed_attempt, double random01);

// Paces attempt starts: `rate` tokens per second, at most `burst` saved up. Starts full.
// Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate_per_second, int burst, TimePoint start);

  // Takes a token when one is there.
  bool try_take(TimePoint now);
  // When the next token will be there (`now` when one already is).
  TimePoint next_token(TimePoint now);
  // The time `d` before now did not happen (the run was suspended): no tokens came in it.
  void shift(Duration d) { last_ += d; }

 private:
  void refill(TimePoint now);

  double rate_;  // tokens per nanosecond
  double burst_;
  double tokens_;
  TimePoint last_;
};

// GNU parallel's --halt: when to stop the run early, and how.
struct HaltPolicy {
  enum class When { kNever, kSoon, kNow };
  enum class Count { kFail, kSuccess, kDone };
  When when = When::kNever;
  Count count = Count::kFail;
  uint64_t threshold = 1;  // a number of jobs, or a percentage when `percent`
  bool percent = false;

  bool operator==(const HaltPolicy&) const = default;
};

// What the run's tallies mean for a halt policy.
struct HaltTally {
  uint64_t failed = 0;
  uint64_t succeeded = 0;
  uint64_t jobs = 0;  // all jobs: when the input is not read to its end yet, the jobs read so far
};

// True when the policy's condition is met.
bool halt_reached(const HaltPolicy& policy, const HaltTally& tally);

}  // namespace taskpool
