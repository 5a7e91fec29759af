// Fuzzes the flag value parsers (core/parse.h) on the same text: parse_whole_number,
// parse_duration, parse_rate and parse_halt. Each either returns a value that keeps its contract
// or throws UsageError; any other exception escapes and libFuzzer reports it.
//
// Properties, each against a small model written here:
//   parse_whole_number  digits only, and exactly when the value fits in 64 bits; it prints back
//                       as the text without leading zeros
//   parse_duration      0 or from 1ms to ten years; accepted exactly when the text is a
//                       decimal number with an optional ms|s|m|h|d suffix, in that range;
//                       exact for whole numbers of small size
//   parse_rate          from one a day to a million a second; accepted exactly when the text
//                       is a decimal number, optionally followed by /s, /m, /h or /d, in that
//                       range
//   parse_halt          a policy that keeps its invariants, and its canonical text parses back
//                       to the same policy
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "tests/fuzz/fuzz_check.h"

namespace taskpool {
namespace {

using fuzz::escaped;

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits with at most one '.', at least one digit.
bool is_decimal(std::string_view text) {
  size_t digits = 0;
  size_t dots = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return false;
    }
  }
  return digits > 0 && dots <= 1;
}

// The digits before the '.', without leading zeros: how many there are bounds the value.
size_t whole_digits(std::string_view decimal) {
  decimal = decimal.substr(0, decimal.find('.'));
  while (!decimal.empty() && decimal.front() == '0') decimal.remove_prefix(1);
  return decimal.size();
}

// Beyond double's range (above 1e308, below 1e-308 or so) from_chars fails and the value is
// refused as not a number: the model allows that rather than a value of zero or infinity.
bool out_of_range(std::string_view decimal) {
  if (whole_digits(decimal) > 300) return true;
  const size_t dot = decimal.find('.');
  if (whole_digits(decimal) > 0 || dot == std::string_view::npos) return false;
  const size_t nonzero = decimal.find_first_not_of('0', dot + 1);
  return nonzero != std::string_view::npos && nonzero - dot > 300;
}

void check_whole_number(std::string_view text) {
  const auto value = parse_whole_number(text);
  std::optional<uint64_t> model;
  if (all_digits(text)) {
    uint64_t v = 0;
    bool fits = true;
    for (const char c : text) {
      fits = fits && !__builtin_mul_overflow(v, 10, &v) &&
             !__builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v);
    }
    if (fits) model = v;
  }
  FUZZ_CHECK(value == model, "text: " + escaped(text));
  if (value) {
    std::string_view canonical = text;
    while (canonical.size() > 1 && canonical.front() == '0') canonical.remove_prefix(1);
    FUZZ_CHECK(std::to_string(*value) == canonical, "text: " + escaped(text));
  }
}

void check_duration(std::string_view text) {
  const auto most = static_cast<double>(kMaxDuration.count());
  const auto least = static_cast<double>(kMinDuration.count());
  // The model: a decimal and an optional unit (the longest suffix that leaves a number).
  std::string_view number = text;
  int64_t unit_ns = 1'000'000'000;
  for (const auto& [suffix, ns] : {std::pair<std::string_view, int64_t>{"ms", 1'000'000},
                                   {"s", 1'000'000'000},
                                   {"m", 60'000'000'000},
                                   {"h", 3'600'000'000'000},
                                   {"d", 86'400'000'000'000}}) {
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      number = text.substr(0, text.size() - suffix.size());
      unit_ns = ns;
      break;
    }
  }
  const bool well_formed = is_decimal(number);
  std::optional<Duration> duration;
  try {
    duration = parse_duration("--timeout", text);
  } catch (const UsageError& error) {
    const std::string message = error.what();
    FUZZ_CHECK(message.starts_with("--timeout: "), message);
    // Well-formed values in range are accepted (the model's margins cover rounding).
    const double ns = well_formed ? std::strtod(std::string(number).c_str(), nullptr) * unit_ns : 0;
    const bool outside = ns > most * (1 - 1e-9) || (ns > 0 && ns < least * (1 + 1e-9));
    FUZZ_CHECK(!well_formed || outside || out_of_range(number), "rejected: " + escaped(text));
    return;
  }
  FUZZ_CHECK(well_formed, "accepted: " + escaped(text));
  FUZZ_CHECK(duration->count() == 0 ||
                 (*duration >= kMinDuration && duration->count() <= kMaxDuration.count() + 1),
             escaped(text) + " -> " + std::to_string(duration->count()));
  if (all_digits(number) && whole_digits(number) <= 6) {
    int64_t value = 0;
    for (const char c : number) value = value * 10 + (c - '0');
    FUZZ_CHECK(duration->count() == value * unit_ns,
               escaped(text) + " -> " + std::to_string(duration->count()));
  }
}

void check_rate(std::string_view text) {
  std::string_view number = text;
  bool well_formed = true;
  double per = 1;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view unit = text.substr(slash + 1);
    well_formed = unit == "s" || unit == "m" || unit == "h" || unit == "d";
    per = unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 1;
    number = text.substr(0, slash);
  }
  well_formed = well_formed && is_decimal(number);
  double rate = 0;
  try {
    rate = parse_rate("--rate", text);
  } catch (const UsageError& error) {
    const std::string message = error.what();
    FUZZ_CHECK(message.starts_with("--rate: "), message);
    const double model = well_formed ? std::strtod(std::string(number).c_str(), nullptr) / per : 0;
    const bool outside = model < kMinRate * (1 + 1e-6) || model > kMaxRate * (1 - 1e-9);
    FUZZ_CHECK(!well_formed || outside || out_of_range(number), "rejected: " + escaped(text));
    return;
  }
  FUZZ_CHECK(well_formed, "accepted: " + escaped(text));
  FUZZ_CHECK(std::isfinite(rate) && rate >= kMinRate * (1 - 1e-6) && rate <= kMaxRate,
             escaped(text) + " -> " + std::to_string(rate));
}

std::string canonical(const HaltPolicy& policy) {
  if (policy.when == HaltPolicy::When::kNever) return "never";
  std::string text = policy.when == HaltPolicy::When::kNow ? "now," : "soon,";
  switch (policy.count) {
    case HaltPolicy::Count::kFail:
      text += "fail=";
      break;
    case HaltPolicy::Count::kSuccess:
      text += "success=";
      break;
    case HaltPolicy::Count::kDone:
      text += "done=";
      break;
  }
  text += std::to_string(policy.threshold);
  if (policy.percent) text += '%';
  return text;
}

bool same(const HaltPolicy& a, const HaltPolicy& b) {
  if (a.when == HaltPolicy::When::kNever) return b.when == HaltPolicy::When::kNever;
  return a.when == b.when && a.count == b.count && a.threshold == b.threshold &&
         a.percent == b.percent;
}

void check_halt(std::string_view text) {
  HaltPolicy policy;
  try {
    policy = parse_halt(text);
  } catch (const UsageError& error) {
    const std::string message = error.what();
    FUZZ_CHECK(message.starts_with("--halt: "), message);
    return;
  }
  if (policy.when == HaltPolicy::When::kNever) {
    FUZZ_CHECK(text == "never" || text == "0", "never from " + escaped(text));
    return;
  }
  FUZZ_CHECK(policy.threshold >= 1, escaped(text));
  FUZZ_CHECK(!policy.percent || policy.threshold <= 100, escaped(text));
  const std::string again = canonical(policy);
  HaltPolicy reparsed;
  try {
    reparsed = parse_halt(again);
  } catch (const UsageError& error) {
    FUZZ_CHECK(false, escaped(text) + " -> " + again + ": " + error.what());
  }
  FUZZ_CHECK(same(policy, reparsed), escaped(text) + " -> " + again);
}

}  // namespace
}  // namespace taskpool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_whole_number(text);
  check_duration(text);
  check_rate(text);
  check_halt(text);
  return 0;
}
