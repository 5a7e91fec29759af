#include "cli/observers.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "cli/report.h"

namespace taskpool {

void ObserverFanOut::before_start(std::span<const StartingAttempt> starting) {
  for (RunObserver* o : observers_) o->before_start(starting);
}
void ObserverFanOut::on_start(const Job& job, const Attempt& attempt) {
  for (RunObserver* o : observers_) o->on_start(job, attempt);
}
void ObserverFanOut::on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                              Duration delay) {
  for (RunObserver* o : observers_) o->on_retry(job, attempt, completion, delay);
}
void ObserverFanOut::on_job_end(const Job& job, const Attempt& attempt, Completion& completion) {
  for (RunObserver* o : observers_) o->on_job_end(job, attempt, completion);
}
void ObserverFanOut::on_returned(const Job& job, const Attempt& attempt,
                                 const Completion& completion) {
  for (RunObserver* o : observers_) o->on_returned(job, attempt, completion);
}
void ObserverFanOut::on_skipped(uint64_t seq) {
  for (RunObserver* o : observers_) o->on_skipped(seq);
}
void ObserverFanOut::on_workers_limited(int from, int to, const Completion& completion) {
  for (RunObserver* o : observers_) o->on_workers_limited(from, to, completion);
}
void ObserverFanOut::on_tick(TimePoint now) {
  for (RunObserver* o : observers_) o->on_tick(now);
}

namespace {

// What went wrong with a download: "HTTP 503 from URL", else its error ("URL: Failed to
// connect ...").
std::string download_problem(const Attempt& attempt, const Completion& completion) {
  const int status = completion.detail.http_status;
  if (status >= 400 && attempt.download && !completion.error.empty()) {
    return fmt::format("HTTP {} from {}", status, attempt.download->url);
  }
  return completion.error;
}

}  // namespace

std::string outcome(const Completion& completion) {
  if (completion.timed_out) return "timed out";
  if (completion.short_of_memory) return "was ended for lack of memory (--memfree)";
  if (!completion.started) return completion.error;
  if (completion.signal != 0) return fmt::format("was killed by signal {}", completion.signal);
  return fmt::format("exited with status {}", completion.exit_status);
}

void MessageObserver::on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                               Duration delay) {
  if (attempt.download) {
    say(fmt::format("taskpool: retry {}/{} in {}: {}\n", attempt.number, retries_,
                    human_duration(delay), download_problem(attempt, completion)));
    return;
  }
  say(fmt::format("taskpool: job {} {} (attempt {}); retrying in {}: {}\n", job.seq,
                  outcome(completion), attempt.number, human_duration(delay),
                  attempt.command.line));
}

void MessageObserver::on_job_end(const Job& /*job*/, const Attempt& attempt,
                                 Completion& completion) {
  if (!completion.succeeded() && !completion.error.empty()) {
    say("taskpool: " + download_problem(attempt, completion) + "\n");
  } else if (completion.timed_out) {
    // GNU parallel's words, which scripts grep for.
    say(
        fmt::format("taskpool: Warning: This job was killed because it timed out:\n"
                    "taskpool: Warning: {}\n",
                    attempt.command.line));
  }
  name_failure(attempt, completion);
  // A job the halt itself (or a signal, the deadline) ended is not one that failed on its own.
  if (halt_.when == HaltPolicy::When::kNever || completion.stopped) return;
  if (!completion.succeeded() && halt_.count == HaltPolicy::Count::kFail) {
    say(fmt::format("taskpool: This job failed:\n{}\n", attempt.command.line));
  } else if (completion.succeeded() && halt_.count == HaltPolicy::Count::kSuccess) {
    say(fmt::format("taskpool: This job succeeded:\n{}\n", attempt.command.line));
  }
}

void MessageObserver::name_failure(const Attempt& attempt, const Completion& completion) {
  // Said already, or otherwise: a job that could not start or a download (its error), a timeout
  // (GNU parallel's notice), any job under --halt (GNU parallel's words, which scripts compare),
  // a job ended because an output failed (that error is the message).
  if (completion.succeeded() || !completion.error.empty() || completion.timed_out ||
      halt_.when != HaltPolicy::When::kNever || (completion.stopped && failure_.stops_run())) {
    return;
  }
  if (named_failures_ >= kNamedFailures) {
    ++unnamed_failures_;
    return;
  }
  ++named_failures_;
  std::string how = completion.signal != 0 ? fmt::format("killed by signal {}", completion.signal)
                                           : fmt::format("exit status {}", completion.exit_status);
  if (completion.stopped) how += " when the run stopped";
  if (completion.short_of_memory) how += ": less than half of --memfree was available";
  say(fmt::format("taskpool: job {} failed ({}): {}\n", attempt.seq, how, attempt.command.line));
}

void MessageObserver::finish() {
  if (unnamed_failures_ == 0) return;
  say(fmt::format("taskpool: {} more job{} failed (the joblog and --summary-json list them)\n",
                  unnamed_failures_, unnamed_failures_ == 1 ? "" : "s"));
}

void MessageObserver::on_workers_limited(int from, int to, const Completion& completion) {
  if (std::exchange(limited_, true)) return;  // once, as the file-descriptor warning
  say(
      fmt::format("taskpool: warning: no more processes could start ({}); running -j {} instead "
                  "of -j {} (raise the process limit, ulimit -u, to run more)\n",
                  completion.error, to, from));
}

void MessageObserver::host_down(const SshLogin& host, const std::string& reason) {
  say(fmt::format("taskpool: {} is down ({}); no more jobs go there\n", host.text, reason));
}

void MessageObserver::say(const std::string& message) {
  failure_.guard([&] {
    status_.clear();
    write_all(fd_, message, "standard error");
    status_.restore();
  });
}

void OutputObserver::on_start(const Job& job, const Attempt& attempt) {
  failure_.guard([&] { printer_.job_started(job, attempt); });
}

void OutputObserver::on_job_end(const Job& job, const Attempt& attempt, Completion& completion) {
  failure_.guard([&] {
    const bool output = printer_.has_output(completion);
    if (output) status_.clear();
    printer_.job_ended(job, attempt, completion);
    if (output) status_.restore();
  });
}

void OutputObserver::on_skipped(uint64_t seq) {
  failure_.guard([&] { printer_.skip(seq); });
}

void OutputObserver::lines(WorkerId worker, Stream stream, std::string_view data) {
  failure_.guard([&] {
    status_.clear();
    printer_.lines(worker, stream, data);
    status_.restore();
  });
}

void OutputObserver::finish() {
  failure_.guard([&] {
    if (printer_.held() == 0) return;
    status_.clear();
    printer_.finish();
  });
}

void ProgressObserver::on_start(const Job&, const Attempt&) { ++running_; }

void ProgressObserver::on_retry(const Job&, const Attempt&, const Completion&, Duration) {
  --running_;
}

void ProgressObserver::on_returned(const Job&, const Attempt&, const Completion&) { --running_; }

void ProgressObserver::on_job_end(const Job&, const Attempt&, Completion& completion) {
  --running_;
  ++done_;
  if (!completion.succeeded()) ++failed_;
  on_tick(std::chrono::steady_clock::now());
}

void ProgressObserver::on_tick(TimePoint) {
  failure_.guard([&] { display_.update(counters(), std::chrono::steady_clock::now(), false); });
}

void ProgressObserver::clear() {
  failure_.guard([&] { display_.clear(); });
}

void ProgressObserver::restore() {
  failure_.guard([&] { display_.restore(counters()); });
}

void ProgressObserver::finish() {
  failure_.guard([&] { display_.finish(counters()); });
}

ProgressCounters ProgressObserver::counters() const {
  ProgressCounters c = input_();
  c.done = done_;
  c.failed = failed_;
  c.running = running_;
  c.read = std::max(c.read, done_ + running_);
  c.elapsed = std::chrono::steady_clock::now() - start_;
  return c;
}

void TimelineObserver::on_retry(const Job&, const Attempt& attempt, const Completion& completion,
                                Duration) {
  timeline_.add(attempt, completion, true);
}

void TimelineObserver::on_job_end(const Job&, const Attempt& attempt, Completion& completion) {
  timeline_.add(attempt, completion, false);
}

void FetchObserver::on_retry(const Job&, const Attempt&, const Completion& completion, Duration) {
  report_.add_attempt(completion);
}

void FetchObserver::on_job_end(const Job&, const Attempt& attempt, Completion& completion) {
  report_.add_attempt(completion);
  if (!completion.succeeded()) {
    report_.add_failure(attempt.command.line, attempt.download ? attempt.download->path : "",
                        completion);
  }
}

void HostTally::on_job_end(const Job&, const Attempt& attempt, Completion&) {
  ++jobs_[static_cast<size_t>(worker_host_[static_cast<size_t>(attempt.worker - 1)])];
}

}  // namespace taskpool
