#include "core/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace taskpool {

int Histogram::bucket_of(uint64_t micros) {
  if (micros < kSubBuckets) return static_cast<int>(micros);
  const int exponent = static_cast<int>(std::bit_width(micros)) - 1;  // >= 4
  const int mantissa = static_cast<int>(micros >> (exponent - 4)) - kSubBuckets;
  return std::min((exponent - 3) * kSubBuckets + mantissa, kBuckets - 1);
}

uint64_t Histogram::bucket_upper(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket) + 1;
  const int exponent = bucket / kSubBuckets + 3;
  const uint64_t mantissa = static_cast<uint64_t>(bucket % kSubBuckets);
  return (kSubBuckets + mantissa + 1) << (exponent - 4);
}

void Histogram::add(Duration d) {
  if (d < Duration{0}) d = Duration{0};
  const auto micros =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  ++buckets_[bucket_of(micros)];
  if (count_ == 0 || d < min_) min_ = d;
  if (count_ == 0 || d > max_) max_ = d;
  ++count_;
}

Duration Histogram::percentile(double p) const {
  if (count_ == 0) return Duration{0};
  p = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p / 100.0 * count_)));
  if (rank >= count_) return max_;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen < rank) continue;
    const uint64_t lower = b == 0 ? 0 : bucket_upper(b - 1);
    const uint64_t upper = bucket_upper(b);
    // Buckets below 16 µs hold one whole microsecond each: report it as it is.
    const double middle_us =
        b < kSubBuckets ? static_cast<double>(lower) : (static_cast<double>(lower) + upper) / 2.0;
    const Duration middle =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::micro>(middle_us));
    return std::clamp(middle, min_, max_);
  }
  return max_;
}

double RunStats::jobs_per_second() const {
  const double seconds = to_seconds(wall());
  return seconds > 0 ? static_cast<double>(jobs) / seconds : 0.0;
}

Duration RunStats::capacity() const {
  return worker_changes.empty() ? wall() * workers : worker_time;
}

double RunStats::utilization() const {
  const double seconds = to_seconds(capacity());
  if (seconds <= 0) return 0.0;
  return std::clamp(to_seconds(busy) / seconds, 0.0, 1.0);
}

Duration RunStats::idle() const { return std::max(Duration{0}, capacity() - busy); }

}  // namespace taskpool
