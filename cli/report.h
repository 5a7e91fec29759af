// The end-of-run summary, for people (text) and for CI (JSON).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/stats.h"

namespace taskpool {

// "taskpool: 10 jobs, 9 succeeded, 1 failed in 2.01 s (4.98 jobs/s)" and detail lines.
std::string summary_text(const RunStats& stats);
// The summary's line on what stopped the run, "  stopped   by SIGINT (Ctrl-C), before the input
// ended\n", or "" when nothing did.
std::string stop_text(const RunStats& stats);
// What stopped the run, in words ("by SIGINT (Ctrl-C)", "the --deadline was reached"), or "".
std::string stop_reason(const RunStats& stats);
// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
std::string stop_signal_name(int signal);

// One JSON object; `mode` is "pool" or "batch".
std::string summary_json(const RunStats& stats, std::string_view mode);

// What a JSON summary says first, about the whole run: taskpool's version, the command
// (empty: none, the records are commands or URLs), the exit status, start and end in UTC.
struct RunHeader {
  std::string command;
  int exit_status = 0;
  TimePoint start{};  // steady clock, as RunStats's
  TimePoint end{};
};
// `json`, one object, with the header's fields first.
std::string with_header(std::string json, const RunHeader& header);
// A steady clock's time point as the UTC wall-clock time, ISO 8601 to the millisecond
// ("2026-12-07T10:02:03.456Z").
std::string utc_time(TimePoint steady);

// The batch and pool runs of --compare side by side, with the speed-up of pool over batch.
std::string comparison_text(const RunStats& batch, const RunStats& pool);
// `batch_json` and `pool_json`: each run's summary_json.
std::string comparison_json(const RunStats& batch, const RunStats& pool,
                            const std::string& batch_json, const std::string& pool_json);

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

// Bytes in IEC units (powers of 1024), as every byte count taskpool prints: "512 B",
// "4.00 KiB", "2.86 MiB", "12.3 MiB", "123 MiB", "1.20 GiB".
std::string human_bytes(double bytes);

}  // namespace taskpool
