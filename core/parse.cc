#include "core/parse.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "core/error.h"

namespace taskpool {

namespace {

// A finite, non-negative decimal number: digits with an optional fraction. No sign, exponent,
// hex or inf, which strtod would let through.
std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t digits = 0;
  bool dot = false;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

[[noreturn]] void bad_value(std::string_view flag, std::string_view text, std::string_view what) {
  throw UsageError(std::string(flag) + ": '" + std::string(text) + "' is not " + std::string(what));
}

}  // namespace

std::optional<uint64_t> parse_whole_number(std::string_view text) {
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

Duration parse_duration(std::string_view flag, std::string_view text) {
  constexpr std::string_view kWhat =
      "0 or a duration from 1ms to 3650d (ten years), like 500ms, 2s, 1.5m, 1h, 1d or seconds";
  struct Unit {
    std::string_view suffix;
    double seconds;
  };
  // Longest suffixes first, so "ms" is not read as "s".
  constexpr Unit kUnits[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  double scale = 1;
  std::string_view number = text;
  for (const Unit& unit : kUnits) {
    if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
      number = text.substr(0, text.size() - unit.suffix.size());
      scale = unit.seconds;
      break;
    }
  }
  const auto value = parse_number(number);
  if (!value) bad_value(flag, text, kWhat);
  const double seconds = *value * scale;
  if (seconds > to_seconds(kMaxDuration)) bad_value(flag, text, kWhat);
  const Duration duration(static_cast<Duration::rep>(std::llround(seconds * 1e9)));
  if (seconds > 0 && duration < kMinDuration) bad_value(flag, text, kWhat);
  return duration;
}

double parse_rate(std::string_view flag, std::string_view text) {
  constexpr std::string_view kWhat =
      "a rate from 1/d (one a day) to 1000000/s, like 10/s, 600/m, 3600/h, 2/d or a number per "
      "second";
  double per = 1;
  std::string_view number = text;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view unit = text.substr(slash + 1);
    if (unit == "s") {
      per = 1;
    } else if (unit == "m") {
      per = 60;
    } else if (unit == "h") {
      per = 3600;
    } else if (unit == "d") {
      per = 86400;
    } else {
      bad_value(flag, text, kWhat);
    }
    number = text.substr(0, slash);
  }
  const auto value = parse_number(number);
  if (!value) bad_value(flag, text, kWhat);
  const double rate = *value / per;
  // A hair of slack, so that 1/d itself (and 0.0000115740740740741) is in.
  if (rate < kMinRate * (1 - 1e-9) || rate > kMaxRate) {
    bad_value(flag, text, kWhat);
  }
  return rate;
}

HaltPolicy parse_halt(std::string_view text) {
  constexpr std::string_view kFlag = "--halt";
  constexpr std::string_view kWhat =
      "a halt condition (never, or soon|now,fail|success|done=N or N%)";
  using When = HaltPolicy::When;
  using Count = HaltPolicy::Count;
  HaltPolicy policy;
  // GNU parallel's older forms.
  if (text == "never" || text == "0") return policy;
  if (text == "1") return {When::kSoon, Count::kFail, 1, false};
  if (text == "2") return {When::kNow, Count::kFail, 1, false};
  if (text == "-1") return {When::kSoon, Count::kSuccess, 1, false};
  if (text == "-2") return {When::kNow, Count::kSuccess, 1, false};
  if (text.ends_with('%') && text.find(',') == std::string_view::npos) {
    const auto value = parse_whole_number(text.substr(0, text.size() - 1));
    if (!value || *value < 1 || *value > 99) bad_value(kFlag, text, kWhat);
    return {When::kSoon, Count::kFail, *value, true};
  }

  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) bad_value(kFlag, text, kWhat);
  const std::string_view when = text.substr(0, comma);
  const std::string_view why = text.substr(comma + 1);
  if (when == "soon") {
    policy.when = When::kSoon;
  } else if (when == "now") {
    policy.when = When::kNow;
  } else {
    bad_value(kFlag, text, kWhat);
  }
  const size_t equals = why.find('=');
  if (equals == std::string_view::npos) bad_value(kFlag, text, kWhat);
  const std::string_view count = why.substr(0, equals);
  std::string_view value = why.substr(equals + 1);
  if (count == "fail") {
    policy.count = Count::kFail;
  } else if (count == "success") {
    policy.count = Count::kSuccess;
  } else if (count == "done") {
    policy.count = Count::kDone;
  } else {
    bad_value(kFlag, text, kWhat);
  }
  if (value.ends_with('%')) {
    policy.percent = true;
    value.remove_suffix(1);
  }
  const auto threshold = parse_whole_number(value);
  if (!threshold || *threshold == 0 || (policy.percent && *threshold > 100)) {
    bad_value(kFlag, text, kWhat);
  }
  policy.threshold = *threshold;
  return policy;
}

}  // namespace taskpool
