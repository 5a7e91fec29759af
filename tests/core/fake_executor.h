// A fake clock and a fake executor for scheduler tests: attempts take the time a script says,
// and time only moves when the scheduler waits. Nothing sleeps, nothing is spawned.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
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
};

class FakeExecutor final : public Executor {
 public:
  // `script(seq, attempt number)` says how an attempt goes.
  FakeExecutor(FakeClock& clock, std::function<Outcome(uint64_t, int)> script)
      : clock_(clock), script_(std::move(script)) {}

  void start(const Attempt& attempt) override {
    Outcome outcome = script_(attempt.seq, attempt.number);
    if (on_worker) on_worker(attempt.worker, outcome);
    const Duration duration = outcome.short_of_resources ? Duration::zero() : outcome.duration;
    running_[attempt.worker] =
        Run{attempt.seq, clock_.now(),        clock_.now() + duration, outcome.exit_status,
            0,           outcome.lost_worker, outcome.never_ran,       outcome.short_of_resources};
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
  }

  std::vector<Completion> wait(TimePoint deadline) override {
    ++waits;
    TimePoint earliest = kNever;
    for (const auto& [worker, run] : running_) earliest = std::min(earliest, run.end);
    if (interrupt_at && *interrupt_at < std::min(earliest, deadline)) {
      // A signal arrives while attempts run: wait() returns early with nothing ended.
      clock_.advance_to(*interrupt_at);
      interrupt_at.reset();
      return {};
    }
    if (earliest == kNever) {
      // Nothing runs: a real executor would sleep until a wake(); the fake returns at once.
      if (deadline != kNever) clock_.advance_to(deadline);
      return {};
    }
    if (earliest > deadline) {
      clock_.advance_to(deadline);
      return {};
    }
    clock_.advance_to(earliest);
    std::vector<Completion> done;
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second.end > earliest) {
        ++it;
        continue;
      }
      if (on_end) on_end(it->second.seq, it->first);
      Completion c;
      c.worker = it->first;
      c.start = it->second.start;
      c.end = it->second.end;
      c.exit_status = it->second.signal ? 0 : it->second.exit_status;
      c.signal = it->second.signal;
      c.lost_worker = it->second.lost_worker;
      c.never_ran = it->second.never_ran;
      if (c.never_ran) c.started = false;
      if (it->second.short_of_resources) {
        c.started = false;
        c.short_of_resources = true;
        c.exit_status = 126;
        c.error = "job: cannot start: Resource temporarily unavailable";
      }
      done.push_back(std::move(c));
      it = running_.erase(it);
    }
    return done;
  }

  void wake() override {}
  void suspend(bool stopped) override { suspends.push_back(stopped); }

  size_t running() const { return running_.size(); }

  std::vector<StartEvent> starts;
  std::vector<std::pair<WorkerId, CancelMode>> cancels;
  size_t max_running = 0;
  std::optional<TimePoint> interrupt_at;
  int waits = 0;
  // Called after the script, with the worker the attempt got: lets a test fail a host.
  std::function<void(WorkerId, Outcome&)> on_worker;
  // Called as an attempt ends, before its completion is returned: lets a job feed records.
  std::function<void(uint64_t seq, WorkerId)> on_end;
  std::vector<bool> suspends;  // suspend() calls, in order

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
  };
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
