#include "cli/outcome.h"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "cli/report.h"

namespace taskpool {

int exit_status(const RunStats& stats) {
  if (stats.halt_exit_status) return std::min(*stats.halt_exit_status, 255);
  const uint64_t failed = stats.failed + stats.not_started;
  return failed > kMaxFailedStatus - 1 ? kMaxFailedStatus : static_cast<int>(failed);
}

int exit_status(const RunOutcome& outcome) {
  if (!outcome.error.empty()) return kUsageStatus;
  int status = exit_status(outcome.stats);
  if (outcome.unfinished > 0) {
    status = std::min(status + 1, kMaxFailedStatus);  // failed, as its job would have
  }
  // Stopped by a signal or the deadline before the input was read to its end: records may be
  // left that no count shows, so even a run that read none has not succeeded.
  const StopCause cause = outcome.stats.stop_cause;
  const bool cut_short = cause == StopCause::kSignal || cause == StopCause::kDeadline;
  return status == 0 && cut_short && !outcome.input_read ? 1 : status;
}

int finish_run(const RunOutcome& outcome) {
  if (!outcome.error.empty()) {
    std::fprintf(stderr, "taskpool: %s\n", outcome.error.c_str());
  } else if (outcome.unfinished > 0) {
    const RecordBound& bound = outcome.bound;
    std::fputs(fmt::format("taskpool: {}: the record being read when the run stopped was {} "
                           "bytes so far, {} ({} bytes); it did not run\n",
                           bound.problem, outcome.unfinished, bound.more_than, bound.max_bytes)
                   .c_str(),
               stderr);
  }
  return exit_status(outcome);
}

std::string first_stop_notice(int signal, size_t running) {
  // GNU parallel's words for SIGHUP, which scripts look for.
  std::string notice =
      signal == SIGHUP ? "taskpool: SIGHUP received. No new jobs will be started.\n" : "";
  if (running == 0) return notice + "taskpool: stopping: no job is running\n";
  const std::string_view jobs = running == 1 ? "job" : "jobs";
  const std::string again = signal == SIGINT ? "Ctrl-C again" : stop_signal_name(signal) + " again";
  return notice + fmt::format("taskpool: stopping: waiting for {} running {}; {} to kill {}\n",
                              running, jobs, again, running == 1 ? "it" : "them");
}

std::string second_stop_notice(size_t running, Duration kill_after) {
  if (running == 0) return "";
  return fmt::format(
      "taskpool: stopping now: ending {} running job{} (SIGTERM, then SIGKILL {} "
      "later)\n",
      running, running == 1 ? "" : "s", human_duration(kill_after));
}

}  // namespace taskpool
