#include "core/policy.h"

#include <doctest/doctest.h>

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TEST_CASE("backoff doubles per attempt, is capped, and jitters within [half, full]") {
  RetryPolicy policy;
  policy.backoff = 1s;
  policy.backoff_max = 10s;
  // The top of the jitter range is the undiminished delay.
  CHECK(backoff_delay(policy, 1, 1.0) == 1s);
  CHECK(backoff_delay(policy, 2, 1.0) == 2s);
  CHECK(backoff_delay(policy, 3, 1.0) == 4s);
  CHECK(backoff_delay(policy, 4, 1.0) == 8s);
  CHECK(backoff_delay(policy, 5, 1.0) == 10s);
  CHECK(backoff_delay(policy, 500, 1.0) == 10s);
  // The bottom is half of it.
  CHECK(backoff_delay(policy, 1, 0.0) == 500ms);
  CHECK(backoff_delay(policy, 3, 0.0) == 2s);
  CHECK(backoff_delay(policy, 50, 0.0) == 5s);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    for (double r : {0.0, 0.1, 0.5, 0.9, 0.999}) {
      const Duration full = std::min<Duration>(10s, Duration(1s) * (1 << (attempt - 1)));
      const Duration d = backoff_delay(policy, attempt, r);
      CHECK(d >= full / 2);
      CHECK(d <= full);
    }
  }
}

TEST_CASE("backoff 0 retries at once, and a cap below the first delay does not shorten it") {
  RetryPolicy policy;
  policy.backoff = 0s;
  CHECK(backoff_delay(policy, 1, 0.7) == 0s);
  CHECK(backoff_delay(policy, 9, 0.7) == 0s);
  policy.backoff = 4s;
  policy.backoff_max = 1s;
  CHECK(backoff_delay(policy, 3, 1.0) == 4s);
}

TEST_CASE("the token bucket paces starts evenly and lets a burst through at once") {
  const TimePoint t0{};
  TokenBucket paced(10.0, 1, t0);
  CHECK(paced.try_take(t0));
  CHECK_FALSE(paced.try_take(t0));
  CHECK(paced.next_token(t0) == t0 + 100ms);
  CHECK_FALSE(paced.try_take(t0 + 99ms));
  CHECK(paced.try_take(t0 + 100ms));
  // Idle time does not save up more than the burst.
  CHECK(paced.try_take(t0 + 10s));
  CHECK_FALSE(paced.try_take(t0 + 10s));

  TokenBucket bursty(10.0, 3, t0);
  CHECK(bursty.try_take(t0));
  CHECK(bursty.try_take(t0));
  CHECK(bursty.try_take(t0));
  CHECK_FALSE(bursty.try_take(t0));
  CHECK(bursty.next_token(t0) == t0 + 100ms);
}

TEST_CASE("the token bucket's announced next token is always there when asked for") {
  const TimePoint t0{};
  TokenBucket bucket(7.0, 1, t0);  // 1/7 s does not divide evenly into nanoseconds
  TimePoint now = t0;
  int taken = 0;
  for (int i = 0; i < 1000; ++i) {
    if (!bucket.try_take(now)) {
      now = bucket.next_token(now);
      REQUIRE(bucket.try_take(now));
    }
    ++taken;
  }
  CHECK(taken == 1000);
  // 999 waits of 1/7 s.
  CHECK(to_seconds(now - t0) == doctest::Approx(999.0 / 7).epsilon(1e-6));
}

TEST_CASE("halt conditions count failures, successes, or both, by number or percentage") {
  using When = HaltPolicy::When;
  using Count = HaltPolicy::Count;
  CHECK_FALSE(halt_reached(HaltPolicy{}, {100, 0, 100}));
  const HaltPolicy fail2{When::kSoon, Count::kFail, 2, false};
  CHECK_FALSE(halt_reached(fail2, {1, 5, 10}));
  CHECK(halt_reached(fail2, {2, 0, 10}));
  const HaltPolicy success1{When::kNow, Count::kSuccess, 1, false};
  CHECK_FALSE(halt_reached(success1, {3, 0, 10}));
  CHECK(halt_reached(success1, {3, 1, 10}));
  const HaltPolicy done3{When::kSoon, Count::kDone, 3, false};
  CHECK_FALSE(halt_reached(done3, {1, 1, 10}));
  CHECK(halt_reached(done3, {2, 1, 10}));
  const HaltPolicy fail_half{When::kSoon, Count::kFail, 50, true};
  CHECK_FALSE(halt_reached(fail_half, {4, 0, 10}));
  CHECK(halt_reached(fail_half, {5, 0, 10}));
  CHECK_FALSE(halt_reached(fail_half, {0, 0, 0}));
}

}  // namespace
}  // namespace taskpool
