// A run's exit status, as GNU parallel's, and the messages that explain it.
#pragma once

#include <string>

#include "cli/run.h"
#include "core/stats.h"
#include "core/time.h"

namespace taskpool {

// Exit statuses, as GNU parallel's: the failed jobs up to 100, 101 for more, 255 for an error.
inline constexpr int kMaxFailedStatus = 101;
inline constexpr int kUsageStatus = 255;

// The status of a run's jobs: --halt's, or the count of jobs that failed or never started.
int exit_status(const RunStats& stats);

// The exit status of a whole run: its jobs', or 255 for the error that failed it, one more
// failure for a record that was still being read when it stopped, 1 for a run stopped before its
// input ended.
int exit_status(const RunOutcome& outcome);

// exit_status(outcome), after the last messages on stderr that explain it.
int finish_run(const RunOutcome& outcome);

// What the first stop signal does, said when it comes, with the jobs running then:
// "taskpool: stopping: waiting for 3 running jobs; Ctrl-C again to kill them\n" (SIGHUP first
// says so in GNU parallel's words).
std::string first_stop_notice(int signal, size_t running);
// What a second stop signal does: "taskpool: stopping now: ending 3 running jobs (SIGTERM, then
// SIGKILL 5.00 s later)\n"; "" when none is running.
std::string second_stop_notice(size_t running, Duration kill_after);

}  // namespace taskpool
