// The live pool: resizing, pausing, suspending, priorities and jobs that feed records, with the
// fake executor and clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeExecutor;
using testing::ListJobSource;
using testing::Outcome;
using testing::RecordingObserver;

std::vector<uint64_t> testing_seqs(uint64_t n) {
  std::vector<uint64_t> seqs;
  for (uint64_t i = 1; i <= n; ++i) seqs.push_back(i);
  return seqs;
}

SchedulerOptions live_options(int workers) {
  SchedulerOptions options;
  options.workers = workers;
  return options;
}

// A run over `values` whose attempts last `duration` each (or what `script` says).
struct Live {
  explicit Live(std::vector<std::string> values, Duration duration = 1s)
      : executor(clock,
                 [this, duration](uint64_t seq, int number) {
                   if (script) return script(seq, number);
                   Outcome o;
                   o.duration = duration;
                   return o;
                 }),
        source(std::move(values)) {}

  RunStats run(SchedulerOptions options) {
    Scheduler scheduler(std::move(options), clock, executor, source, command, observer);
    self = &scheduler;
    return scheduler.run();
  }

  double at(size_t start) const { return to_seconds(executor.starts.at(start).at - begin); }
  std::vector<uint64_t> started() const {
    std::vector<uint64_t> seqs;
    for (const auto& s : executor.starts) seqs.push_back(s.seq);
    return seqs;
  }
  // The record each job had, by sequence number (fed jobs included).
  static Command command(const Job& job, WorkerId) { return Command{job.record.fields.at(0), {}}; }
  std::string line_of(uint64_t seq) const {
    for (const auto& s : executor.starts) {
      if (s.seq == seq) return s.line;
    }
    return "";
  }

  std::function<Outcome(uint64_t, int)> script;
  FakeClock clock;
  TimePoint begin = clock.now();
  FakeExecutor executor;
  ListJobSource source;
  RecordingObserver observer;
  Scheduler* self = nullptr;
};

TEST_CASE("growing the pool while it runs starts more jobs at once") {
  Live l(testing::numbered(8));
  SchedulerOptions options = live_options(1);
  options.live = [&](Scheduler& s, TimePoint now) {
    if (now - l.begin >= 2s) s.set_workers(3);
    return l.begin + 2s;
  };
  const RunStats stats = l.run(options);
  REQUIRE(l.executor.starts.size() == 8);
  // Jobs 1 and 2 one after the other on the one worker; then three at a time.
  CHECK(l.at(1) == doctest::Approx(1));
  CHECK(l.at(2) == doctest::Approx(2));
  CHECK(l.at(4) == doctest::Approx(2));
  CHECK(l.executor.starts[4].worker == 3);
  CHECK(l.executor.max_running == 3);
  CHECK(to_seconds(stats.wall()) == doctest::Approx(4));
  REQUIRE(stats.worker_changes.size() == 1);
  CHECK(stats.worker_changes[0].workers == 3);
  CHECK(stats.max_workers == 3);
  // Capacity: 2 s × 1 worker + 2 s × 3 workers, all of it busy.
  CHECK(to_seconds(stats.capacity()) == doctest::Approx(8));
  CHECK(stats.utilization() == doctest::Approx(1.0));
}

TEST_CASE("shrinking the pool kills nothing: retired workers just take no new job") {
  Live l(testing::numbered(6), 2s);
  SchedulerOptions options = live_options(3);
  bool shrunk = false;
  options.live = [&](Scheduler& s, TimePoint now) {
    if (!shrunk && now - l.begin >= 1s) shrunk = s.set_workers(1);
    return l.begin + 1s;
  };
  const RunStats stats = l.run(options);
  CHECK(shrunk);
  CHECK(l.executor.cancels.empty());
  REQUIRE(l.executor.starts.size() == 6);
  CHECK(l.observer.exit_statuses == std::vector<int>(6, 0));
  // The first three all finish; then one at a time on worker 1.
  for (size_t i = 3; i < 6; ++i) {
    CHECK(l.executor.starts[i].worker == 1);
    CHECK(l.at(i) == doctest::Approx(2.0 * static_cast<double>(i - 2)));
  }
  CHECK(to_seconds(stats.wall()) == doctest::Approx(8));
  // 1 s × 3 workers + 7 s × 1 worker.
  CHECK(to_seconds(stats.capacity()) == doctest::Approx(10));
}

TEST_CASE("a worker retired while busy comes back when the pool grows again") {
  Live l(testing::numbered(12), 4s);
  SchedulerOptions options = live_options(4);
  int step = 0;
  options.live = [&](Scheduler& s, TimePoint now) {
    if (step == 0 && now - l.begin >= 1s) {
      s.set_workers(2);
      ++step;
    } else if (step == 1 && now - l.begin >= 2s) {
      s.set_workers(3);
      ++step;
    }
    return step == 0 ? l.begin + 1s : l.begin + 2s;
  };
  const RunStats stats = l.run(options);
  REQUIRE(l.executor.starts.size() == 12);
  // At 4 s the four first jobs end; workers 1..3 take new ones, worker 4 stays retired.
  std::map<WorkerId, int> per_worker;
  for (size_t i = 4; i < 12; ++i) ++per_worker[l.executor.starts[i].worker];
  CHECK(per_worker.count(4) == 0);
  CHECK(l.executor.max_running == 4);
  CHECK(stats.worker_changes.size() == 2);
  CHECK(l.observer.ended.size() == 12);
}

TEST_CASE("with worker groups the pool cannot be resized") {
  Live l(testing::numbered(2));
  SchedulerOptions options = live_options(2);
  options.worker_groups = {0, 1};
  bool resized = true;
  options.live = [&](Scheduler& s, TimePoint) {
    resized = s.set_workers(4);
    return kNever;
  };
  const RunStats stats = l.run(options);
  CHECK_FALSE(resized);
  CHECK(stats.worker_changes.empty());
}

TEST_CASE("paused, the pool starts nothing while running jobs go on; resumed, it goes on") {
  Live l(testing::numbered(4));
  SchedulerOptions options = live_options(2);
  std::vector<PoolStatus> seen;
  options.live = [&](Scheduler& s, TimePoint now) {
    const Duration t = now - l.begin;
    if (t >= 500ms && t < 3s && !s.paused()) s.set_paused(true);
    if (t >= 3s && s.paused()) s.set_paused(false);
    seen.push_back(s.status());
    return t < 500ms ? l.begin + 500ms : l.begin + 3s;
  };
  const RunStats stats = l.run(options);
  CHECK(l.executor.cancels.empty());
  REQUIRE(l.executor.starts.size() == 4);
  CHECK(l.at(2) == doctest::Approx(3));
  CHECK(l.at(3) == doctest::Approx(3));
  CHECK(stats.succeeded == 4);
  // While paused after the first two ended: nothing running, two jobs done, paused.
  const auto idle = std::find_if(seen.begin(), seen.end(), [](const PoolStatus& s) {
    return s.paused && s.running == 0 && s.jobs == 2;
  });
  REQUIRE(idle != seen.end());
  CHECK(idle->workers == 2);
  CHECK(idle->succeeded == 2);
  CHECK(idle->failed == 0);
}

TEST_CASE("suspended time does not count towards a timeout or the deadline") {
  SUBCASE("timeout") {
    Live l({"a"}, 1000s);
    SchedulerOptions options = live_options(1);
    options.timeout = 2s;
    bool done = false;
    options.live = [&](Scheduler& s, TimePoint now) {
      if (!done && now - l.begin >= 1s) {
        done = true;
        s.suspend([&] { l.clock.advance(100s); });
      }
      return done ? kNever : l.begin + 1s;
    };
    const RunStats stats = l.run(options);
    CHECK(l.executor.suspends == std::vector<bool>{true, false});
    // Timed out 2 s of running time after its start, not counting the 100 s suspended.
    CHECK(to_seconds(stats.wall()) == doctest::Approx(102));
    CHECK(stats.timed_out == 1);
    CHECK(to_seconds(stats.suspended) == doctest::Approx(100));
  }
  SUBCASE("deadline") {
    Live l({"a", "b"}, 1000s);
    SchedulerOptions options = live_options(2);
    options.deadline = 5s;
    bool done = false;
    options.live = [&](Scheduler& s, TimePoint now) {
      if (!done && now - l.begin >= 1s) {
        done = true;
        s.suspend([&] { l.clock.advance(60s); });
      }
      return done ? kNever : l.begin + 1s;
    };
    const RunStats stats = l.run(options);
    CHECK(stats.stop_cause == StopCause::kDeadline);
    CHECK(to_seconds(stats.wall()) == doctest::Approx(65));
  }
}

TEST_CASE("higher priorities start first, ties in input order") {
  Live l({"1", "3", "3", "2", "0"});
  SchedulerOptions options = live_options(1);
  options.priority = [](const Job& job) { return std::stod(job.record.fields.at(0)); };
  l.run(options);
  CHECK(l.started() == std::vector<uint64_t>{2, 3, 4, 1, 5});
}

TEST_CASE("priorities order the jobs within the window, not the whole input") {
  Live l({"1", "2", "3", "4"});
  SchedulerOptions options = live_options(1);
  options.priority = [](const Job& job) { return std::stod(job.record.fields.at(0)); };
  SUBCASE("a window of 2") {
    options.window = 2;
    l.run(options);
    CHECK(l.started() == std::vector<uint64_t>{2, 3, 4, 1});
  }
  SUBCASE("a window holding everything") {
    l.run(options);
    CHECK(l.started() == std::vector<uint64_t>{4, 3, 2, 1});
  }
}

TEST_CASE("priorities with the -k window never stall the run") {
  Live l(testing::numbered(20));
  SchedulerOptions options = live_options(2);
  options.keep_order_window = 3;
  options.priority = [](const Job& job) { return std::stod(job.record.fields.at(0)); };
  const RunStats stats = l.run(options);
  CHECK(stats.jobs == 20);
  std::vector<uint64_t> started = l.started();
  std::ranges::sort(started);
  CHECK(started == testing_seqs(20));
}

TEST_CASE("due retries and new jobs take turns: neither starves the other") {
  // Jobs 1..3 fail once at once; their retries are due together with new jobs 4...
  Live l(testing::numbered(9));
  l.script = [](uint64_t seq, int number) {
    Outcome o;
    o.exit_status = seq <= 3 && number == 1 ? 1 : 0;
    return o;
  };
  SchedulerOptions options = live_options(3);
  options.retry.retries = 1;
  options.retry.backoff = Duration::zero();
  options.retry.backoff_max = Duration::zero();
  const RunStats stats = l.run(options);
  CHECK(stats.succeeded == 9);
  REQUIRE(l.executor.starts.size() == 12);
  // At 1 s: a retry, a new job, a retry; at 2 s: a new job, the last retry, a new job.
  std::vector<std::pair<uint64_t, int>> at_one;
  for (size_t i = 3; i < 6; ++i) {
    at_one.emplace_back(l.executor.starts[i].seq, l.executor.starts[i].number);
  }
  CHECK(at_one == std::vector<std::pair<uint64_t, int>>{{1, 2}, {4, 1}, {2, 2}});
  CHECK(l.executor.starts[6].seq == 5);
  CHECK(l.executor.starts[7].seq == 3);
  CHECK(l.executor.starts[7].number == 2);
}

TEST_CASE("a chain of fed records runs to its end, and the run ends with it") {
  Live l({"1"});
  l.executor.on_end = [&](uint64_t seq, WorkerId) {
    const int value = std::stoi(l.line_of(seq));
    if (value < 5) l.self->feed(Record{{std::to_string(value + 1)}});
  };
  const RunStats stats = l.run(live_options(2));
  CHECK(l.started() == std::vector<uint64_t>{1, 2, 3, 4, 5});
  CHECK(l.line_of(5) == "5");
  CHECK(stats.jobs == 5);
  CHECK(stats.fed == 4);
  CHECK(stats.not_started == 0);
  CHECK(stats.stop_cause == StopCause::kNone);
}

TEST_CASE("a fan-out tree of fed records runs every node exactly once") {
  Live l({"r"});
  l.executor.on_end = [&](uint64_t seq, WorkerId) {
    const std::string node = l.line_of(seq);
    if (node.size() < 4) {
      l.self->feed(Record{{node + "a"}});
      l.self->feed(Record{{node + "b"}});
    }
  };
  const RunStats stats = l.run(live_options(3));
  CHECK(stats.jobs == 15);  // 1 + 2 + 4 + 8
  CHECK(stats.fed == 14);
  std::vector<std::string> lines;
  for (const auto& s : l.executor.starts) lines.push_back(s.line);
  std::ranges::sort(lines);
  CHECK(std::ranges::adjacent_find(lines) == lines.end());
  CHECK(std::ranges::count_if(lines, [](const std::string& n) { return n.size() == 4; }) == 8);
}

TEST_CASE("fed records and the input both run; the input's end does not end the run early") {
  Live l({"x", "y", "z"});
  l.executor.on_end = [&](uint64_t seq, WorkerId) {
    const std::string line = l.line_of(seq);
    if (line.size() == 1) l.self->feed(Record{{line + "-fed"}});
  };
  const RunStats stats = l.run(live_options(1));
  CHECK(stats.jobs == 6);
  // A fed record goes ahead of the input's next one.
  std::vector<std::string> lines;
  for (const auto& s : l.executor.starts) lines.push_back(s.line);
  CHECK(lines == std::vector<std::string>{"x", "x-fed", "y", "y-fed", "z", "z-fed"});
}

TEST_CASE("a feedback cycle is stopped by max_records") {
  Live l({"loop"});
  l.executor.on_end = [&](uint64_t, WorkerId) { l.self->feed(Record{{"loop"}}); };
  SchedulerOptions options = live_options(2);
  options.max_records = 10;
  const RunStats stats = l.run(options);
  CHECK(stats.jobs == 10);
  CHECK(stats.stop_cause == StopCause::kMaxRecords);
  CHECK(stats.not_started >= 1);
}

TEST_CASE("max_records also bounds the input's records") {
  Live l(testing::numbered(10));
  SchedulerOptions options = live_options(2);
  options.max_records = 4;
  const RunStats stats = l.run(options);
  CHECK(stats.jobs == 4);
  CHECK(stats.stop_cause == StopCause::kMaxRecords);
  CHECK(stats.not_started >= 1);

  Live exact(testing::numbered(4));
  const RunStats fits = exact.run(options);
  CHECK(fits.jobs == 4);
  CHECK(fits.stop_cause == StopCause::kNone);
  CHECK(fits.not_started == 0);
}

TEST_CASE("max_records runs exactly the records taken, read ahead or retried") {
  SUBCASE("with priorities, which read a window ahead") {
    Live l({"1", "2", "3", "4", "5"});
    SchedulerOptions options = live_options(1);
    options.max_records = 3;
    options.priority = [](const Job& job) { return std::stod(job.record.fields.at(0)); };
    const RunStats stats = l.run(options);
    CHECK(l.started() == std::vector<uint64_t>{3, 2, 1});
    CHECK(stats.jobs == 3);
    CHECK(stats.stop_cause == StopCause::kMaxRecords);
    CHECK(stats.not_started >= 1);
  }
  SUBCASE("a retry due after the limit still runs") {
    Live l({"a", "b", "c"});
    l.script = [](uint64_t seq, int number) {
      Outcome o;
      o.exit_status = seq == 1 && number == 1 ? 1 : 0;
      return o;
    };
    SchedulerOptions options = live_options(1);
    options.max_records = 2;
    options.retry.retries = 1;
    options.retry.backoff = 500ms;
    options.retry.backoff_max = 500ms;
    const RunStats stats = l.run(options);
    CHECK(stats.succeeded == 2);
    CHECK(stats.failed == 0);
    CHECK(stats.retried == 1);
  }
  SUBCASE("fed records within the limit run; feeding is then closed") {
    Live l({"s"});
    l.executor.on_end = [&](uint64_t seq, WorkerId) {
      if (l.line_of(seq) != "s") return;
      for (int i = 0; i < 10; ++i) l.self->feed(Record{{std::to_string(i)}});
      CHECK(l.self->feed_closed());
    };
    SchedulerOptions options = live_options(2);
    options.max_records = 5;
    const RunStats stats = l.run(options);
    CHECK(stats.jobs == 5);
    CHECK(stats.fed == 4);
    CHECK(stats.not_started == 6);
  }
}

TEST_CASE("feed_room says no once the window of fed records is full") {
  Live l({"a"});
  std::vector<bool> room;
  l.executor.on_end = [&](uint64_t seq, WorkerId) {
    if (l.line_of(seq) != "a") return;
    for (int i = 0; i < 4; ++i) {
      l.self->feed(Record{{"fed"}});
      room.push_back(l.self->feed_room());
    }
  };
  SchedulerOptions options = live_options(1);
  options.window = 3;
  const RunStats stats = l.run(options);
  CHECK(room == std::vector<bool>{true, true, false, false});
  CHECK_FALSE(l.self == nullptr);
  // Taken past the window all the same (the executor decides when it must): nothing is lost.
  CHECK(stats.jobs == 5);
}

TEST_CASE("a cancelled running job is terminated, then killed, and never retried") {
  Live l({"a", "b"}, 10s);
  SchedulerOptions options = live_options(1);
  options.retry.retries = 3;
  options.kill_after = 2s;
  bool cancelled = false;
  options.live = [&](Scheduler& s, TimePoint now) {
    if (!cancelled && now - l.begin >= 3s) {
      CHECK(s.cancel_job(1));
      CHECK(s.cancel_job(1));  // ending already: nothing more is sent
      cancelled = true;
    }
    return l.begin + 3s;
  };
  const RunStats stats = l.run(std::move(options));
  REQUIRE(l.executor.cancels.size() == 1);
  CHECK(l.executor.cancels[0] == std::make_pair(WorkerId{1}, CancelMode::kTerminate));
  CHECK(l.started() == std::vector<uint64_t>{1, 2});  // job 1 once: no retry
  CHECK(l.at(1) == doctest::Approx(3.0));
  CHECK(stats.failed == 1);
  CHECK(stats.succeeded == 1);
}

TEST_CASE("a cancelled job that waits for its retry ends at once; unknown jobs are refused") {
  Live l({"a"});
  l.script = [](uint64_t, int) {
    testing::Outcome o;
    o.exit_status = 1;
    return o;
  };
  SchedulerOptions options = live_options(1);
  options.retry.retries = 3;
  options.retry.backoff = 100s;
  options.random = [] { return 0.99; };
  std::optional<bool> result;
  std::optional<bool> unknown;
  options.live = [&](Scheduler& s, TimePoint now) {
    if (!result && now - l.begin >= 5s) {
      unknown = s.cancel_job(7);
      result = s.cancel_job(1);
    }
    return l.begin + 5s;
  };
  const RunStats stats = l.run(std::move(options));
  CHECK(result == true);
  CHECK(unknown == false);
  CHECK(l.started() == std::vector<uint64_t>{1});
  CHECK(l.observer.ended == std::vector<uint64_t>{1});
  CHECK(to_seconds(stats.end - l.begin) == doctest::Approx(5.0));
  CHECK(stats.failed == 1);
}

}  // namespace
}  // namespace taskpool
