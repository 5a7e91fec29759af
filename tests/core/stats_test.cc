#include "core/stats.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TEST_CASE("histogram buckets are exact below 16 µs and contiguous above") {
  for (uint64_t us = 0; us < 16; ++us) CHECK(Histogram::bucket_of(us) == static_cast<int>(us));
  for (int b = 16; b < Histogram::kBuckets - 1; ++b) {
    CAPTURE(b);
    const uint64_t upper = Histogram::bucket_upper(b);
    CHECK(Histogram::bucket_of(upper - 1) == b);
    CHECK(Histogram::bucket_of(upper) == b + 1);
  }
}

TEST_CASE("histogram percentiles stay within the bucket precision") {
  std::mt19937 random(7);
  std::lognormal_distribution<double> dist(10.0, 2.0);  // µs, a long tail
  std::vector<double> values;
  Histogram h;
  for (int i = 0; i < 20000; ++i) {
    const double us = dist(random);
    values.push_back(us);
    h.add(std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::micro>(us)));
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 50.0, 90.0, 95.0, 99.0, 99.9}) {
    CAPTURE(p);
    const double exact = values[static_cast<size_t>(std::ceil(p / 100 * values.size())) - 1];
    const double got = std::chrono::duration<double, std::micro>(h.percentile(p)).count();
    CHECK(got == doctest::Approx(exact).epsilon(0.04));
  }
  CHECK(h.count() == 20000);
  CHECK(std::chrono::duration<double, std::micro>(h.min()).count() ==
        doctest::Approx(values.front()).epsilon(0.001));
  CHECK(std::chrono::duration<double, std::micro>(h.max()).count() ==
        doctest::Approx(values.back()).epsilon(0.001));
}

TEST_CASE("percentiles are clamped to the exact min and max") {
  Histogram h;
  h.add(1234567us);
  CHECK(h.percentile(0) == 1234567us);
  CHECK(h.percentile(50) == 1234567us);
  CHECK(h.percentile(100) == 1234567us);
}

TEST_CASE("an empty histogram reports zeros") {
  Histogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile(50) == 0s);
  CHECK(h.min() == 0s);
  CHECK(h.max() == 0s);
}

TEST_CASE("very long durations land in the last bucket without overflow") {
  Histogram h;
  h.add(std::chrono::hours(24 * 400));
  h.add(1s);
  CHECK(h.count() == 2);
  CHECK(h.percentile(100) == std::chrono::hours(24 * 400));
}

TEST_CASE("run statistics derive throughput, utilization and idle time") {
  RunStats s;
  s.workers = 4;
  s.jobs = 10;
  s.start = TimePoint{};
  s.end = TimePoint{} + 2s;
  s.busy = 6s;
  CHECK(s.jobs_per_second() == doctest::Approx(5));
  CHECK(s.utilization() == doctest::Approx(0.75));
  CHECK(s.idle() == 2s);
  RunStats empty;
  CHECK(empty.jobs_per_second() == 0);
  CHECK(empty.utilization() == 0);
}

}  // namespace
}  // namespace taskpool
