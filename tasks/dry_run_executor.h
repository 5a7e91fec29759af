// An executor that runs nothing (--dry-run): every attempt that the real run would start
// succeeds the moment it starts; one it would refuse fails the same way.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/command.h"
#include "core/executor.h"
#include "tasks/wake_fd.h"

namespace taskpool {

class DryRunExecutor final : public Executor {
 public:
  // `wake_fd`: as ProcessExecutorOptions::wake_fd. `commands_are_processes`: the real run would
  // run the commands as processes, which refuse a command line holding a NUL byte (status 126,
  // the process executor's message); downloads take theirs as they are.
  DryRunExecutor(const Clock& clock, int wake_fd, bool commands_are_processes = true)
      : clock_(clock), wake_(wake_fd), processes_(commands_are_processes) {}

  void start(const Attempt& attempt) override {
    Completion c;
    c.worker = attempt.worker;
    c.start = c.end = clock_.now();
    if (std::optional<std::string> error =
            processes_ ? nul_byte_error(attempt.command) : std::nullopt) {
      c.started = false;
      c.exit_status = 126;
      c.error = std::move(*error);
    }
    ended_.push_back(std::move(c));
  }
  void cancel(WorkerId, CancelMode) override {}
  // With nothing ended, it sleeps like the other executors: the scheduler waits here for the
  // reader's next record, which may be long in coming from a pipe.
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override {
    for (pollfd& fd : also_watch) fd.revents = 0;
    if (ended_.empty()) wake_.sleep_until(deadline, also_watch);
    return WaitResult{std::exchange(ended_, {}), {}, 0};
  }
  void wake() override { wake_.notify(); }

 private:
  const Clock& clock_;
  WakeFd wake_;
  bool processes_;
  std::vector<Completion> ended_;
};

}  // namespace taskpool
