// An executor that runs nothing: every attempt succeeds the moment it starts (--dry-run).
#pragma once

#include <utility>
#include <vector>

#include "core/executor.h"
#include "tasks/wake_fd.h"

namespace taskpool {

class DryRunExecutor final : public Executor {
 public:
  // `wake_fd`: as ProcessExecutorOptions::wake_fd.
  DryRunExecutor(const Clock& clock, int wake_fd) : clock_(clock), wake_(wake_fd) {}

  void start(const Attempt& attempt) override {
    Completion c;
    c.worker = attempt.worker;
    c.start = c.end = clock_.now();
    ended_.push_back(std::move(c));
  }
  void cancel(WorkerId, CancelMode) override {}
  // With nothing ended, it sleeps like the other executors: the scheduler waits here for the
  // reader's next record, which may be long in coming from a pipe.
  std::vector<Completion> wait(TimePoint deadline) override {
    if (ended_.empty()) wake_.sleep_until(deadline);
    return std::exchange(ended_, {});
  }
  void wake() override { wake_.notify(); }

 private:
  const Clock& clock_;
  WakeFd wake_;
  std::vector<Completion> ended_;
};

}  // namespace taskpool
