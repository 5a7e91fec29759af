// --onall and --nonall: the command on every host of -S, each host its own run.
#pragma once

#include "cli/options.h"
#include "cli/plan.h"
#include "cli/signals.h"
#include "tasks/guardian.h"

namespace taskpool {

// Runs every job on every host (--onall; --nonall: the command once, with no argument), as GNU
// parallel: the hosts one after another in the order given, each running its jobs one at a
// time in input order, so each host's output comes together; --tag tags a line with its host.
// The input is read once, first. The joblog gets a line per job per host. Returns the exit
// status: the failed jobs of all hosts, as one run counts them.
int run_on_all_hosts(const RunConfig& config, const Limits& limits, Signals& signals,
                     Guardian* guardian);

}  // namespace taskpool
