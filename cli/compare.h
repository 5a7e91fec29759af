// --compare: the same records run in batch mode, then in pool mode, and the two compared.
#pragma once

#include "cli/options.h"
#include "cli/plan.h"
#include "cli/signals.h"
#include "tasks/guardian.h"

namespace taskpool {

// Reads the input into memory, runs it as two Runs, prints the comparison on stdout (and to
// --summary-json, and both runs to --timeline, each opened before the first run) and returns
// the exit status. Throws Error for an input or a file that cannot be opened.
int run_compare(const RunConfig& config, const RunPlan& plan, Signals& signals, Guardian* guardian);

// The whole input, grouped into jobs' records as a run takes them (--compare, --shuf).
std::vector<Record> read_all_records(const RunConfig& config, const RunPlan& plan);

}  // namespace taskpool
