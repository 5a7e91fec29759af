// A run's exit status, as GNU parallel's, and the messages that explain it.
#pragma once

#include "cli/run.h"
#include "core/stats.h"

namespace taskpool {

// Exit statuses, as GNU parallel's: the failed jobs up to 100, 101 for more, 255 for an error.
inline constexpr int kMaxFailedStatus = 101;
inline constexpr int kUsageStatus = 255;

// The status of a run's jobs: --halt's, or the count of jobs that failed or never started.
int exit_status(const RunStats& stats);

// The exit status of a whole run, after its last messages on stderr: the error that failed it,
// or a record that was still being read when it stopped.
int finish_run(const RunOutcome& outcome);

}  // namespace taskpool
