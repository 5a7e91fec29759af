// Downloads on more than one thread: where the machine has CPUs to spare and -j is large, one
// thread's work for each file (libcurl, the loopback's delivery, the files' system calls) is what
// bounds small downloads, and FetchOptions::lanes threads, each with a FetchExecutor of its own,
// share it out (LaneExecutor).
#pragma once

#include <signal.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "core/executor.h"
#include "tasks/fetch_executor.h"
#include "tasks/lane_executor.h"

namespace taskpool {

// As FetchExecutor, seen from the scheduler; worker w's downloads run on lane w % lanes, which
// keeps its own connections (a lane's idle connections serve its own workers' next files).
// Not thread-safe, except wake().
class FetchLanes final : public Executor {
 public:
  // Throws as FetchExecutor's constructor does.
  FetchLanes(const FetchOptions& options, const sigset_t& original_mask);
  ~FetchLanes() override;
  FetchLanes(const FetchLanes&) = delete;
  FetchLanes& operator=(const FetchLanes&) = delete;

  void start(const Attempt& attempt) override { lanes_.start(attempt); }
  void cancel(WorkerId worker, CancelMode mode) override { lanes_.cancel(worker, mode); }
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override {
    return lanes_.wait(deadline, also_watch);
  }
  void wake() override { lanes_.wake(); }
  // The lanes' FetchExecutor::progress(), summed, as each had it after its latest wait: what
  // the completions wait() returned add is in it.
  FetchProgress progress() const;

 private:
  LaneExecutorOptions lane_options(const FetchOptions& options);

  mutable std::mutex mutex_;
  std::vector<FetchProgress> progress_;  // guarded by mutex_: each lane's
  LaneExecutor lanes_;                   // last: its threads use the members above
};

// FetchLanes when options.lanes > 1, else a FetchExecutor; `progress` is set to read its
// progress().
std::unique_ptr<Executor> make_fetch_executor(FetchOptions options, const sigset_t& original_mask,
                                              std::function<FetchProgress()>& progress);

}  // namespace taskpool
