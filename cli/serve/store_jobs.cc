#include "cli/serve/store_jobs.h"

#include <fmt/format.h>

#include <cstdio>
#include <utility>

#include "core/error.h"

namespace taskpool {

StoreJobs::StoreJobs(Clock& clock, const std::string& command) : clock_(clock) {
  if (!command.empty()) fixed_.emplace(std::vector<std::string>{command});
}

JobSource::State StoreJobs::poll(Record& out) {
  if (closed_) return State::kNotYet;
  std::vector<RunnableJob> jobs = api_->take_runnable(1, clock_.now());
  if (jobs.empty()) return State::kNotYet;
  RunnableJob& job = jobs.front();
  out = Record(std::move(job.fields));
  out.key = job.id;
  running_[job.id] = Running{std::move(job.command)};
  return State::kReady;
}

AttemptPayload StoreJobs::build(const Job& job, WorkerId worker) const {
  const Job numbered{job.record.key, job.record};
  if (fixed_) return fixed_->expand(numbered, worker);
  const CommandTemplate own(std::vector<std::string>{running_.at(job.record.key).command});
  return own.expand(numbered, worker);
}

void StoreJobs::before_start(std::span<const StartingAttempt> starting) {
  for (const StartingAttempt& start : starting) {
    if (start.attempt->number > 1) api_->attempt_started(start.job->record.key);
  }
  api_->commit();
}

void StoreJobs::on_start(const Job& job, const Attempt& attempt) {
  const auto worker = static_cast<size_t>(attempt.worker);
  if (by_worker_.size() < worker) by_worker_.resize(worker);
  by_worker_[worker - 1] = job.record.key;
  running_.at(job.record.key).seq = job.seq;
}

void StoreJobs::on_job_end(const Job& job, const Attempt& attempt, Completion& completion) {
  const auto found = running_.find(job.record.key);
  const bool cancelled = found->second.cancelled;
  running_.erase(found);
  if (completion.stopped && !cancelled && closed_) return;
  JobEnd end;
  end.exit_status = completion.exit_status;
  end.signal = completion.signal;
  end.cancelled = cancelled;
  end.attempts = attempt.number;
  if (!completion.started) {
    end.reason = completion.error;
  } else if (completion.timed_out) {
    end.reason = "timed out";
  }
  api_->job_ended(job.record.key, end);
}

void StoreJobs::output(WorkerId worker, Stream stream, std::string_view data) {
  const uint64_t id = by_worker_.at(static_cast<size_t>(worker - 1));
  try {
    api_->output(id, stream == Stream::kStdout ? OutputStream::kStdout : OutputStream::kStderr,
                 data);
  } catch (const Error& e) {
    if (!output_failed_) {
      std::fputs(fmt::format("taskpool serve: job {}: {}\n", id, e.what()).c_str(), stderr);
    }
    output_failed_ = true;
  }
}

void StoreJobs::cancel(uint64_t id) {
  const auto found = running_.find(id);
  if (found == running_.end() || found->second.seq == 0) return;
  found->second.cancelled = true;
  scheduler_->cancel_job(found->second.seq);
}

}  // namespace taskpool
