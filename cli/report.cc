#include "cli/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>

#include "core/utf8.h"

namespace taskpool {

std::string human_duration(Duration d) {
  const double s = to_seconds(d);
  if (s < 1.0) return fmt::format("{:.0f} ms", s * 1000);
  if (s < 60.0) return fmt::format("{:.2f} s", s);
  const auto total = static_cast<long long>(std::llround(s));
  if (total < 3600) return fmt::format("{}m {:02}s", total / 60, total % 60);
  return fmt::format("{}h {:02}m", total / 3600, (total % 3600) / 60);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    size_t invalid = 0;
    const size_t length = utf8_sequence_length(text.substr(i), invalid);
    if (length == 0) {
      out += "\\ufffd";  // JSON is UTF-8: bytes that are not become the replacement character
      i += invalid;
      continue;
    }
    if (length > 1) {
      out += text.substr(i, length);
      i += length;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string hosts_text(const std::vector<HostReport>& hosts) {
  std::string out;
  for (const HostReport& h : hosts) {
    out += fmt::format("  host      {}: {} worker{}, {} job{}", h.host, h.workers,
                       h.workers == 1 ? "" : "s", h.jobs, h.jobs == 1 ? "" : "s");
    if (h.down) out += fmt::format(", down: {}", h.reason);
    out += '\n';
  }
  return out;
}

std::string hosts_json(const std::vector<HostReport>& hosts) {
  std::string out = "[";
  for (const HostReport& h : hosts) {
    if (out.size() > 1) out += ", ";
    out += fmt::format(R"({{"host": {}, "workers": {}, "jobs": {}, "down": {}, "reason": {}}})",
                       json_string(h.host), h.workers, h.jobs, h.down ? "true" : "false",
                       h.down ? json_string(h.reason) : "null");
  }
  return out + "]";
}

namespace {

// The keys the summary lists (those whose jobs waited longest first); the others are counted.
constexpr size_t kKeysListed = 20;
constexpr size_t kKeysInJson = 100;

// The keys of the keyed limits, those that waited longest first (then by limit and key).
std::vector<KeyStats> keys_by_wait(const RunStats& stats) {
  std::vector<KeyStats> keys = stats.keys;
  std::stable_sort(keys.begin(), keys.end(), [](const KeyStats& a, const KeyStats& b) {
    return a.wait + a.paused > b.wait + b.paused;
  });
  return keys;
}

std::string keys_text(const RunStats& stats) {
  std::string out;
  const std::vector<KeyStats> keys = keys_by_wait(stats);
  for (size_t i = 0; i < keys.size() && i < kKeysListed; ++i) {
    const KeyStats& k = keys[i];
    out += fmt::format("  key       {}={}: {} started, {} waited {}", k.limit, k.key, k.started,
                       k.waited, human_duration(k.wait));
    if (k.pauses > 0) {
      out += fmt::format(", {} pause{} {}", k.pauses, k.pauses == 1 ? "" : "s",
                         human_duration(k.paused));
    }
    out += '\n';
  }
  if (keys.size() > kKeysListed) {
    out += fmt::format("  key       and {} more\n", keys.size() - kKeysListed);
  }
  return out;
}

std::string keys_json(const RunStats& stats) {
  const std::vector<KeyStats> keys = keys_by_wait(stats);
  std::string out = R"(, "limits": {"keys": [)";
  for (size_t i = 0; i < keys.size() && i < kKeysInJson; ++i) {
    const KeyStats& k = keys[i];
    if (i > 0) out += ", ";
    out += fmt::format(
        R"({{"limit": {}, "key": {}, "started": {}, "waited": {}, "wait_seconds": {:.6f}, )"
        R"("pauses": {}, "paused_seconds": {:.6f}}})",
        json_string(k.limit), json_string(k.key), k.started, k.waited, to_seconds(k.wait), k.pauses,
        to_seconds(k.paused));
  }
  return out + fmt::format(R"(], "not_listed": {}}})",
                           keys.size() > kKeysInJson ? keys.size() - kKeysInJson : 0);
}

}  // namespace

std::string human_bytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  constexpr std::array<std::string_view, 5> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t unit = 0;
  bytes /= 1024;
  while (bytes >= 1024 && unit + 1 < kUnits.size()) {
    bytes /= 1024;
    ++unit;
  }
  const int decimals = bytes < 10 ? 2 : bytes < 100 ? 1 : 0;
  return fmt::format("{:.{}f} {}", bytes, decimals, kUnits[unit]);
}

std::string stop_signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return fmt::format("signal {}", signal);
  }
}

std::string stop_text(const RunStats& stats) {
  if (stats.stop_cause == StopCause::kNone) return "";
  return fmt::format(
      "  stopped   {}, {}\n", stop_reason(stats),
      stats.input_read ? "after the input was read to its end" : "before the input ended");
}

std::string stop_reason(const RunStats& stats) {
  std::string why;
  switch (stats.stop_cause) {
    case StopCause::kNone:
      return "";
    case StopCause::kSignal:
      why = fmt::format("by {}{}", stop_signal_name(stats.stop_signal),
                        stats.stop_signal == SIGINT ? " (Ctrl-C)" : "");
      break;
    case StopCause::kDeadline:
      why = "the --deadline was reached";
      break;
    case StopCause::kHalt:
      why = "the --halt condition was met";
      break;
    case StopCause::kOutputError:
      why = "an output could not be written";
      break;
    case StopCause::kNoWorkers:
      why = "every host is down";
      break;
    case StopCause::kMaxRecords:
      why = "--max-records was reached";
      break;
  }
  return why;
}

std::string summary_text(const RunStats& stats) {
  std::string out = fmt::format("taskpool: {} jobs, {} succeeded, {} failed", stats.jobs,
                                stats.succeeded, stats.failed);
  if (stats.retried > 0) out += fmt::format(", {} retried", stats.retried);
  if (stats.timed_out > 0) out += fmt::format(", {} attempts timed out", stats.timed_out);
  if (stats.killed > 0) out += fmt::format(", {} killed", stats.killed);
  if (stats.not_started > 0) out += fmt::format(", {} not started", stats.not_started);
  if (stats.skipped > 0) out += fmt::format(", {} skipped as done", stats.skipped);
  if (stats.fed > 0) out += fmt::format(", {} fed back", stats.fed);
  out += fmt::format(" in {} ({:.2f} jobs/s)\n", human_duration(stats.wall()),
                     stats.jobs_per_second());
  out += stop_text(stats);
  if (stats.suspended > Duration::zero()) {
    out += fmt::format("  suspended {} (Ctrl-Z until fg; not counted by timeouts)\n",
                       human_duration(stats.suspended));
  }
  const Histogram& h = stats.latency;
  if (h.count() > 0) {
    out +=
        fmt::format("  latency   min {}  p50 {}  p95 {}  p99 {}  max {}\n", human_duration(h.min()),
                    human_duration(h.percentile(50)), human_duration(h.percentile(95)),
                    human_duration(h.percentile(99)), human_duration(h.max()));
  }
  std::string workers = fmt::format("{}", stats.workers);
  if (!stats.worker_changes.empty()) {
    // The changes in order, the first few and the last: "2 -> 4 -> 3".
    constexpr size_t kShown = 6;
    const auto& changes = stats.worker_changes;
    for (size_t i = 0; i < changes.size(); ++i) {
      if (changes.size() > kShown && i == kShown - 1) {
        workers += " -> ...";
        i = changes.size() - 1;
      }
      workers += fmt::format(" -> {}", changes[i].workers);
    }
    workers += fmt::format(" ({} change{}, {} at most)", changes.size(),
                           changes.size() == 1 ? "" : "s", stats.max_workers);
  }
  out += fmt::format("  workers   {}, utilization {:.1f} %, idle {:.2f} worker-s\n", workers,
                     stats.utilization() * 100, to_seconds(stats.idle()));
  return out + keys_text(stats);
}

namespace {

std::string_view stop_cause_json(StopCause cause) {
  switch (cause) {
    case StopCause::kNone:
      return "null";
    case StopCause::kSignal:
      return "\"signal\"";
    case StopCause::kDeadline:
      return "\"deadline\"";
    case StopCause::kHalt:
      return "\"halt\"";
    case StopCause::kOutputError:
      return "\"output_error\"";
    case StopCause::kNoWorkers:
      return "\"hosts_down\"";
    case StopCause::kMaxRecords:
      return "\"max_records\"";
  }
  return "null";
}

}  // namespace

std::string summary_json(const RunStats& stats, std::string_view mode) {
  const Histogram& h = stats.latency;
  std::string changes = "[";
  for (const WorkerChange& change : stats.worker_changes) {
    if (changes.size() > 1) changes += ", ";
    changes += fmt::format(R"({{"at_seconds": {:.6f}, "workers": {}}})",
                           to_seconds(change.at - stats.start), change.workers);
  }
  changes += "]";
  std::string json = fmt::format(
      "{{\"mode\": \"{}\", \"workers\": {}, "
      "\"jobs\": {{\"total\": {}, \"succeeded\": {}, \"failed\": {}, \"not_started\": {}, "
      "\"retried\": {}, \"killed\": {}, \"skipped\": {}}}, "
      "\"attempts\": {}, \"timed_out_attempts\": {}, \"stopped\": {}, \"stop_signal\": {}, "
      "\"input_read\": {}, "
      "\"wall_seconds\": {:.6f}, \"jobs_per_second\": {:.3f}, "
      "\"busy_worker_seconds\": {:.6f}, \"idle_worker_seconds\": {:.6f}, \"utilization\": {:.4f}, "
      "\"latency_seconds\": {{\"min\": {:.6f}, \"p50\": {:.6f}, \"p95\": {:.6f}, "
      "\"p99\": {:.6f}, \"max\": {:.6f}}}}}",
      mode, stats.workers, stats.jobs + stats.not_started, stats.succeeded, stats.failed,
      stats.not_started, stats.retried, stats.killed, stats.skipped, stats.attempts,
      stats.timed_out, stop_cause_json(stats.stop_cause),
      stats.stop_cause == StopCause::kSignal ? json_string(stop_signal_name(stats.stop_signal))
                                             : "null",
      stats.input_read, to_seconds(stats.wall()), stats.jobs_per_second(), to_seconds(stats.busy),
      to_seconds(stats.idle()), stats.utilization(), to_seconds(h.min()),
      to_seconds(h.percentile(50)), to_seconds(h.percentile(95)), to_seconds(h.percentile(99)),
      to_seconds(h.max()));
  json.insert(json.size() - 1,
              fmt::format(R"(, "max_workers": {}, "worker_changes": {}, "worker_seconds": {:.6f}, )"
                          R"("suspended_seconds": {:.6f}, "fed": {})",
                          std::max(stats.max_workers, stats.workers), changes,
                          to_seconds(stats.capacity()), to_seconds(stats.suspended), stats.fed));
  if (!stats.keys.empty()) json.insert(json.size() - 1, keys_json(stats));
  return json;
}

std::string utc_time(TimePoint steady) {
  using namespace std::chrono;
  const auto wall =
      system_clock::now() - duration_cast<system_clock::duration>(steady_clock::now() - steady);
  const auto ms = duration_cast<milliseconds>(wall.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
}

std::string with_header(std::string json, const RunHeader& header) {
  json.insert(1, fmt::format(R"("version": {}, "command": {}, "exit_status": {}, )"
                             R"("started_at": "{}", "ended_at": "{}", )",
                             json_string(TASKPOOL_VERSION),
                             header.command.empty() ? "null" : json_string(header.command),
                             header.exit_status, utc_time(header.start), utc_time(header.end)));
  return json;
}

double speedup(const RunStats& batch, const RunStats& pool) {
  const double b = to_seconds(batch.wall());
  const double p = to_seconds(pool.wall());
  return b > 0 && p > 0 ? b / p : 1.0;
}

std::string comparison_text(const RunStats& batch, const RunStats& pool) {
  std::string out = fmt::format("{:<26}{:>14}{:>14}\n", "", "batch", "pool");
  auto row = [&](std::string_view name, const std::string& b, const std::string& p) {
    out += fmt::format("{:<26}{:>14}{:>14}\n", name, b, p);
  };
  row("jobs", fmt::format("{}", batch.jobs), fmt::format("{}", pool.jobs));
  row("failed", fmt::format("{}", batch.failed), fmt::format("{}", pool.failed));
  row("wall time", human_duration(batch.wall()), human_duration(pool.wall()));
  row("throughput (jobs/s)", fmt::format("{:.2f}", batch.jobs_per_second()),
      fmt::format("{:.2f}", pool.jobs_per_second()));
  row("worker utilization", fmt::format("{:.1f} %", batch.utilization() * 100),
      fmt::format("{:.1f} %", pool.utilization() * 100));
  row("idle worker-seconds", fmt::format("{:.2f}", to_seconds(batch.idle())),
      fmt::format("{:.2f}", to_seconds(pool.idle())));
  row("latency p50", human_duration(batch.latency.percentile(50)),
      human_duration(pool.latency.percentile(50)));
  row("latency p95", human_duration(batch.latency.percentile(95)),
      human_duration(pool.latency.percentile(95)));
  row("latency max", human_duration(batch.latency.max()), human_duration(pool.latency.max()));
  out += fmt::format("speed-up of pool over batch: {:.2f}x\n", speedup(batch, pool));
  return out;
}

std::string comparison_json(const RunStats& batch, const RunStats& pool,
                            const std::string& batch_json, const std::string& pool_json) {
  return fmt::format(R"({{"mode": "compare", "batch": {}, "pool": {}, "speedup": {:.4f}}})",
                     batch_json, pool_json.empty() ? "null" : pool_json, speedup(batch, pool));
}

}  // namespace taskpool
