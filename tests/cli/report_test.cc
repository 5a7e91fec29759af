#include "cli/report.h"

#include <doctest/doctest.h>

namespace taskpool {
namespace {

using namespace std::chrono_literals;

RunStats sample(Duration wall, Duration busy, uint64_t jobs, uint64_t failed) {
  RunStats s;
  s.workers = 4;
  s.jobs = jobs;
  s.succeeded = jobs - failed;
  s.failed = failed;
  s.attempts = jobs;
  s.start = TimePoint{};
  s.end = TimePoint{} + wall;
  s.busy = busy;
  for (uint64_t i = 0; i < jobs; ++i) s.latency.add(100ms * static_cast<int>(i + 1));
  return s;
}

TEST_CASE("human durations pick a readable unit") {
  CHECK(human_duration(850ms) == "850 ms");
  CHECK(human_duration(2010ms) == "2.01 s");
  CHECK(human_duration(185s) == "3m 05s");
  CHECK(human_duration(3720s) == "1h 02m");
}

TEST_CASE("the text summary states counts, time, rate, latency and utilization") {
  const std::string text = summary_text(sample(2s, 6s, 10, 1));
  CHECK(text.rfind("taskpool: 10 jobs, 9 succeeded, 1 failed in 2.00 s (5.00 jobs/s)\n", 0) == 0);
  CHECK(text.find("latency   min 100 ms") != std::string::npos);
  CHECK(text.find("max 1.00 s") != std::string::npos);
  CHECK(text.find("workers   4, utilization 75.0 %, idle 2.00 worker-s") != std::string::npos);
}

TEST_CASE("the JSON summary carries the same figures") {
  const std::string json = summary_json(sample(2s, 6s, 10, 1), "pool");
  CHECK(json.find("\"mode\": \"pool\"") != std::string::npos);
  CHECK(json.find("\"jobs\": {\"total\": 10, \"succeeded\": 9, \"failed\": 1, \"not_started\": 0, "
                  "\"retried\": 0, \"killed\": 0, \"skipped\": 0}") != std::string::npos);
  CHECK(json.find("\"utilization\": 0.7500") != std::string::npos);
  CHECK(json.find("\"max\": 1.000000") != std::string::npos);
}

TEST_CASE("a resized pool: the summary shows the changes and counts capacity as it was") {
  RunStats s = sample(4s, 6s, 10, 0);
  s.workers = 2;
  s.worker_changes = {{s.start + 1s, 4}, {s.start + 3s, 1}};
  s.max_workers = 4;
  // 1 s × 2 + 2 s × 4 + 1 s × 1 = 11 worker-seconds, not 4 s × 2.
  s.worker_time = 11s;
  s.fed = 3;
  s.suspended = 2s;
  const std::string text = summary_text(s);
  CHECK(text.find("workers   2 -> 4 -> 1 (2 changes, 4 at most), utilization 54.5 %") !=
        std::string::npos);
  CHECK(text.find(", 3 fed back") != std::string::npos);
  CHECK(text.find("suspended 2.00 s") != std::string::npos);
  const std::string json = summary_json(s, "pool");
  CHECK(json.find("\"max_workers\": 4, \"worker_changes\": [{\"at_seconds\": 1.000000, "
                  "\"workers\": 4}, {\"at_seconds\": 3.000000, \"workers\": 1}], "
                  "\"worker_seconds\": 11.000000, \"suspended_seconds\": 2.000000, "
                  "\"fed\": 3}") != std::string::npos);
  CHECK(json.back() == '}');
}

TEST_CASE("a run stopped by --max-records says so") {
  RunStats s = sample(1s, 1s, 4, 0);
  s.stop_cause = StopCause::kMaxRecords;
  CHECK(summary_text(s).find("stopped   --max-records was reached") != std::string::npos);
  CHECK(summary_json(s, "pool").find("\"stopped\": \"max_records\"") != std::string::npos);
}

TEST_CASE("the comparison shows both modes and the speed-up") {
  const RunStats batch = sample(4s, 6s, 10, 0);
  const RunStats pool = sample(2s, 6s, 10, 0);
  CHECK(speedup(batch, pool) == doctest::Approx(2.0));
  const std::string text = comparison_text(batch, pool);
  CHECK(text.find("batch") != std::string::npos);
  CHECK(text.find("pool") != std::string::npos);
  CHECK(text.find("speed-up of pool over batch: 2.00x") != std::string::npos);
  const std::string json = comparison_json(batch, pool);
  CHECK(json.find("\"speedup\": 2.0000") != std::string::npos);
  CHECK(json.find("\"batch\": {\"mode\": \"batch\"") != std::string::npos);
}

}  // namespace
}  // namespace taskpool
