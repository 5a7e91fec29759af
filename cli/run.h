// A run: the pieces a RunPlan names, built, run once, and taken down.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/plan.h"
#include "cli/report.h"
#include "cli/signals.h"
#include "cli/timeline.h"
#include "core/stats.h"
#include "tasks/guardian.h"

namespace taskpool {

// What a run came to, for the exit status and the last messages (cli/outcome.h).
struct RunOutcome {
  RunStats stats;
  std::vector<HostReport> hosts;  // -S
  // The error that failed the run (an output that could not be written, input that ended it),
  // or empty.
  std::string error;
  // Standard output's reader went: the process ends as SIGPIPE would (Signals), and nothing of
  // the run's end was written.
  bool broken_pipe = false;
  bool input_read = false;  // the input was read to its end
  // The bytes read so far of a record too long to keep that had not ended when the run stopped
  // (`-a /dev/zero`), and what bounds it.
  uint64_t unfinished = 0;
  RecordBound bound;
  std::optional<Timeline> timeline;  // with OutputPlan::draw_timeline
  // The run as --summary-json has it, without the header (report.h's RunHeader); empty unless
  // the run has --summary-json or is one of --compare's.
  std::string json;
};

// The command template as given (its words joined by blanks), or empty when the records are
// the commands or the URLs.
std::string run_command(const RunConfig& config);

// Owns every piece of one run and its lifetime: the outputs (opened first), the observers, the
// executor, the record feed, the live controls and the scheduler. No thread it starts outlives
// it, and the process-wide state it touches is Signals' alone, so a process may build one Run
// after another (--compare does). Not thread-safe.
class Run {
 public:
  // Opens the joblog, --summary-json and --timeline files, and builds the rest; nothing runs yet.
  // `guardian` (may be null) is told of every job's process group. Throws Error: a path that
  // cannot be written, an input that cannot be opened, an executor that cannot be made.
  Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian);
  // The same, over `records` held in memory (they must outlive the Run) instead of the input.
  Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian,
      const std::vector<Record>& records);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Runs the jobs, takes the pieces down, and writes the timeline and the summaries (unless
  // standard output was closed). Once. Throws Error when one of them cannot be written.
  RunOutcome run();

 private:
  struct Parts;
  // `records`: held in memory, or null for the input.
  Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian,
      const std::vector<Record>* records);

  std::unique_ptr<Parts> parts_;
};

}  // namespace taskpool
