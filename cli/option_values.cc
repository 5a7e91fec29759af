#include "cli/option_values.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include "cli/options.h"
#include "core/error.h"
#include "core/parse.h"

namespace taskpool {

uint64_t parse_count(const char* flag, const std::string& value, uint64_t max) {
  const std::optional<uint64_t> count = parse_whole_number(value);
  if (!count || *count > max) {
    throw UsageError(std::string(flag) + ": '" + value + "' is not a whole number up to " +
                     std::to_string(max));
  }
  return *count;
}

// Up to 1 TiB (1024G): past it the product of a number and its unit would overflow, and no
// transfer is that fast.
long long parse_bytes(const char* flag, const std::string& value) {
  std::string digits = value;
  long long scale = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        scale = 1024;
        break;
      case 'm':
      case 'M':
        scale = 1024 * 1024;
        break;
      case 'g':
      case 'G':
        scale = 1024LL * 1024 * 1024;
        break;
      default:
        break;
    }
    if (scale != 1) digits.pop_back();
  }
  constexpr uint64_t kMostBytes = 1ULL << 40;
  const std::optional<uint64_t> count = parse_whole_number(digits);
  if (!count || *count == 0 || *count > kMostBytes / static_cast<uint64_t>(scale)) {
    throw UsageError(std::string(flag) + ": '" + value +
                     "' is not a number of bytes from 1 to 1024G (k, M, G: KiB, MiB, GiB)");
  }
  return static_cast<long long>(*count) * scale;
}

DispatchMode parse_mode(const std::string& value) {
  if (value == "pool") return DispatchMode::kPool;
  if (value == "batch") return DispatchMode::kBatch;
  throw UsageError("--mode: '" + value + "' is not a mode (use pool or batch)");
}

Duration parse_duration_above_zero(const char* flag, const std::string& value) {
  const Duration duration = parse_duration(flag, value);
  if (duration == Duration::zero()) {
    throw UsageError(std::string(flag) + ": '" + value + "' is not a duration above zero");
  }
  return duration;
}

namespace {

// Digits with an optional fraction, as GNU parallel's \d+(\.\d+)?: no sign, exponent or blank.
std::optional<double> parse_decimal(std::string_view text) {
  const size_t dot = text.find('.');
  if (!parse_whole_number(text.substr(0, dot))) return std::nullopt;
  if (dot != std::string_view::npos && !parse_whole_number(text.substr(dot + 1))) {
    return std::nullopt;
  }
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

}  // namespace

std::optional<double> parse_timeout_percent(const std::string& value) {
  if (!value.ends_with('%')) return std::nullopt;
  const std::optional<double> percent =
      parse_decimal(std::string_view(value).substr(0, value.size() - 1));
  if (!percent || *percent <= 0) {
    throw UsageError("--timeout: '" + value +
                     "' is not a percentage above zero (N%: of the "
                     "median runtime of the jobs that succeeded)");
  }
  return percent;
}

double parse_load(const std::string& value, int cpus) {
  std::string_view text = value;
  char sign = '\0';
  if (text.starts_with('+') || text.starts_with('-')) sign = text.front();
  if (sign != 0) text.remove_prefix(1);
  const bool percent = sign == 0 && text.ends_with('%');
  if (percent) text.remove_suffix(1);
  // GNU parallel takes whole numbers with a sign or a %, fractions only bare.
  const std::optional<double> number =
      sign != 0 || percent ? std::optional<double>(parse_whole_number(text)) : parse_decimal(text);
  if (!number || *number > 1e6) {
    throw UsageError("--load: '" + value +
                     "' is not a number of running processes (N, +N or -N: the CPUs plus or "
                     "minus N, N%: of the CPUs)");
  }
  double load = *number;
  if (sign == '+') load = cpus + *number;
  if (sign == '-') load = cpus - *number;
  if (percent) load = cpus * *number / 100;
  return std::max(load, 0.01);
}

namespace {

// The byte an escape at value[i] ('\\') stands for, and how many characters it takes; nullopt
// when it is no escape (the backslash is itself).
std::optional<std::pair<char, size_t>> delimiter_escape(std::string_view value, size_t i) {
  if (i + 1 >= value.size()) return std::nullopt;
  const char next = value[i + 1];
  const auto octal = [](char c) { return c >= '0' && c <= '7'; };
  switch (next) {
    case 'n':
      return std::pair{'\n', size_t{2}};
    case 't':
      return std::pair{'\t', size_t{2}};
    case 'r':
      return std::pair{'\r', size_t{2}};
    case '\\':
      return std::pair{'\\', size_t{2}};
    case 'x': {
      unsigned byte = 0;
      const char* first = value.data() + i + 2;
      const char* last = value.data() + std::min(value.size(), i + 4);
      const auto [ptr, ec] = std::from_chars(first, last, byte, 16);
      if (ec != std::errc() || ptr != first + 2) {
        throw UsageError("-d/--delimiter: '" + std::string(value) +
                         "': \\x needs two hexadecimal digits");
      }
      return std::pair{static_cast<char>(byte), size_t{4}};
    }
    default:
      break;
  }
  if (!octal(next)) return std::nullopt;
  // As GNU parallel: three octal digits (\012), else one (\0).
  if (i + 3 < value.size() && octal(value[i + 2]) && octal(value[i + 3])) {
    const int byte = (next - '0') * 64 + (value[i + 2] - '0') * 8 + (value[i + 3] - '0');
    return std::pair{static_cast<char>(byte), size_t{4}};
  }
  return std::pair{static_cast<char>(next - '0'), size_t{2}};
}

}  // namespace

std::string parse_delimiter(const std::string& value) {
  std::string bytes;
  for (size_t i = 0; i < value.size();) {
    if (value[i] == '\\') {
      if (const auto escape = delimiter_escape(value, i)) {
        bytes += escape->first;
        i += escape->second;
        continue;
      }
    }
    bytes += value[i++];
  }
  return bytes;
}
}  // namespace taskpool
