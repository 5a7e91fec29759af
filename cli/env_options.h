// $PARALLEL: default options, as GNU parallel reads them: its words (split as a shell splits
// them, quotes and backslashes, nothing expanded) go before the command line's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

// `text` split into words as Perl's Text::ParseWords::shellwords splits it: at blanks, with
// '...' literal, "..." where a backslash escapes the next character, and a backslash outside
// quotes escaping the next one. Throws UsageError on a quote left open.
std::vector<std::string> shell_words(std::string_view text);

}  // namespace taskpool
