#include "core/parse.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

// The message of the UsageError that `f` throws, or "" when it does not throw one.
template <typename F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("durations take ms, s, m, h, d suffixes or bare seconds") {
  CHECK(parse_duration("--timeout", "500ms") == 500ms);
  CHECK(parse_duration("--timeout", "2s") == 2s);
  CHECK(parse_duration("--timeout", "1.5m") == 90s);
  CHECK(parse_duration("--timeout", "1h") == 1h);
  CHECK(parse_duration("--timeout", "1d") == 24h);
  CHECK(parse_duration("--timeout", "3") == 3s);
  CHECK(parse_duration("--timeout", "0.25") == 250ms);
  CHECK(parse_duration("--timeout", "0") == 0s);
  CHECK(parse_duration("--timeout", ".5s") == 500ms);
}

TEST_CASE("bad durations name the flag and the value") {
  for (const char* bad : {"-1", "10x", "", "s", "ms", "1.2.3", "1e3", "inf", "nan", " 1", "1 s",
                          "0x10", "+1", "1000000000000"}) {
    CAPTURE(bad);
    const std::string message = usage_error([&] { parse_duration("--deadline", bad); });
    CHECK(message.find("--deadline") != std::string::npos);
    CHECK(message.find("'" + std::string(bad) + "'") != std::string::npos);
  }
}

TEST_CASE("durations are 0 or from 1ms to ten years") {
  CHECK(parse_duration("--deadline", "3650d") == 24h * 3650);
  CHECK(parse_duration("--deadline", "87600h") == kMaxDuration);
  CHECK(parse_duration("--deadline", "5256000m") == kMaxDuration);
  CHECK(parse_duration("--deadline", "315360000") == kMaxDuration);
  CHECK(parse_duration("--timeout", "1ms") == 1ms);
  CHECK(parse_duration("--timeout", "0.001") == 1ms);
  CHECK(parse_duration("--backoff", "0ms") == 0ms);
  CHECK(parse_duration("--backoff", "0.000") == 0ms);
  const std::string huge = "1" + std::string(330, '0') + "d";  // past what a double holds
  const std::vector<std::string> bad_values = {"3650.001d", "3651d",
                                               "87601h",    "315360001",
                                               "36500d",    "99999999999999999999",
                                               huge,        "0.0009",
                                               "0.5ms",     "0.000000000001",
                                               "1e3",       "1E-3",
                                               ".5e1",      "inf",
                                               "-inf",      "nan",
                                               "NaN",       "-1",
                                               "-0.5s",     "infinity"};
  for (const std::string& bad : bad_values) {
    CAPTURE(bad);
    const std::string message = usage_error([&] { parse_duration("--deadline", bad); });
    CHECK(message.find("--deadline: '" + bad + "' is not") == 0);
  }
  CHECK(usage_error([&] { parse_duration("--grace", "3651d"); }) ==
        "--grace: '3651d' is not 0 or a duration from 1ms to 3650d (ten years), like 500ms, 2s, "
        "1.5m, 1h, 1d or seconds");
}

TEST_CASE("rates are per second, minute, hour or day") {
  CHECK(parse_rate("--rate", "10/s") == doctest::Approx(10));
  CHECK(parse_rate("--rate", "600/m") == doctest::Approx(10));
  CHECK(parse_rate("--rate", "3600/h") == doctest::Approx(1));
  CHECK(parse_rate("--rate", "2/d") == doctest::Approx(2.0 / 86400));
  CHECK(parse_rate("--rate", "2.5") == doctest::Approx(2.5));
  for (const char* bad : {"0", "0/s", "abc", "5/x", "", "/s", "-3", "10/", "10/sec"}) {
    CAPTURE(bad);
    CHECK(usage_error([&] { parse_rate("--rate", bad); }).find("--rate") != std::string::npos);
  }
}

TEST_CASE("rates are from one a day to a million a second") {
  CHECK(parse_rate("--rate", "1/d") == doctest::Approx(kMinRate));
  CHECK(parse_rate("--rate", "0.000011574074074074") == doctest::Approx(kMinRate));
  CHECK(parse_rate("--rate", "1000000/s") == doctest::Approx(kMaxRate));
  CHECK(parse_rate("--rate", "1000000") == doctest::Approx(kMaxRate));
  CHECK(parse_rate("--rate", "60000000/m") == doctest::Approx(kMaxRate));
  for (const char* bad :
       {"0.99/d", "0.0000115", "0.000000000001", "1000000.5", "1000001", "60000001/m",
        "99999999999999999999999/s", "1e6", "1e-3", "inf", "nan", "-1/d", "0/d"}) {
    CAPTURE(bad);
    const std::string message = usage_error([&] { parse_rate("--rate", bad); });
    CHECK(message.find("--rate: '" + std::string(bad) + "' is not a rate") == 0);
  }
  CHECK(usage_error([&] { parse_rate("--rate", "0.000000000001"); }) ==
        "--rate: '0.000000000001' is not a rate from 1/d (one a day) to 1000000/s, like 10/s, "
        "600/m, 3600/h, 2/d or a number per second");
}

TEST_CASE("the bounds keep every time point the scheduler computes in range") {
  // The furthest one: a deadline, then its grace, from a clock that has run for a century,
  // plus a timeout and its kill time, a backoff and the wait for the slowest rate's token.
  const TimePoint late = TimePoint() + std::chrono::hours(24 * 36500);
  const Duration most = 4 * kMaxDuration + std::chrono::hours(24);
  CHECK(TimePoint::max() - late > most);
  TokenBucket bucket(kMinRate, 1, late);
  CHECK(bucket.try_take(late));
  const TimePoint next = bucket.next_token(late);
  CHECK(next > late);
  CHECK(next - late <= std::chrono::hours(24) + 1ns);
  RetryPolicy retry{1000000, kMaxDuration, kMaxDuration};
  CHECK(backoff_delay(retry, 1000000, 0.999) <= kMaxDuration);
  CHECK(backoff_delay(retry, 1000000, 0.999) > Duration::zero());
}

TEST_CASE("--halt takes GNU parallel's forms") {
  using When = HaltPolicy::When;
  using Count = HaltPolicy::Count;
  const auto check = [](const char* text, When when, Count count, uint64_t threshold,
                        bool percent) {
    CAPTURE(text);
    const HaltPolicy p = parse_halt(text);
    CHECK(p.when == when);
    if (when == When::kNever) return;
    CHECK(p.count == count);
    CHECK(p.threshold == threshold);
    CHECK(p.percent == percent);
  };
  check("never", When::kNever, Count::kFail, 0, false);
  check("0", When::kNever, Count::kFail, 0, false);
  check("soon,fail=3", When::kSoon, Count::kFail, 3, false);
  check("now,fail=1", When::kNow, Count::kFail, 1, false);
  check("now,fail=10%", When::kNow, Count::kFail, 10, true);
  check("now,success=1", When::kNow, Count::kSuccess, 1, false);
  check("soon,success=30%", When::kSoon, Count::kSuccess, 30, true);
  check("soon,done=2", When::kSoon, Count::kDone, 2, false);
  check("1", When::kSoon, Count::kFail, 1, false);
  check("2", When::kNow, Count::kFail, 1, false);
  check("-1", When::kSoon, Count::kSuccess, 1, false);
  check("-2", When::kNow, Count::kSuccess, 1, false);
  check("20%", When::kSoon, Count::kFail, 20, true);
}

TEST_CASE("bad --halt values are rejected with the flag named") {
  for (const char* bad :
       {"sometimes", "now,fail=0", "now", "now,fail", "later,fail=1", "now,crash=1", "soon,fail=x",
        "soon,fail=101%", "0%", "100%", "", "now,fail=-1", "3"}) {
    CAPTURE(bad);
    CHECK(usage_error([&] { parse_halt(bad); }).find("--halt") != std::string::npos);
  }
}

}  // namespace
}  // namespace taskpool
