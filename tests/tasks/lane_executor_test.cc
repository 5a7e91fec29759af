#include "tasks/lane_executor.h"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/core/fake_executor.h"
#include "tests/tasks/executor_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TimePoint lane_now() { return std::chrono::steady_clock::now(); }

// Passes everything on to an executor the test owns, so that the test can look at it once the
// lanes are gone.
class Forward final : public Executor {
 public:
  explicit Forward(Executor& to) : to_(to) {}
  void start(const Attempt& attempt) override { to_.start(attempt); }
  void cancel(WorkerId worker, CancelMode mode) override { to_.cancel(worker, mode); }
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override {
    return to_.wait(deadline, also_watch);
  }
  void wake() override { to_.wake(); }

 private:
  Executor& to_;
};

// Attempts that run until cancelled, or until the test ends them (finish); wait() sleeps until
// one ended or wake(). What happened is kept for the test, under a lock.
class HeldExecutor final : public Executor {
 public:
  struct Log {
    std::mutex mutex;
    std::vector<WorkerId> started;
    std::vector<WorkerId> cancelled;
    std::set<std::thread::id> threads;  // that started attempts
    bool every_signal_blocked = true;   // in those threads, as they started attempts
    size_t running_when_destroyed = 0;
    bool destroyed = false;
    std::thread::id destroyed_on;
  };

  explicit HeldExecutor(Log& log) : log_(log) {}
  ~HeldExecutor() override {
    const std::lock_guard lock(log_.mutex);
    log_.destroyed = true;
    log_.destroyed_on = std::this_thread::get_id();
    log_.running_when_destroyed = running_.size();
  }
  HeldExecutor(const HeldExecutor&) = delete;
  HeldExecutor& operator=(const HeldExecutor&) = delete;

  void start(const Attempt& attempt) override {
    if (attempt.seq == kThrowingSeq) throw std::runtime_error("the executor broke");
    sigset_t mask = testing::current_signal_mask();
    const std::lock_guard lock(log_.mutex);
    log_.started.push_back(attempt.worker);
    log_.threads.insert(std::this_thread::get_id());
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1}) {
      if (sigismember(&mask, sig) != 1) log_.every_signal_blocked = false;
    }
    running_.insert(attempt.worker);
  }
  void cancel(WorkerId worker, CancelMode mode) override {
    {
      const std::lock_guard lock(log_.mutex);
      log_.cancelled.push_back(worker);
    }
    end(worker, mode == CancelMode::kKill ? 9 : 15);
  }
  // Thread-safe: the attempt on `worker` ends with exit status 0 (signal 0) or `signal`.
  void end(WorkerId worker, int signal = 0) {
    const std::lock_guard lock(mutex_);
    if (running_.erase(worker) == 0) return;
    Completion c;
    c.worker = worker;
    c.signal = signal;
    ended_.push_back(std::move(c));
    changed_.notify_all();
  }
  WaitResult wait(TimePoint deadline, std::span<pollfd> /*also_watch*/ = {}) override {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline == kNever ? lane_now() + 1h : deadline,
                        [this] { return !ended_.empty() || woken_; });
    woken_ = false;
    return WaitResult{std::exchange(ended_, {}), {}, 0};
  }
  void wake() override {
    const std::lock_guard lock(mutex_);
    woken_ = true;
    changed_.notify_all();
  }

  static constexpr uint64_t kThrowingSeq = 666;

 private:
  Log& log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<WorkerId> running_;  // guarded by mutex_
  std::vector<Completion> ended_;
  bool woken_ = false;
};

// Two lanes over HeldExecutors the test can reach.
struct HeldLanes {
  explicit HeldLanes(size_t count = 2) : logs(count) {
    for (size_t i = 0; i < count; ++i) held.push_back(nullptr);
    LaneExecutorOptions options;
    options.lanes = count;
    options.make = [this](size_t lane) -> std::unique_ptr<Executor> {
      auto executor = std::make_unique<HeldExecutor>(logs[lane]);
      held[lane] = executor.get();
      return executor;
    };
    lanes = std::make_unique<LaneExecutor>(std::move(options), testing::current_signal_mask());
  }
  void start(WorkerId worker, uint64_t seq = 1) {
    Attempt attempt;
    attempt.seq = seq;
    attempt.worker = worker;
    lanes->start(attempt);
  }
  // Sends the orders (they go with a wait) and waits until the lanes have started `count`
  // attempts in all.
  void wait_started(size_t count) {
    CHECK(lanes->wait(lane_now() + 1ms).empty());
    const auto started = [this] {
      size_t n = 0;
      for (HeldExecutor::Log& log : logs) {
        const std::lock_guard lock(log.mutex);
        n += log.started.size();
      }
      return n;
    };
    const TimePoint give_up = lane_now() + 30s;
    while (started() < count && lane_now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(started() == count);
  }
  // Waits until `count` completions came (or 30 s passed).
  std::vector<Completion> collect(size_t count) {
    std::vector<Completion> all;
    const TimePoint give_up = lane_now() + 30s;
    while (all.size() < count && lane_now() < give_up) {
      for (Completion& c : lanes->wait(give_up).completions) all.push_back(std::move(c));
    }
    return all;
  }

  std::vector<HeldExecutor::Log> logs;
  std::vector<HeldExecutor*> held;  // each used by its lane's thread (end() is thread-safe)
  std::unique_ptr<LaneExecutor> lanes;
};

TEST_CASE("lanes: every completion comes back once, each worker's attempts on one lane") {
  constexpr size_t kLanes = 3;
  constexpr uint64_t kJobs = 300;
  constexpr WorkerId kWorkers = 16;
  // A fake executor a lane, each with a clock of its own: attempts of 1 to 5 fake seconds.
  std::vector<std::unique_ptr<testing::FakeClock>> clocks;
  std::vector<std::unique_ptr<testing::FakeExecutor>> fakes;
  for (size_t i = 0; i < kLanes; ++i) {
    clocks.push_back(std::make_unique<testing::FakeClock>());
    fakes.push_back(std::make_unique<testing::FakeExecutor>(*clocks.back(), [](uint64_t seq, int) {
      return testing::Outcome{std::chrono::seconds(1 + seq % 5), static_cast<int>(seq % 7)};
    }));
  }
  std::map<WorkerId, uint64_t> job_on;  // the job each worker runs
  std::map<uint64_t, int> ended;        // job: completions seen
  {
    LaneExecutorOptions options;
    options.lanes = kLanes;
    options.make = [&fakes](size_t lane) -> std::unique_ptr<Executor> {
      return std::make_unique<Forward>(*fakes[lane]);
    };
    LaneExecutor lanes(std::move(options), testing::current_signal_mask());
    CHECK(lanes.lanes() == kLanes);
    uint64_t next = 1;
    const auto start = [&](WorkerId worker) {
      Attempt attempt;
      attempt.seq = next++;
      attempt.worker = worker;
      attempt.command.line = std::to_string(attempt.seq);
      job_on[worker] = attempt.seq;
      lanes.start(attempt);
    };
    for (WorkerId w = 1; w <= kWorkers; ++w) start(w);
    const TimePoint give_up = lane_now() + 60s;
    size_t completions = 0;
    while (completions < kJobs && lane_now() < give_up) {
      for (const Completion& c : lanes.wait(give_up).completions) {
        ++completions;
        ++ended[job_on.at(c.worker)];
        CHECK(c.exit_status == static_cast<int>(job_on.at(c.worker) % 7));
        if (next <= kJobs) start(c.worker);
      }
    }
    CHECK(completions == kJobs);
  }
  CHECK(ended.size() == kJobs);
  for (const auto& entry : ended) CHECK_MESSAGE(entry.second == 1, "job " << entry.first);
  size_t started = 0;
  for (size_t lane = 0; lane < kLanes; ++lane) {
    for (const testing::StartEvent& s : fakes[lane]->starts) {
      CHECK(s.worker % kLanes == lane);
      ++started;
    }
    CHECK_FALSE(fakes[lane]->starts.empty());
  }
  CHECK(started == kJobs);
}

TEST_CASE("lanes: cancel reaches the lane of its worker, and its completion comes back") {
  HeldLanes t;
  for (WorkerId w = 1; w <= 4; ++w) t.start(w);
  // Nothing ends: the deadline ends the wait.
  CHECK(t.lanes->wait(lane_now() + 50ms).empty());
  t.lanes->cancel(3, CancelMode::kTerminate);
  const std::vector<Completion> ended = t.collect(1);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].worker == 3);
  CHECK(ended[0].signal == 15);
  t.lanes->cancel(2, CancelMode::kKill);
  const std::vector<Completion> killed = t.collect(1);
  REQUIRE(killed.size() == 1);
  CHECK(killed[0].signal == 9);
  // An attempt that ends by itself comes back too.
  t.held[1]->end(1);
  const std::vector<Completion> done = t.collect(1);
  REQUIRE(done.size() == 1);
  CHECK(done[0].worker == 1);
  t.lanes.reset();
  CHECK(t.logs[0].started == std::vector<WorkerId>{2, 4});
  CHECK(t.logs[1].started == std::vector<WorkerId>{1, 3});
  CHECK(t.logs[0].cancelled == std::vector<WorkerId>{2});
  CHECK(t.logs[1].cancelled == std::vector<WorkerId>{3});
}

TEST_CASE("lanes: wake() ends a wait at once, from another thread or before it") {
  HeldLanes t;
  t.start(1);
  std::thread waker([&t] {
    std::this_thread::sleep_for(50ms);
    t.lanes->wake();
  });
  const TimePoint before = lane_now();
  CHECK(t.lanes->wait(before + 30s).empty());
  CHECK(lane_now() - before < 20s);
  waker.join();
  t.lanes->wake();
  const TimePoint again = lane_now();
  CHECK(t.lanes->wait(again + 30s).empty());
  CHECK(lane_now() - again < 20s);
}

TEST_CASE("lanes: destroying them ends what runs, each lane's executor on its own thread") {
  HeldLanes t;
  for (WorkerId w = 1; w <= 5; ++w) t.start(w);
  t.wait_started(5);
  t.lanes.reset();
  size_t running = 0;
  for (HeldExecutor::Log& log : t.logs) {
    CHECK(log.destroyed);
    REQUIRE(log.threads.size() == 1);
    CHECK(log.destroyed_on == *log.threads.begin());
    CHECK(log.destroyed_on != std::this_thread::get_id());
    running += log.running_when_destroyed;
  }
  CHECK(running == 5);
}

TEST_CASE("lanes: the lanes block every signal, and a signal ends the caller's wait") {
  static std::atomic<int> caught{0};
  struct sigaction action {};
  action.sa_handler = [](int) { caught.fetch_add(1); };
  sigemptyset(&action.sa_mask);
  struct sigaction before {};
  REQUIRE(sigaction(SIGUSR1, &action, &before) == 0);
  {
    const testing::ScopedSignalMask blocked(SIG_BLOCK, {SIGUSR1});
    LaneExecutorOptions options;
    HeldExecutor::Log logs[2];
    options.make = [&logs](size_t lane) -> std::unique_ptr<Executor> {
      return std::make_unique<HeldExecutor>(logs[lane]);
    };
    LaneExecutor lanes(std::move(options), blocked.previous());
    Attempt attempt;
    attempt.worker = 1;
    lanes.start(attempt);
    attempt.worker = 2;
    lanes.start(attempt);
    CHECK(lanes.wait(lane_now() + 20ms).empty());  // the lanes start them
    // Sent to the process: only this thread, inside wait(), can take it.
    std::thread sender([] {
      std::this_thread::sleep_for(50ms);
      kill(getpid(), SIGUSR1);
    });
    const TimePoint start = lane_now();
    CHECK(lanes.wait(start + 30s).empty());
    CHECK(lane_now() - start < 20s);
    CHECK(caught.load() == 1);
    sender.join();
  }
  sigaction(SIGUSR1, &before, nullptr);
}

TEST_CASE("lanes: the lanes' threads run with every signal blocked") {
  HeldLanes t;
  t.start(1);
  t.start(2);
  t.wait_started(2);
  t.held[0]->end(2);
  CHECK(t.collect(1).size() == 1);
  t.lanes.reset();
  for (HeldExecutor::Log& log : t.logs) {
    CHECK(log.threads.size() == 1);
    CHECK(log.every_signal_blocked);
  }
}

TEST_CASE("lanes: what a lane's executor throws comes out of wait()") {
  HeldLanes t;
  t.start(1, HeldExecutor::kThrowingSeq);
  const TimePoint give_up = lane_now() + 30s;
  bool thrown = false;
  while (!thrown && lane_now() < give_up) {
    try {
      t.lanes->wait(give_up);
    } catch (const std::runtime_error& e) {
      thrown = true;
      CHECK(std::string(e.what()) == "the executor broke");
    }
  }
  CHECK(thrown);
}

}  // namespace
}  // namespace taskpool
