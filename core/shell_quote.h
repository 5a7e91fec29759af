// Quoting for the POSIX shell: records are data, never code.
#pragma once

#include <string>
#include <string_view>

namespace taskpool {

// True when `s` is non-empty and every byte is one the shell reads literally outside quotes
// (ASCII letters, digits and `_-./+`: the set GNU parallel leaves unquoted, so --dry-run
// prints the same lines).
bool is_shell_safe(std::string_view s);

// Returns `s` quoted so that the shell reads it back as exactly `s`, one word: unchanged when
// is_shell_safe(s), otherwise in single quotes with each ' written as '"'"' (as GNU parallel does).
// Empty gives ''.
std::string shell_quote(std::string_view s);

}  // namespace taskpool
