// The job server's store as the scheduler's job source and observer, and as the API's pool.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cli/serve/api.h"
#include "core/executor.h"
#include "core/scheduler.h"
#include "core/template.h"
#include "core/time.h"
#include "tasks/process_executor.h"

namespace taskpool {

// Each job is known to the scheduler by its store id, Record::key: the id travels with the job
// through every attempt, observer call and command, with no map from the scheduler's sequence
// numbers to keep in step.
//
// A job the scheduler polls is marked running in the store's open transaction; before the
// executor starts the turn's jobs (before_start), the turn is committed, so a job's process
// never runs before its start (its attempt number, its start time) is durable: a crash from then
// on finds it running, and the next daemon counts an interruption.
//
// Not thread-safe: the daemon's loop alone calls it.
class StoreJobs final : public JobSource, public RunObserver, public JobControl {
 public:
  // `command`: the server's fixed template; empty: each job brings its own.
  StoreJobs(Clock& clock, const std::string& command);
  // REQUIRES: before the scheduler runs.
  void attach(Api& api, Scheduler& scheduler) {
    api_ = &api;
    scheduler_ = &scheduler;
  }
  // Takes no more jobs: the daemon stops. Jobs that end stopped from now on stay running in the
  // store, which the next daemon's recovery requeues or fails as their group says.
  void close() { closed_ = true; }

  State poll(Record& out) override;
  // The job's command, its id standing for {#}.
  AttemptPayload build(const Job& job, WorkerId worker) const;
  // Commits the turn: the starts (and a retry's new attempt number), with whatever else the turn
  // changed. Throws Error when the commit fails (then nothing starts).
  void before_start(std::span<const StartingAttempt> starting) override;
  void on_start(const Job& job, const Attempt& attempt) override;
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;
  // A running job's output, as its lines come.
  void output(WorkerId worker, Stream stream, std::string_view data);
  // Called by the API, on the loop's thread, for a running job.
  void cancel(uint64_t id) override;

 private:
  struct Running {
    // cppcheck-suppress unusedStructMember ; read by build(), through running_.at()
    std::string command;  // its own template, when the server has none
    uint64_t seq = 0;     // the scheduler's number for it, once started
    bool cancelled = false;
  };

  Clock& clock_;
  std::optional<CommandTemplate> fixed_;
  Api* api_ = nullptr;
  Scheduler* scheduler_ = nullptr;
  std::unordered_map<uint64_t, Running> running_;
  std::vector<uint64_t> by_worker_;  // the job on each worker (index: worker - 1)
  bool closed_ = false;
  bool output_failed_ = false;
};

}  // namespace taskpool
