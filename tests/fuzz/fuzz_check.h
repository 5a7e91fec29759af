// What the fuzz targets share: a property check that stops the run with a message libFuzzer
// reports as a crash (and saves the input for).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace taskpool::fuzz {

// `text` with every byte outside printable ASCII (and the backslash) as \xHH, for messages.
inline std::string escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    }
  }
  return out;
}

[[noreturn]] inline void property_failed(const char* file, int line, const char* condition,
                                         const std::string& detail) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, condition);
  if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
  std::abort();
}

}  // namespace taskpool::fuzz

// A macro for the file, the line and the condition's text; `detail` is built only on failure.
#define FUZZ_CHECK(condition, detail)                                                         \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      ::taskpool::fuzz::property_failed(__FILE__, __LINE__, #condition, std::string(detail)); \
    }                                                                                         \
  } while (0)
