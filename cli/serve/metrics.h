// The job server's metrics, in Prometheus' text format (GET /metrics): per group, its jobs by
// state (gauges for the unfinished, counters for the finished, which the store keeps across
// restarts), the submits refused for a full queue, and a histogram of job latency (from submit
// to end).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cli/serve/store.h"

namespace taskpool {

// Not thread-safe.
class ServeMetrics {
 public:
  // The latency histogram's upper bounds, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.01, 0.05, 0.1, 0.5, 1,    5,
                                                      10,   30,   60,  300, 1800, 3600};

  // A submit to `group` was refused (429): its queue was full.
  void rejected(std::string_view group);
  // A job of `group` ended `seconds` after it was submitted.
  void ended(std::string_view group, double seconds);

  std::string render(const std::vector<GroupInfo>& groups, bool paused_all, bool draining) const;

 private:
  struct Latency {
    std::array<uint64_t, kBuckets.size()> buckets{};  // not cumulative: each its own range
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, uint64_t, std::less<>> rejected_;
  std::map<std::string, Latency, std::less<>> latency_;
};

}  // namespace taskpool
