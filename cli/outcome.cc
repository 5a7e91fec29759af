#include "cli/outcome.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

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

}  // namespace taskpool
