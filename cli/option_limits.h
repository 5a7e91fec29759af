// --limit, --max-per-host and --limit-file: keyed limits from the command line (see README,
// "Keyed limits"). Each throws UsageError naming the flag (or the file and line) and the text.
#pragma once

#include <string>
#include <vector>

#include "core/keyed_limits.h"

namespace taskpool {

// "N" (at most N jobs of a key at once) or a rate "N/s", "N/m", "N/h", "N/d" (starts per key).
LimitRule parse_limit_rule(const std::string& where, const std::string& text);

// "TEMPLATE=N" or "TEMPLATE=N/s": the template must hold a replacement string of the record
// (`replace` is -I's), or all jobs would have one key. A {host} limit pauses on Retry-After.
KeyedLimit parse_limit(const std::string& flag, const std::string& text,
                       const std::string& replace);

// --limit-file: per-value overrides of `limits`, one a line: "VALUE RULE" when there is one
// limit, "TEMPLATE VALUE RULE" (the template as given to --limit) with several; blank lines and
// lines starting with '#' are skipped.
void read_limit_file(const std::string& path, std::vector<KeyedLimit>& limits);

// The same, of a file's text (`path` for the messages).
void add_limit_overrides(const std::string& path, const std::string& text,
                         std::vector<KeyedLimit>& limits);

}  // namespace taskpool
