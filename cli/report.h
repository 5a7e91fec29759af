// The end-of-run summary, for people (text) and for CI (JSON).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/stats.h"

namespace taskpool {

// "taskpool: 10 jobs, 9 succeeded, 1 failed in 2.01 s (4.98 jobs/s)" and detail lines.
std::string summary_text(const RunStats& stats);

// One JSON object; `mode` is "pool" or "batch".
std::string summary_json(const RunStats& stats, std::string_view mode);

// The batch and pool runs of --compare side by side, with the speed-up of pool over batch.
std::string comparison_text(const RunStats& batch, const RunStats& pool);
std::string comparison_json(const RunStats& batch, const RunStats& pool);

// Wall time of batch over wall time of pool (1 when either is zero).
double speedup(const RunStats& batch, const RunStats& pool);

// One remote or local host of a run with -S, for the summary.
struct HostReport {
  std::string host;  // its sshlogin as given
  int workers = 0;
  uint64_t jobs = 0;  // jobs whose last attempt ran there
  bool down = false;
  std::string reason;  // why it went down
};

// "  host      build1: 8 workers, 120 jobs" lines, one per host ("..., down: REASON").
std::string hosts_text(const std::vector<HostReport>& hosts);
// [{"host": ..., "workers": N, "jobs": N, "down": false, "reason": null}, ...]
std::string hosts_json(const std::vector<HostReport>& hosts);

// `text` as a JSON string, quotes included.
std::string json_string(std::string_view text);

// "850 ms", "2.01 s", "3m 05s", "1h 02m".
std::string human_duration(Duration d);

}  // namespace taskpool
