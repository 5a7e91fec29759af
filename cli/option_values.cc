#include "cli/option_values.h"

#include <charconv>
#include <optional>

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

char parse_delimiter(const std::string& value) {
  if (value.size() == 1) return value[0];
  if (value == "\\n") return '\n';
  if (value == "\\t") return '\t';
  if (value == "\\r") return '\r';
  if (value == "\\0") return '\0';
  if (value == "\\\\") return '\\';
  if (value.size() == 4 && value[0] == '\\' && value[1] == 'x') {
    unsigned byte = 0;
    const auto [ptr, ec] = std::from_chars(value.data() + 2, value.data() + 4, byte, 16);
    if (ec == std::errc() && ptr == value.data() + 4) return static_cast<char>(byte);
  }
  throw UsageError("-d/--delimiter: '" + value +
                   "' is not one character (or \\n, \\t, \\r, \\0, \\\\, \\xHH)");
}

}  // namespace taskpool
