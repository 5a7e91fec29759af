#include "cli/serve/metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/serve/prometheus_text.h"

namespace taskpool {
namespace {

using testing::PrometheusText;

GroupInfo group_with(std::string name,
                     std::initializer_list<std::pair<JobState, uint64_t>> counts) {
  GroupInfo group;
  group.name = std::move(name);
  for (const auto& [state, count] : counts) group.counts[static_cast<size_t>(state)] = count;
  return group;
}

TEST_CASE("the metrics are valid Prometheus text: every family typed, histograms whole") {
  ServeMetrics metrics;
  metrics.rejected("render");
  metrics.rejected("render");
  metrics.ended("render", 0.003);
  metrics.ended("render", 0.7);
  metrics.ended("render", 7200);  // past the last bucket: in +Inf alone
  metrics.ended("default", 12);
  const std::vector<GroupInfo> groups = {
      group_with("default", {{JobState::kQueued, 4}, {JobState::kSucceeded, 1}}),
      group_with("render", {{JobState::kRunning, 2}, {JobState::kFailed, 3}})};
  const std::string text = metrics.render(groups, true, false);
  const PrometheusText parsed(text);
  REQUIRE_MESSAGE(parsed.errors.empty(), parsed.errors.front());

  CHECK(parsed.type("taskpool_jobs_queued") == "gauge");
  CHECK(parsed.type("taskpool_jobs_succeeded_total") == "counter");
  CHECK(parsed.type("taskpool_job_latency_seconds") == "histogram");
  CHECK(parsed.value("taskpool_jobs_queued{group=\"default\"}") == 4);
  CHECK(parsed.value("taskpool_jobs_running{group=\"render\"}") == 2);
  CHECK(parsed.value("taskpool_jobs_failed_total{group=\"render\"}") == 3);
  CHECK(parsed.value("taskpool_jobs_accepted_total{group=\"render\"}") == 5);
  CHECK(parsed.value("taskpool_jobs_rejected_total{group=\"render\"}") == 2);
  CHECK(parsed.value("taskpool_paused") == 1);
  CHECK(parsed.value("taskpool_draining") == 0);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"render\",le=\"0.01\"}") == 1);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"render\",le=\"1\"}") == 2);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"render\",le=\"3600\"}") == 2);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"render\",le=\"+Inf\"}") == 3);
  CHECK(parsed.value("taskpool_job_latency_seconds_count{group=\"render\"}") == 3);
  CHECK(std::abs(parsed.value("taskpool_job_latency_seconds_sum{group=\"render\"}") - 7200.703) <
        1e-6);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"default\",le=\"10\"}") == 0);
  CHECK(parsed.value("taskpool_job_latency_seconds_bucket{group=\"default\",le=\"30\"}") == 1);
}

TEST_CASE("the Prometheus text checker finds what a scraper would refuse") {
  // The checker itself: each of these breaks one rule it enforces.
  const std::vector<std::string> bad = {
      "taskpool_x 1\n",                                         // no TYPE before the sample
      "# TYPE taskpool_x gauge\ntaskpool_x one\n",              // not a number
      "# TYPE taskpool_x gauge\ntaskpool_x{group=render} 1\n",  // label value unquoted
      "# TYPE taskpool_x gauge\ntaskpool_x 1\ntaskpool_x 2\n",  // one series twice
      "# TYPE taskpool_x gauge\n# TYPE taskpool_x gauge\n",     // one family typed twice
      std::string("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n") +
          "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",               // buckets not cumulative
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",  // no +Inf bucket
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",  // +Inf is not count
      "# TYPE taskpool_x gauge\ntaskpool_x 1",                              // no newline at the end
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(PrometheusText(text).errors.empty());
  }
  CHECK(PrometheusText("# HELP h a histogram\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                       "h_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n")
            .errors.empty());
}

}  // namespace
}  // namespace taskpool
