#include "core/policy.h"

#include <algorithm>
#include <cmath>

namespace taskpool {

Duration backoff_delay(const RetryPolicy& policy, int failed_attempt, double random01) {
  if (policy.backoff <= Duration::zero()) return Duration::zero();
  const double base = static_cast<double>(policy.backoff.count());
  const double cap = static_cast<double>(std::max(policy.backoff_max, policy.backoff).count());
  // 2^62 already exceeds any cap a Duration can hold; the exponent stops there.
  const int doublings = std::clamp(failed_attempt - 1, 0, 62);
  const double delay = std::min(cap, std::ldexp(base, doublings));
  const double jitter = 0.5 + 0.5 * std::clamp(random01, 0.0, 1.0);
  return Duration(static_cast<Duration::rep>(delay * jitter));
}

TokenBucket::TokenBucket(double rate_per_second, int burst, TimePoint start)
    : rate_(rate_per_second / 1e9), burst_(std::max(1, burst)), tokens_(burst_), last_(start) {}

void TokenBucket::refill(TimePoint now) {
  if (now <= last_) return;
  tokens_ = std::min(burst_, tokens_ + static_cast<double>((now - last_).count()) * rate_);
  last_ = now;
}

bool TokenBucket::try_take(TimePoint now) {
  refill(now);
  // A hair of slack: the wakeup computed by next_token() must find its token.
  if (tokens_ < 1.0 - 1e-9) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

TimePoint TokenBucket::next_token(TimePoint now) {
  refill(now);
  if (tokens_ >= 1.0 - 1e-9) return now;
  const double wait = std::ceil((1.0 - tokens_) / rate_);
  return now + Duration(static_cast<Duration::rep>(wait));
}

bool halt_reached(const HaltPolicy& policy, const HaltTally& tally) {
  if (policy.when == HaltPolicy::When::kNever) return false;
  uint64_t counted = 0;
  switch (policy.count) {
    case HaltPolicy::Count::kFail:
      counted = tally.failed;
      break;
    case HaltPolicy::Count::kSuccess:
      counted = tally.succeeded;
      break;
    case HaltPolicy::Count::kDone:
      counted = tally.failed + tally.succeeded;
      break;
  }
  if (counted == 0) return false;
  if (!policy.percent) return counted >= policy.threshold;
  return tally.jobs > 0 && counted * 100 >= policy.threshold * tally.jobs;
}

}  // namespace taskpool
