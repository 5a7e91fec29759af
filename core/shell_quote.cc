#include "core/shell_quote.h"

namespace taskpool {

namespace {

bool is_safe_byte(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '_':
    case '-':
    case '.':
    case '/':
    case '+':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_shell_safe(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_safe_byte(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string shell_quote(std::string_view s) {
  if (is_shell_safe(s)) return std::string(s);
  std::string quoted;
  quoted.reserve(s.size() + 2);
  quoted += '\'';
  for (const char c : s) {
    if (c == '\'') {
      quoted += "'\"'\"'";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace taskpool
