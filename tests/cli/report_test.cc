#include "cli/report.h"

#include <doctest/doctest.h>

#include <csignal>

#include "cli/failed_jobs.h"
#include "cli/outcome.h"
#include "tests/core/helpers.h"

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

TEST_CASE("byte counts are in IEC units, three significant digits") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(4096) == "4.00 KiB");
  CHECK(human_bytes(3 * 1024 * 1024) == "3.00 MiB");
  CHECK(human_bytes(12.34 * 1024 * 1024) == "12.3 MiB");
  CHECK(human_bytes(123.4 * 1024 * 1024) == "123 MiB");
  CHECK(human_bytes(1.2 * 1024 * 1024 * 1024) == "1.20 GiB");
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

TEST_CASE("the stop line names the signal, the output error, and whether the input was read") {
  RunStats s = sample(1s, 1s, 4, 0);
  CHECK(stop_text(s).empty());
  s.stop_cause = StopCause::kSignal;
  s.stop_signal = SIGINT;
  CHECK(stop_text(s) == "  stopped   by SIGINT (Ctrl-C), before the input ended\n");
  CHECK(summary_json(s, "pool").find(R"("stopped": "signal", "stop_signal": "SIGINT", )"
                                     R"("input_read": false)") != std::string::npos);
  s.stop_signal = SIGTERM;
  s.input_read = true;
  CHECK(stop_text(s) == "  stopped   by SIGTERM, after the input was read to its end\n");
  s.stop_cause = StopCause::kOutputError;
  CHECK(stop_text(s) ==
        "  stopped   an output could not be written, after the input was read "
        "to its end\n");
  CHECK(summary_json(s, "pool").find(R"("stopped": "output_error", "stop_signal": null, )"
                                     R"("input_read": true)") != std::string::npos);
}

TEST_CASE("a stop signal's notices say what happens to the running jobs") {
  CHECK(first_stop_notice(SIGINT, 3) ==
        "taskpool: stopping: waiting for 3 running jobs; Ctrl-C again to kill them\n");
  CHECK(first_stop_notice(SIGTERM, 1) ==
        "taskpool: stopping: waiting for 1 running job; SIGTERM again to kill it\n");
  CHECK(first_stop_notice(SIGHUP, 2) ==
        "taskpool: SIGHUP received. No new jobs will be started.\n"
        "taskpool: stopping: waiting for 2 running jobs; SIGHUP again to kill them\n");
  CHECK(first_stop_notice(SIGINT, 0) == "taskpool: stopping: no job is running\n");
  CHECK(second_stop_notice(2, 5s) ==
        "taskpool: stopping now: ending 2 running jobs (SIGTERM, then SIGKILL 5.00 s later)\n");
  CHECK(second_stop_notice(0, 5s).empty());
}

TEST_CASE("the comparison shows both modes and the speed-up") {
  const RunStats batch = sample(4s, 6s, 10, 0);
  const RunStats pool = sample(2s, 6s, 10, 0);
  CHECK(speedup(batch, pool) == doctest::Approx(2.0));
  const std::string text = comparison_text(batch, pool);
  CHECK(text.find("batch") != std::string::npos);
  CHECK(text.find("pool") != std::string::npos);
  CHECK(text.find("speed-up of pool over batch: 2.00x") != std::string::npos);
  const std::string json =
      comparison_json(batch, pool, summary_json(batch, "batch"), summary_json(pool, "pool"));
  CHECK(json.find("\"speedup\": 2.0000") != std::string::npos);
  CHECK(json.find("{\"mode\": \"compare\", \"batch\": {\"mode\": \"batch\"") == 0);
  CHECK(json.find("\"pool\": {\"mode\": \"pool\"") != std::string::npos);
  // A compare stopped before its pool run has none.
  CHECK(comparison_json(batch, RunStats{}, "{}", "").find("\"pool\": null") != std::string::npos);
}

TEST_CASE("the header says which taskpool ran what, how it ended, and when, in UTC") {
  const TimePoint now = std::chrono::steady_clock::now();
  const std::string json = with_header("{\"mode\": \"pool\"}", {"gzip -9", 3, now - 2s, now});
  CHECK(json.find(std::string("{\"version\": \"") + TASKPOOL_VERSION +
                  "\", \"command\": \"gzip -9\", \"exit_status\": 3, \"started_at\": \"") == 0);
  CHECK(json.ends_with("Z\", \"mode\": \"pool\"}"));
  CHECK(with_header("{}", {"", 0, now, now}).find("\"command\": null") != std::string::npos);
  // ISO 8601, to the millisecond, 2 s apart.
  const std::string start = utc_time(now - 2s);
  const std::string end = utc_time(now);
  REQUIRE(start.size() == 24);
  CHECK(start[4] == '-');
  CHECK(start[10] == 'T');
  CHECK(start[19] == '.');
  CHECK(start.back() == 'Z');
  CHECK(start < end);
}

TEST_CASE("failed jobs: the first ones listed with why, the rest counted") {
  FailedJobs failed;
  for (uint64_t seq = 1; seq <= FailedJobs::kListed + 5; ++seq) {
    Completion c;
    c.exit_status = seq == 1 ? 0 : 2;  // the first succeeds: not listed
    c.signal = seq == 3 ? 9 : 0;
    c.timed_out = seq == 4;
    if (seq == 5) {
      c.started = false;
      c.exit_status = 127;
      c.error = "nosuch: command not found";
    }
    failed.on_job_end(testing::job(seq, {"x"}), Attempt{seq, 1, 1, Command{"cmd \"x\"", {}}}, c);
  }
  const std::string json = failed.json();
  CHECK(json.find("\"seq\": 1,") == std::string::npos);
  CHECK(json.find(R"({"seq": 2, "command": "cmd \"x\"", "exit_status": 2, "signal": 0, )"
                  R"("timed_out": false, "error": null})") != std::string::npos);
  CHECK(json.find(R"("seq": 3, "command": "cmd \"x\"", "exit_status": 2, "signal": 9)") !=
        std::string::npos);
  CHECK(json.find(R"("seq": 4, "command": "cmd \"x\"", "exit_status": 2, "signal": 0, )"
                  R"("timed_out": true)") != std::string::npos);
  CHECK(json.find(R"("error": "nosuch: command not found")") != std::string::npos);
  CHECK(json.find("\"seq\": 101,") != std::string::npos);
  CHECK(json.find("\"seq\": 102,") == std::string::npos);
  CHECK(json.ends_with("], \"not_listed\": 4}"));
}

}  // namespace
}  // namespace taskpool
