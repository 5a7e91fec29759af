// What the machine says about the run's limits, read outside the pure plan (cli/plan.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cli/plan.h"

namespace taskpool {

// Reads the open-file limits, the descriptors open now, ARG_MAX, the environment's size and
// whether stderr is a terminal the progress line can redraw itself on.
Limits read_limits();

// Sets the soft RLIMIT_NOFILE (jobs inherit it). Returns false when the system refuses.
bool raise_open_files(uint64_t soft);

// The most workers the open-file limit allows for a pool that grows while it runs (raising the
// soft limit as far as the hard one when `wanted` needs it): each job holds `per_job`
// descriptors, and `running` jobs hold theirs now. At least 1, at most `wanted`.
int fit_workers(uint64_t per_job, int wanted, size_t running);

}  // namespace taskpool
