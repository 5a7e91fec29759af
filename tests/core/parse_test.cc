#include "core/parse.h"

#include <doctest/doctest.h>

#include <string>

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

TEST_CASE("rates are per second, minute or hour") {
  CHECK(parse_rate("--rate", "10/s") == doctest::Approx(10));
  CHECK(parse_rate("--rate", "600/m") == doctest::Approx(10));
  CHECK(parse_rate("--rate", "3600/h") == doctest::Approx(1));
  CHECK(parse_rate("--rate", "2.5") == doctest::Approx(2.5));
  for (const char* bad : {"0", "0/s", "abc", "5/x", "", "/s", "-3", "10/", "10/sec"}) {
    CAPTURE(bad);
    CHECK(usage_error([&] { parse_rate("--rate", bad); }).find("--rate") != std::string::npos);
  }
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
