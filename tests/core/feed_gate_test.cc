// When records fed back by jobs (--feedback) are read: FeedGate's rule alone, then in a run with
// the fake executor and clock (no real time passes).
#include "core/feed_gate.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using Mode = FeedOrder::Mode;

constexpr TimePoint kGateStart = TimePoint{} + std::chrono::hours(1);

FeedGate::State gate_state(size_t fed_waiting, size_t running, size_t feeders_waiting) {
  FeedGate::State state;
  state.fed_waiting = fed_waiting;
  state.running = running;
  state.feeders_waiting = feeders_waiting;
  return state;
}

TEST_CASE("feed gate: read while the window has room, as many as it has") {
  FeedGate gate(10);
  const FeedOrder order = gate.decide(gate_state(4, 2, 0), kGateStart);
  CHECK(order.mode == Mode::kRead);
  CHECK(order.records == 6);
  CHECK(gate.recheck_at() == kNever);  // nothing to look at again by time
}

TEST_CASE("feed gate: a full window holds the feeders, looked at again every kRecheck") {
  FeedGate gate(10);
  gate.decide(gate_state(0, 2, 0), kGateStart);
  CHECK(gate.decide(gate_state(10, 2, 1), kGateStart + 100ms).mode == Mode::kHold);
  CHECK(gate.recheck_at() == kGateStart + 100ms + FeedGate::kRecheck);
}

TEST_CASE("feed gate: read anyway when every running job has a record waiting") {
  FeedGate gate(10);
  const FeedOrder order = gate.decide(gate_state(10, 2, 2), kGateStart);
  CHECK(order.mode == Mode::kRead);
  CHECK(order.records == 1);
}

TEST_CASE("feed gate: one chunk each after kRescueAfter held, then held again") {
  FeedGate gate(10);
  gate.decide(gate_state(3, 2, 0), kGateStart);
  const auto held = gate_state(10, 2, 1);
  CHECK(gate.decide(held, kGateStart + 500ms).mode == Mode::kHold);
  // The recheck comes no later than the rescue.
  CHECK(gate.recheck_at() == kGateStart + 550ms);
  gate.decide(held, kGateStart + 980ms);
  CHECK(gate.recheck_at() == kGateStart + FeedGate::kRescueAfter);
  CHECK(gate.decide(held, kGateStart + 1s).mode == Mode::kOneChunk);
  CHECK(gate.decide(held, kGateStart + 1050ms).mode == Mode::kHold);
  CHECK(gate.decide(held, kGateStart + 2s).mode == Mode::kOneChunk);
}

TEST_CASE("feed gate: closed once fed records cannot run; read all while stopping") {
  FeedGate gate(10);
  FeedGate::State state = gate_state(10, 2, 0);
  state.stopping = true;
  const FeedOrder stopping = gate.decide(state, kGateStart);
  CHECK(stopping.mode == Mode::kRead);
  CHECK(stopping.records == SIZE_MAX);
  state.closed = true;
  CHECK(gate.decide(state, kGateStart).mode == Mode::kClose);
}

// A run of `values` on the fake executor, whose jobs feed what `feeds` says.
struct FeedRun {
  FeedRun(std::vector<std::string> values, std::function<testing::Outcome(uint64_t, int)> script)
      : executor(clock, std::move(script)), source(std::move(values)) {}
  RunStats run(SchedulerOptions options) {
    Scheduler scheduler(std::move(options), clock, executor, source, testing::command_for,
                        observer);
    return scheduler.run();
  }
  double at(const testing::StartEvent& start) const { return to_seconds(start.at - begin); }

  testing::FakeClock clock;
  TimePoint begin = clock.now();
  testing::FakeExecutor executor;
  testing::ListJobSource source;
  testing::RecordingObserver observer;
};

testing::Outcome lasting(Duration d) {
  testing::Outcome o;
  o.duration = d;
  return o;
}

TEST_CASE("feed gate in a run: the only job, waiting to feed, is read without delay") {
  // One worker, a window of 1: job 1 feeds three records. Nothing else runs, so none of them
  // could ever start if the gate held it: it is read at once, a record at a time.
  FeedRun r({"1"}, [](uint64_t seq, int) { return lasting(seq == 1 ? 1s : 2s); });
  r.executor.feeds = [](uint64_t seq) {
    return seq == 1 ? std::vector<std::string>{"a", "b", "c"} : std::vector<std::string>{};
  };
  SchedulerOptions options;
  options.window = 1;
  const RunStats stats = r.run(options);
  CHECK(stats.fed == 3);
  CHECK(stats.succeeded == 4);
  CHECK(r.executor.chunk_reads.empty());  // no rescue was needed
  // Job 1 ends on time; the fed jobs follow one after the other.
  REQUIRE(r.executor.starts.size() == 4);
  CHECK(r.at(r.executor.starts[1]) == doctest::Approx(1));
  CHECK(to_seconds(stats.wall()) == doctest::Approx(7));
}

TEST_CASE("feed gate in a run: a held feeder beside a long job gets one chunk a second") {
  // Two workers, a window of 2: job 1 feeds five records, job 2 runs 10 s and feeds nothing.
  // Two records fill the window; they cannot start (both workers are busy), and job 2 does not
  // wait on its pipe, so job 1 is held, but for one record each kRescueAfter.
  FeedRun r({"1", "2"}, [](uint64_t seq, int) { return lasting(seq == 2 ? 10s : 1s); });
  r.executor.feeds = [](uint64_t seq) {
    return seq == 1 ? std::vector<std::string>{"a", "b", "c", "d", "e"}
                    : std::vector<std::string>{};
  };
  SchedulerOptions options;
  options.workers = 2;
  options.window = 2;
  const RunStats stats = r.run(options);
  CHECK(stats.fed == 5);
  CHECK(stats.succeeded == 7);
  REQUIRE(r.executor.chunk_reads.size() == 3);
  CHECK(to_seconds(r.executor.chunk_reads[0] - r.begin) == doctest::Approx(1));
  CHECK(to_seconds(r.executor.chunk_reads[1] - r.begin) == doctest::Approx(2));
  CHECK(to_seconds(r.executor.chunk_reads[2] - r.begin) == doctest::Approx(3));
  // Its pipe empty, job 1 ends and the fed jobs take its worker, long before job 2 ends.
  REQUIRE(r.executor.starts.size() == 7);
  CHECK(r.at(r.executor.starts[2]) == doctest::Approx(3));
  CHECK(r.executor.max_running == 2);
}

TEST_CASE("feed gate in a run: past max_records the feed pipes are closed") {
  FeedRun r({"1"}, [](uint64_t, int) { return lasting(1s); });
  r.executor.feeds = [](uint64_t seq) {
    return seq == 1 ? std::vector<std::string>(50, "x") : std::vector<std::string>{};
  };
  SchedulerOptions options;
  options.workers = 2;
  options.window = 4;
  options.max_records = 3;
  const RunStats stats = r.run(options);
  CHECK(stats.jobs == 3);
  REQUIRE_FALSE(r.executor.orders.empty());
  CHECK(r.executor.orders.back().mode == Mode::kClose);
  // Job 1's writes end with its pipe: it is not left waiting for ever.
  CHECK(to_seconds(stats.wall()) < 5);
}

}  // namespace
}  // namespace taskpool
