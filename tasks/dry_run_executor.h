// An executor that runs nothing: every attempt succeeds the moment it starts (--dry-run).
#pragma once

#include <utility>
#include <vector>

#include "core/executor.h"

namespace taskpool {

class DryRunExecutor final : public Executor {
 public:
  explicit DryRunExecutor(const Clock& clock) : clock_(clock) {}

  void start(const Attempt& attempt) override {
    Completion c;
    c.worker = attempt.worker;
    c.start = c.end = clock_.now();
    ended_.push_back(std::move(c));
  }
  void cancel(WorkerId, CancelMode) override {}
  std::vector<Completion> wait(TimePoint) override { return std::exchange(ended_, {}); }
  void wake() override {}

 private:
  const Clock& clock_;
  std::vector<Completion> ended_;
};

}  // namespace taskpool
