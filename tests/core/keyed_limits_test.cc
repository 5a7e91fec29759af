// Keyed limits (--limit): per key at most N at once or N a second, no head-of-line blocking,
// keys served in turn, pauses on Retry-After, and a job that waits for its key holds no worker
// and runs no timeout. Jobs are values "KEY/..." (several keys: "K1/K2/..."); each limit's key is
// one part.
#include "core/keyed_limits.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::Outcome;

std::vector<std::string> parts_of(const std::string& value) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t slash = value.find('/'); slash != std::string::npos; slash = value.find('/', from)) {
    parts.push_back(value.substr(from, slash - from));
    from = slash + 1;
  }
  parts.push_back(value.substr(from));
  return parts;
}

KeyedLimit limit_of(int concurrency, double rate = 0) {
  KeyedLimit limit;
  limit.name = "{key}";
  limit.rule = LimitRule{concurrency, rate};
  return limit;
}

struct KeyedRun {
  KeyedRun(std::vector<std::string> jobs, std::function<Outcome(uint64_t, int)> script)
      : values(jobs), executor(clock, std::move(script)), source(std::move(jobs)) {
    executor.on_end = [this](uint64_t seq, WorkerId) { ends[seq].push_back(clock.now()); };
  }

  RunStats run(SchedulerOptions options, std::vector<KeyedLimit> limits) {
    options.limits = std::move(limits);
    const size_t count = options.limits.size();
    options.limit_keys = [count](const Job& job) {
      std::vector<std::string> parts = parts_of(job.record.fields.at(0));
      parts.resize(count);
      return parts;
    };
    Scheduler scheduler(options, clock, executor, source, testing::command_for, observer);
    return scheduler.run();
  }

  // The key of job `seq` (of limit `part`); the keys of the jobs started, in order; when start
  // `i` was, from the run's start.
  std::string key_of(uint64_t seq, size_t part = 0) const {
    return parts_of(values.at(seq - 1)).at(part);
  }
  std::vector<std::string> start_keys() const {
    std::vector<std::string> keys;
    for (const auto& s : executor.starts) keys.push_back(key_of(s.seq));
    return keys;
  }
  Duration started_at(size_t i) const { return executor.starts.at(i).at - start; }
  // The most attempts of one key (of limit `part`) running at once.
  std::map<std::string, int> most_at_once(size_t part = 0) const {
    std::map<std::string, std::vector<std::pair<TimePoint, int>>> per_key;
    for (const auto& s : executor.starts) {
      const std::string key = key_of(s.seq, part);
      per_key[key].emplace_back(s.at, 1);
      per_key[key].emplace_back(ends.at(s.seq).at(static_cast<size_t>(s.number - 1)), -1);
    }
    std::map<std::string, int> most;
    for (auto& [key, list] : per_key) {
      std::sort(list.begin(), list.end());  // an end before a start at the same time
      int now = 0;
      for (const auto& [at, step] : list) most[key] = std::max(most[key], now += step);
    }
    return most;
  }

  std::vector<std::string> values;
  testing::FakeClock clock;
  TimePoint start = clock.now();
  testing::FakeExecutor executor;
  testing::ListJobSource source;
  testing::RecordingObserver observer;
  std::map<uint64_t, std::vector<TimePoint>> ends;  // per job, its attempts' ends
};

std::function<Outcome(uint64_t, int)> taking(Duration duration) {
  return [duration](uint64_t, int) { return Outcome{duration}; };
}

TEST_CASE("a key at its limit does not hold back the jobs of other keys") {
  KeyedRun r({"a/1", "a/2", "a/3", "a/4", "b/1", "b/2"}, taking(1s));
  SchedulerOptions options;
  options.workers = 3;
  const RunStats stats = r.run(options, {limit_of(1)});
  CHECK(stats.succeeded == 6);
  // b's jobs run beside a's first one, not after a's four.
  CHECK(r.start_keys() == std::vector<std::string>{"a", "b", "a", "b", "a", "a"});
  CHECK(r.started_at(1) == 0s);
  CHECK(r.most_at_once() == std::map<std::string, int>{{"a", 1}, {"b", 1}});
  CHECK(stats.wall() == 4s);  // a's four, one at a time: the least there can be
}

TEST_CASE("keys take turns: the key served least recently starts next") {
  std::vector<std::string> values;
  for (const char* key : {"a", "b", "c"}) {
    for (int i = 0; i < 4; ++i) values.push_back(std::string(key) + "/" + std::to_string(i));
  }
  KeyedRun r(values, taking(1s));
  SchedulerOptions options;
  options.workers = 2;
  r.run(options, {limit_of(2)});
  CHECK(r.start_keys() ==
        std::vector<std::string>{"a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "b", "c"});
}

TEST_CASE("a job starts only when each of its limits allows it") {
  // Limit 1 on the first part, 1 on the second: "a/x" and "b/x" share x.
  KeyedRun r({"a/x", "b/x", "c/y", "a/y"}, taking(1s));
  SchedulerOptions options;
  options.workers = 4;
  r.run(options, {limit_of(1), limit_of(1)});
  CHECK(r.most_at_once(0) == std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}});
  CHECK(r.most_at_once(1) == std::map<std::string, int>{{"x", 1}, {"y", 1}});
  // a/x and c/y at once; then b/x (x free) and a/y (a and y free).
  CHECK(r.started_at(0) == 0s);
  CHECK(r.started_at(1) == 0s);
  CHECK(r.start_keys() == std::vector<std::string>{"a", "c", "b", "a"});
  CHECK(r.started_at(2) == 1s);
  CHECK(r.started_at(3) == 1s);
}

TEST_CASE("a Retry-After pauses the job's key, not the run") {
  // a/1 fails asking for 5 s; a's other job waits for the pause, b's do not.
  KeyedRun r({"a/1", "a/2", "b/1", "b/2"}, [](uint64_t seq, int attempt) {
    Outcome outcome{1s};
    if (seq == 1 && attempt == 1) {
      outcome.exit_status = 22;
      outcome.retry_after = 5s;
    }
    return outcome;
  });
  SchedulerOptions options;
  options.workers = 2;
  options.retry.retries = 1;
  options.retry.backoff = 1s;
  options.random = [] { return 0.0; };
  KeyedLimit limit = limit_of(2);
  limit.pauses_on_retry_after = true;
  const RunStats stats = r.run(options, {limit});
  CHECK(stats.succeeded == 4);
  std::map<uint64_t, std::vector<Duration>> starts;
  for (const auto& s : r.executor.starts) starts[s.seq].push_back(s.at - r.start);
  // a/1 ends at 1 s: a is paused until 6 s. b's jobs run in the meantime.
  CHECK(starts[3] == std::vector<Duration>{0s});
  CHECK(starts[4] == std::vector<Duration>{1s});
  CHECK(starts[2] >= std::vector<Duration>{6s});
  CHECK(starts[1] == std::vector<Duration>{0s, 6s});
  REQUIRE(stats.keys.size() == 2);
  CHECK(stats.keys[0].key == "a");
  CHECK(stats.keys[0].pauses == 1);
  CHECK(stats.keys[0].paused == 5s);
  CHECK(stats.keys[0].started == 3);
  CHECK(stats.keys[0].waited == 1);  // a/2, which waited from 1 s to 6 s
  CHECK(stats.keys[0].wait == 5s);
  CHECK(stats.keys[1].key == "b");
  CHECK(stats.keys[1].pauses == 0);
  CHECK(stats.keys[1].waited == 0);
}

TEST_CASE("a job that waits for its key runs no timeout") {
  // Four jobs of one key, one at a time, each 1 s of a 1.5 s timeout, on four workers.
  KeyedRun r({"a/1", "a/2", "a/3", "a/4"}, taking(1s));
  SchedulerOptions options;
  options.workers = 4;
  options.timeout = 1500ms;
  const RunStats stats = r.run(options, {limit_of(1)});
  CHECK(stats.succeeded == 4);
  CHECK(stats.timed_out == 0);
  CHECK(r.executor.cancels.empty());
  CHECK(stats.wall() == 4s);
  REQUIRE(stats.keys.size() == 1);
  CHECK(stats.keys[0].waited == 3);
  CHECK(stats.keys[0].wait == 1s + 2s + 3s);
}

TEST_CASE("a rate paces one key's starts; the others start at once") {
  KeyedRun r({"a/1", "a/2", "a/3", "a/4", "b/1"}, taking(100ms));
  SchedulerOptions options;
  options.workers = 4;
  const RunStats stats = r.run(options, {limit_of(0, 2.0)});
  CHECK(stats.succeeded == 5);
  std::map<uint64_t, Duration> at;
  for (const auto& s : r.executor.starts) at[s.seq] = s.at - r.start;
  CHECK(at[1] == 0s);
  CHECK(at[5] == 0s);
  CHECK(at[2] == 500ms);
  CHECK(at[3] == 1000ms);
  CHECK(at[4] == 1500ms);
  // It slept until each start, never turning without cause.
  CHECK(r.executor.waits <= 10);
}

TEST_CASE("a per-value override gives one key its own limit") {
  KeyedRun r({"a/1", "a/2", "a/3", "b/1", "b/2", "b/3"}, taking(1s));
  SchedulerOptions options;
  options.workers = 6;
  KeyedLimit limit = limit_of(1);
  limit.overrides["b"] = LimitRule{3, 0};
  r.run(options, {limit});
  CHECK(r.most_at_once() == std::map<std::string, int>{{"a", 1}, {"b", 3}});
}

TEST_CASE("the ready jobs searched for one whose key is free are a bounded window") {
  std::vector<std::string> values;
  for (int i = 0; i < 10; ++i) values.push_back("a/" + std::to_string(i));
  values.emplace_back("b/1");
  SUBCASE("within the window, b starts at once") {
    KeyedRun r(values, taking(1s));
    SchedulerOptions options;
    options.workers = 2;
    r.run(options, {limit_of(1)});
    CHECK(r.started_at(1) == 0s);
    CHECK(r.key_of(r.executor.starts.at(1).seq) == "b");
  }
  SUBCASE("beyond a window of 4, b waits until a's jobs move it into the window") {
    KeyedRun r(values, taking(1s));
    SchedulerOptions options;
    options.workers = 2;
    options.window = 4;
    r.run(options, {limit_of(1)});
    // b (job 11) enters the window when a's jobs 1..7 have started.
    std::map<uint64_t, Duration> at;
    for (const auto& s : r.executor.starts) at[s.seq] = s.at - r.start;
    CHECK(at[11] == 6s);
  }
}

TEST_CASE("KeyedLimits: concurrency, rate and pauses per key") {
  KeyedLimit cap = limit_of(2);
  cap.pauses_on_retry_after = true;
  KeyedLimits limits({cap, limit_of(0, 10.0)});
  const TimePoint t0 = TimePoint{} + 1h;
  const std::vector<std::string> ax{"a", "x"};
  const std::vector<std::string> ay{"a", "y"};
  CHECK(limits.check(ax, t0).allowed);
  limits.start(ax, t0);
  // x waits 100 ms for its next start; y does not.
  KeyedLimits::Verdict v = limits.check(ax, t0);
  CHECK_FALSE(v.allowed);
  CHECK(v.limit == 1);
  CHECK(v.until == t0 + 100ms);
  CHECK(limits.check(ay, t0).allowed);
  limits.start(ay, t0);
  // a is full: two running; it frees when one ends (no time says when).
  v = limits.check(std::vector<std::string>{"a", "z"}, t0);
  CHECK_FALSE(v.allowed);
  CHECK(v.limit == 0);
  CHECK(v.until == kNever);
  limits.end(ax);
  CHECK(limits.check(std::vector<std::string>{"a", "z"}, t0).allowed);
  // A pause holds a back (limit 0 pauses; limit 1 does not).
  CHECK(limits.pause(ay, t0, 2s));
  v = limits.check(std::vector<std::string>{"a", "z"}, t0 + 1s);
  CHECK_FALSE(v.allowed);
  CHECK(v.until == t0 + 2s);
  CHECK(limits.check(std::vector<std::string>{"a", "z"}, t0 + 2s).allowed);
  CHECK(limits.check(std::vector<std::string>{"b", "y"}, t0 + 1s).allowed);
  CHECK(limits.last_served(ay) == 2);
  CHECK(limits.last_served(std::vector<std::string>{"b", "z"}) == 0);
}

}  // namespace
}  // namespace taskpool
