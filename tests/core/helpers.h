// Small helpers several unit test files share. They live here, not in each file's anonymous
// namespace, because the test files are compiled in batches (CMake's unity build), where two
// definitions of one name would clash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/input.h"
#include "core/job.h"

namespace taskpool::testing {

// A job of these fields, as the scheduler hands it out.
inline Job job(uint64_t seq, std::vector<std::string> fields) {
  return Job{seq, Record{std::move(fields)}};
}

// A ValueSource giving these values in order, as a ::: list does.
inline std::unique_ptr<ValueSource> list(std::vector<std::string> values) {
  return std::make_unique<ListSource>(std::move(values));
}

// One value in double quotes, with `"`, `\` and every byte outside printable ASCII escaped, so
// that a failed comparison shows exactly which bytes differ.
inline std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

// The words as text, with brackets and escapes, for comparisons whose failure shows the words.
inline std::string show(const std::vector<std::string>& words) {
  std::string out = "{";
  for (const std::string& w : words) {
    if (out.size() > 1) out += ", ";
    out += quoted(w);
  }
  return out + "}";
}

}  // namespace taskpool::testing
