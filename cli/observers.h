// What a run reports while it goes, one RunObserver per sink, behind one fan-out: job output
// (and the joblog, which the printer writes after each job's output), messages on stderr, the
// progress line, the timeline, the downloads' report and the jobs counted per host. Every
// write goes through the run's RunFailure, so the first error that fails the run is latched
// there alone.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/fetch.h"
#include "cli/printer.h"
#include "cli/progress.h"
#include "cli/run_failure.h"
#include "cli/timeline.h"
#include "core/scheduler.h"
#include "tasks/sshlogin.h"

namespace taskpool {

// Calls its observers in the order they were added. Each sees a completion before the next, so
// the one that moves its output away (OutputObserver) comes after those that read it.
class ObserverFanOut final : public RunObserver {
 public:
  void add(RunObserver& observer) { observers_.push_back(&observer); }

  void before_start(std::span<const StartingAttempt> starting) override;
  void on_start(const Job& job, const Attempt& attempt) override;
  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  void on_returned(const Job& job, const Attempt& attempt, const Completion& completion) override;
  void on_skipped(uint64_t seq) override;
  void on_workers_limited(int from, int to, const Completion& completion) override;
  void on_tick(TimePoint now) override;

 private:
  std::vector<RunObserver*> observers_;
};

// A line kept at the bottom of the terminal (--progress) that other output must clear first.
class StatusLine {
 public:
  virtual ~StatusLine() = default;
  virtual void clear() = 0;
  // Shows the line again after the output that cleared it.
  virtual void restore() = 0;
};

// No status line: nothing to clear.
class NoStatusLine final : public StatusLine {
 public:
  void clear() override {}
  void restore() override {}
};

// "exited with status 3", "was killed by signal 9", "timed out".
std::string outcome(const Completion& completion);

// Messages on stderr (or `fd`): retries, failures that carry a message, timeouts, hosts that went
// down, a pool that shrank, and what others say while the run goes on; the status line cleared
// before each.
class MessageObserver final : public RunObserver {
 public:
  MessageObserver(RunFailure& failure, StatusLine& status, int fd = 2)
      : failure_(failure), status_(status), fd_(fd) {}

  // --halt on failures (or successes): each failed (succeeded) job is named, as GNU parallel
  // names them ("This job failed:" and its command).
  void set_halt(const HaltPolicy& halt) { halt_ = halt; }
  // --retries: a download's retry line says which retry of how many is next.
  void set_retries(int retries) { retries_ = retries; }

  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  void on_workers_limited(int from, int to, const Completion& completion) override;

  void host_down(const SshLogin& host, const std::string& reason);
  void say(const std::string& message);
  // At the end of the run: how many failed jobs were not named (past kNamedFailures).
  void finish();

  // Failed jobs named one a line; the rest are counted at the end.
  static constexpr uint64_t kNamedFailures = 10;

 private:
  RunFailure& failure_;
  StatusLine& status_;
  int fd_;
  bool limited_ = false;  // the pool shrank for want of processes, and it was said
  // "taskpool: job 7 failed (exit status 1): ./maybe_fail.sh 7", for a failure nothing else names.
  void name_failure(const Attempt& attempt, const Completion& completion);

  HaltPolicy halt_;
  int retries_ = 0;
  uint64_t named_failures_ = 0;
  uint64_t unnamed_failures_ = 0;
};

// Job output through the printer (which writes each job's joblog line after its output).
class OutputObserver final : public RunObserver {
 public:
  OutputObserver(OutputPrinter& printer, RunFailure& failure, StatusLine& status)
      : printer_(printer), failure_(failure), status_(status) {}

  void on_start(const Job& job, const Attempt& attempt) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  void on_skipped(uint64_t seq) override;

  // --line-buffer: lines of a running job.
  void lines(WorkerId worker, Stream stream, std::string_view data);
  // The run is over: -k output still held for jobs that never ended.
  void finish();

 private:
  OutputPrinter& printer_;
  RunFailure& failure_;
  StatusLine& status_;
};

// --progress: counts the jobs and shows the line now and then.
class ProgressObserver final : public RunObserver, public StatusLine {
 public:
  // `input`: the records read so far, whether that is all of them, and how far through a file
  // input reading is (ProgressCounters' read, input_complete and fraction_read).
  ProgressObserver(ProgressDisplay& display, RunFailure& failure,
                   std::function<ProgressCounters()> input)
      : display_(display), failure_(failure), input_(std::move(input)) {}

  void on_start(const Job& job, const Attempt& attempt) override;
  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override;
  void on_returned(const Job& job, const Attempt& attempt, const Completion& completion) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  void on_tick(TimePoint now) override;
  void clear() override;
  void restore() override;
  // The last progress line, at the end of the run.
  void finish();

 private:
  ProgressCounters counters() const;

  ProgressDisplay& display_;
  RunFailure& failure_;
  std::function<ProgressCounters()> input_;
  uint64_t done_ = 0;
  uint64_t failed_ = 0;
  uint64_t running_ = 0;
  TimePoint start_ = std::chrono::steady_clock::now();
};

// --timeline: draws each attempt.
class TimelineObserver final : public RunObserver {
 public:
  explicit TimelineObserver(Timeline& timeline) : timeline_(timeline) {}
  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;

 private:
  Timeline& timeline_;
};

// --fetch: the downloads' statuses, bytes and failures, for the summary.
class FetchObserver final : public RunObserver {
 public:
  explicit FetchObserver(FetchReport& report) : report_(report) {}
  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;

 private:
  FetchReport& report_;
};

// -S: the jobs whose last attempt ran on each host.
class HostTally final : public RunObserver {
 public:
  // `worker_host[w - 1]`: the host of worker w, one of `hosts`.
  HostTally(std::vector<int> worker_host, size_t hosts)
      : worker_host_(std::move(worker_host)), jobs_(hosts, 0) {}
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  const std::vector<uint64_t>& jobs() const { return jobs_; }

 private:
  std::vector<int> worker_host_;
  std::vector<uint64_t> jobs_;
};

}  // namespace taskpool
