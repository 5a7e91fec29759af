// taskpool submit's records, read as a run reads its input (:::, ::::, -a, stdin, -0, --colsep).
#pragma once

#include <string>
#include <vector>

#include "cli/options.h"

namespace taskpool {

// Every record of `input`, read before anything is sent: a record the server cannot take (not
// UTF-8, past 1 MiB, refused by --colsep) throws Error saying that nothing was submitted.
std::vector<std::vector<std::string>> read_submit_records(const RunConfig& input);

}  // namespace taskpool
