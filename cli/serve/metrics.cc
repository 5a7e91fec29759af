#include "cli/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace taskpool {

namespace {

// Group names are letters, digits, '_', '.' and '-' (valid_group_name): nothing to escape.
std::string label(std::string_view group) { return fmt::format("group=\"{}\"", group); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void ServeMetrics::rejected(std::string_view group) {
  auto found = rejected_.find(group);
  if (found == rejected_.end()) found = rejected_.emplace(std::string(group), 0).first;
  ++found->second;
}

void ServeMetrics::ended(std::string_view group, double seconds) {
  auto found = latency_.find(group);
  if (found == latency_.end()) found = latency_.emplace(std::string(group), Latency{}).first;
  Latency& latency = found->second;
  const auto bucket = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
  if (bucket != kBuckets.end()) ++latency.buckets[static_cast<size_t>(bucket - kBuckets.begin())];
  ++latency.count;
  latency.sum += seconds;
}

std::string ServeMetrics::render(const std::vector<GroupInfo>& groups, bool paused_all,
                                 bool draining) const {
  std::string out;
  struct Gauge {
    const char* name;
    JobState state;
    const char* help;
  };
  for (const Gauge& gauge :
       {Gauge{"taskpool_jobs_queued", JobState::kQueued, "Jobs waiting for a worker."},
        Gauge{"taskpool_jobs_waiting", JobState::kWaiting, "Jobs waiting for their dependencies."},
        Gauge{"taskpool_jobs_running", JobState::kRunning, "Jobs running."}}) {
    header(out, gauge.name, "gauge", gauge.help);
    for (const GroupInfo& group : groups) {
      out += fmt::format("{}{{{}}} {}\n", gauge.name, label(group.name), group.count(gauge.state));
    }
  }
  for (const Gauge& counter :
       {Gauge{"taskpool_jobs_succeeded_total", JobState::kSucceeded, "Jobs that succeeded."},
        Gauge{"taskpool_jobs_failed_total", JobState::kFailed, "Jobs that failed."},
        Gauge{"taskpool_jobs_cancelled_total", JobState::kCancelled, "Jobs cancelled."}}) {
    header(out, counter.name, "counter", counter.help);
    for (const GroupInfo& group : groups) {
      out +=
          fmt::format("{}{{{}}} {}\n", counter.name, label(group.name), group.count(counter.state));
    }
  }
  header(out, "taskpool_jobs_accepted_total", "counter", "Jobs accepted.");
  for (const GroupInfo& group : groups) {
    uint64_t total = 0;
    for (const uint64_t count : group.counts) total += count;
    out += fmt::format("taskpool_jobs_accepted_total{{{}}} {}\n", label(group.name), total);
  }
  header(out, "taskpool_jobs_rejected_total", "counter",
         "Jobs refused because their group's queue was full (429), since the server started.");
  for (const auto& [group, count] : rejected_) {
    out += fmt::format("taskpool_jobs_rejected_total{{{}}} {}\n", label(group), count);
  }
  header(out, "taskpool_job_latency_seconds", "histogram",
         "Time from a job's submit to its end, since the server started.");
  for (const auto& [group, latency] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += latency.buckets[i];
      out += fmt::format("taskpool_job_latency_seconds_bucket{{{},le=\"{}\"}} {}\n", label(group),
                         kBuckets[i], cumulative);
    }
    out += fmt::format("taskpool_job_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n", label(group),
                       latency.count);
    out += fmt::format("taskpool_job_latency_seconds_sum{{{}}} {}\n", label(group), latency.sum);
    out +=
        fmt::format("taskpool_job_latency_seconds_count{{{}}} {}\n", label(group), latency.count);
  }
  header(out, "taskpool_paused", "gauge", "1 when every group is paused.");
  out += fmt::format("taskpool_paused {}\n", paused_all ? 1 : 0);
  header(out, "taskpool_draining", "gauge", "1 when the server accepts no more jobs.");
  out += fmt::format("taskpool_draining {}\n", draining ? 1 : 0);
  return out;
}

}  // namespace taskpool
