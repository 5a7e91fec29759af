// The seam between the scheduler (core/) and what really runs an attempt (tasks/).
#pragma once

#include <vector>

#include "core/job.h"
#include "core/time.h"

namespace taskpool {

enum class CancelMode {
  kTerminate,  // ask politely (SIGTERM to the process group)
  kKill,       // stop now (SIGKILL to the process group)
};

// Runs attempts. Many at once, without a thread per attempt. Called from the scheduler's thread
// only, except wake().
class Executor {
 public:
  virtual ~Executor() = default;

  // Starts `attempt` on its worker. Never blocks. An attempt that cannot start is reported by a
  // later wait() as a completion with started == false.
  // REQUIRES: attempt.worker has no attempt running.
  virtual void start(const Attempt& attempt) = 0;

  // Ends the attempt running on `worker`, if any; its completion comes from wait() as usual.
  virtual void cancel(WorkerId worker, CancelMode mode) = 0;

  // Blocks until at least one attempt has ended, `deadline` passes, wake() is called, or a
  // signal arrives; returns the attempts that ended (possibly none).
  virtual std::vector<Completion> wait(TimePoint deadline) = 0;

  // Thread-safe: makes the current or the next wait() return promptly.
  virtual void wake() = 0;

  // Stops (true) or continues (false) every running attempt, as a shell's Ctrl-Z and fg do for
  // its jobs. Default: nothing (the attempts go on).
  virtual void suspend(bool /*stopped*/) {}
};

}  // namespace taskpool
