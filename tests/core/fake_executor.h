// A fake clock and a fake executor for scheduler tests: attempts take the time a script says,
// and time only moves when the scheduler waits. Nothing sleeps, nothing is spawned.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/scheduler.h"

namespace taskpool::testing {

class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance_to(TimePoint t) { now_ = std::max(now_, t); }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

struct StartEvent {
  uint64_t seq;
  int number;
  WorkerId worker;
  TimePoint at;
  std::string line;
};

struct Outcome {
  Duration duration = std::chrono::seconds(1);
  int exit_status = 0;
  bool lost_worker = false;  // the worker's group (host) is gone
  bool never_ran = false;    // the attempt did not begin
  // It could not start for a lack of resources (fork's EAGAIN): it comes back at once, not
  // started, as a real executor reports it (duration is ignored).
  bool short_of_resources = false;
  bool own_shortage = false;  // and it is short of its own (EMFILE), as Completion::own_shortage
  std::optional<Duration> retry_after =
      std::nullopt;  // the other side asks for this pause (Retry-After)
};

class FakeExecutor final : public Executor {
 public:
  // `script(seq, attempt number)` says how an attempt goes.
  FakeExecutor(FakeClock& clock, std::function<Outcome(uint64_t, int)> script)
      : clock_(clock), script_(std::move(script)) {}

  void start(const Attempt& attempt) override {
    if (on_attempt) on_attempt(attempt);
    Outcome outcome = script_(attempt.seq, attempt.number);
    if (on_worker) on_worker(attempt.worker, outcome);
    const Duration duration = outcome.short_of_resources ? Duration::zero() : outcome.duration;
    running_[attempt.worker] =
        Run{attempt.seq, clock_.now(),        clock_.now() + duration, outcome.exit_status,
            0,           outcome.lost_worker, outcome.never_ran,       outcome.short_of_resources,
            {},          outcome.retry_after};
    running_[attempt.worker].own_shortage = outcome.own_shortage;
    if (feeds) {
      for (std::string& record : feeds(attempt.seq)) {
        running_[attempt.worker].pipe.push_back(std::move(record));
      }
    }
    starts.push_back(
        {attempt.seq, attempt.number, attempt.worker, clock_.now(), attempt.command.line});
    max_running = std::max(max_running, running_.size());
  }

  void cancel(WorkerId worker, CancelMode mode) override {
    cancels.emplace_back(worker, mode);
    auto it = running_.find(worker);
    if (it == running_.end()) return;
    // A cancelled attempt ends at once, killed by the signal that was sent.
    it->second.end = clock_.now();
    it->second.signal = mode == CancelMode::kKill ? 9 : 15;
    it->second.pipe.clear();
  }

  WaitResult wait(TimePoint deadline, std::span<pollfd> /*also_watch*/ = {}) override {
    ++waits;
    WaitResult result;
    if (take_fed(result.fed)) return with_waiting(std::move(result));
    TimePoint earliest = kNever;
    for (const auto& [worker, run] : running_) {
      if (run.pipe.empty()) earliest = std::min(earliest, run.end);
    }
    if (interrupt_at && *interrupt_at < std::min(earliest, deadline)) {
      // A signal arrives while attempts run: wait() returns early with nothing ended.
      clock_.advance_to(*interrupt_at);
      interrupt_at.reset();
      return with_waiting(std::move(result));
    }
    if (earliest == kNever) {
      // Nothing runs: a real executor would sleep until a wake(); the fake returns at once.
      if (deadline != kNever) clock_.advance_to(deadline);
      return with_waiting(std::move(result));
    }
    if (earliest > deadline) {
      clock_.advance_to(deadline);
      return with_waiting(std::move(result));
    }
    clock_.advance_to(earliest);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second.end > earliest || !it->second.pipe.empty()) {
        ++it;
        continue;
      }
      if (on_end) on_end(it->second.seq, it->first);
      result.completions.push_back(completion_of(it->first, it->second));
      it = running_.erase(it);
    }
    return with_waiting(std::move(result));
  }

  void set_feed(FeedOrder order) override {
    feed_order = order;
    if (!orders.empty() && orders.back().mode == order.mode) return;
    orders.push_back(order);
  }
  void wake() override {}
  void suspend(bool stopped) override { suspends.push_back(stopped); }

  size_t running() const { return running_.size(); }

  std::vector<StartEvent> starts;
  std::vector<std::pair<WorkerId, CancelMode>> cancels;
  size_t max_running = 0;
  std::optional<TimePoint> interrupt_at;
  int waits = 0;
  // Called first as an attempt starts: lets a test look at the world a real process would see.
  std::function<void(const Attempt&)> on_attempt;
  // Called after the script, with the worker the attempt got: lets a test fail a host.
  std::function<void(WorkerId, Outcome&)> on_worker;
  // Called as an attempt ends, before its completion is returned: lets a job feed records.
  std::function<void(uint64_t seq, WorkerId)> on_end;
  // The records job `seq` writes to its feedback pipe as it starts. A job whose pipe is not empty
  // waits in write(): it does not end until its records have been read (as FeedOrder says).
  std::function<std::vector<std::string>(uint64_t seq)> feeds;
  FeedOrder feed_order;                // the latest set_feed()
  std::vector<FeedOrder> orders;       // set_feed() calls, each change of mode once
  std::vector<TimePoint> chunk_reads;  // when kOneChunk read something
  std::vector<bool> suspends;          // suspend() calls, in order

 private:
  struct Run {
    uint64_t seq;
    TimePoint start;
    TimePoint end;
    int exit_status;
    int signal;
    bool lost_worker;
    bool never_ran;
    bool short_of_resources;
    std::deque<std::string> pipe;  // fed records not read yet
    std::optional<Duration> retry_after;
    bool own_shortage = false;
  };

  // Reads fed records as feed_order says; returns whether any came.
  bool take_fed(std::vector<FedRecord>& fed) {
    const auto take = [&](WorkerId worker, Run& run) {
      fed.push_back(FedRecord{worker, std::move(run.pipe.front())});
      run.pipe.pop_front();
      // Its writer goes on where it stopped: its end moves by the time it waited.
      run.end = std::max(run.end, clock_.now());
    };
    switch (feed_order.mode) {
      case FeedOrder::Mode::kRead:
        for (auto& [worker, run] : running_) {
          while (!run.pipe.empty() && fed.size() < feed_order.records) take(worker, run);
        }
        break;
      case FeedOrder::Mode::kOneChunk:
        for (auto& [worker, run] : running_) {
          if (!run.pipe.empty()) take(worker, run);
        }
        if (!fed.empty()) chunk_reads.push_back(clock_.now());
        feed_order.mode = FeedOrder::Mode::kHold;
        break;
      case FeedOrder::Mode::kClose:
        for (auto& [worker, run] : running_) run.pipe.clear();
        break;
      case FeedOrder::Mode::kHold:
        break;
    }
    return !fed.empty();
  }

  WaitResult with_waiting(WaitResult result) const {
    for (const auto& [worker, run] : running_) result.feeders_waiting += run.pipe.empty() ? 0 : 1;
    return result;
  }

  static Completion completion_of(WorkerId worker, const Run& run) {
    Completion c;
    c.worker = worker;
    c.start = run.start;
    c.end = run.end;
    c.exit_status = run.signal ? 0 : run.exit_status;
    c.signal = run.signal;
    c.lost_worker = run.lost_worker;
    c.retry_after = run.retry_after;
    c.never_ran = run.never_ran;
    if (c.never_ran) c.started = false;
    if (run.short_of_resources) {
      c.started = false;
      c.short_of_resources = true;
      c.own_shortage = run.own_shortage;
      c.exit_status = 126;
      c.error = run.own_shortage ? "job: cannot create a pipe: Too many open files"
                                 : "job: cannot start: Resource temporarily unavailable";
    }
    return c;
  }

  FakeClock& clock_;
  std::function<Outcome(uint64_t, int)> script_;
  std::map<WorkerId, Run> running_;
};

// Jobs from a list of values; optionally "not yet" for the first few polls.
class ListJobSource final : public JobSource {
 public:
  explicit ListJobSource(std::vector<std::string> values, int not_yet_first = 0)
      : values_(std::move(values)), not_yet_(not_yet_first) {}
  State poll(Record& out) override {
    if (not_yet_ > 0) {
      --not_yet_;
      return State::kNotYet;
    }
    if (pos_ == values_.size()) return State::kEnd;
    out.fields = {values_[pos_++]};
    return State::kReady;
  }

 private:
  std::vector<std::string> values_;
  size_t pos_ = 0;
  int not_yet_;
};

class RecordingObserver final : public RunObserver {
 public:
  void on_start(const Job&, const Attempt& attempt) override { started.push_back(attempt.seq); }
  void on_job_end(const Job&, const Attempt& attempt, Completion& completion) override {
    ended.push_back(attempt.seq);
    exit_statuses.push_back(completion.exit_status);
    errors.push_back(completion.error);
  }
  void on_returned(const Job&, const Attempt& attempt, const Completion&) override {
    returned.push_back(attempt.seq);
  }
  void on_workers_limited(int from, int to, const Completion&) override {
    limits.emplace_back(from, to);
  }
  std::vector<uint64_t> started;
  std::vector<uint64_t> ended;
  std::vector<int> exit_statuses;
  std::vector<std::string> errors;
  std::vector<uint64_t> returned;
  std::vector<std::pair<int, int>> limits;  // on_workers_limited(from, to) calls
};

inline Command command_for(const Job& job, WorkerId worker) {
  return Command{"job " + job.record.fields.at(0) + " on " + std::to_string(worker), {}};
}

inline std::vector<std::string> numbered(size_t n) {
  std::vector<std::string> values;
  for (size_t i = 1; i <= n; ++i) values.push_back(std::to_string(i));
  return values;
}

// A run of jobs 1..`jobs` whose attempts go as `script(seq, attempt)` says, on the fake clock.
struct ScriptedRun {
  ScriptedRun(size_t jobs, std::function<Outcome(uint64_t, int)> script)
      : executor(clock, std::move(script)), source(numbered(jobs)) {}

  RunStats run(const SchedulerOptions& options, Scheduler::StopCheck stop = {}) {
    Scheduler scheduler(options, clock, executor, source, command_for, observer, std::move(stop));
    return scheduler.run();
  }

  FakeClock clock;
  TimePoint start = clock.now();
  FakeExecutor executor;
  ListJobSource source;
  RecordingObserver observer;
};

}  // namespace taskpool::testing
