// --header: the first value of each input source names its columns ({colname} in the command),
// as GNU parallel's --header.
#pragma once

#include <string>
#include <vector>

#include "cli/options.h"

namespace taskpool {

// `{name}`, `{name/}`, `{name//}`, `{name.}`, `{name/.}` in `text` become `{N}` (and the same
// transforms) for each `names[N - 1]`, as GNU parallel rewrites them.
std::string replace_header_names(std::string text, const std::vector<std::string>& names);

// With config.header: takes the first value of each input source (a ::: list's first value; the
// first line of a file or of stdin, read from stdin alone, one byte at a time, so that the
// rest is left for the records), splits it at --colsep (else at tabs) into column names, and
// rewrites the command, --tagstring and --results with them. The files' first lines are left
// out of their records (config.skip_file_headers). Throws Error naming a file it cannot read.
void read_header(RunConfig& config);

}  // namespace taskpool
