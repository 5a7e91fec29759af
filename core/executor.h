// The seam between the scheduler (core/) and what really runs an attempt (tasks/).
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/time.h"

namespace taskpool {

enum class CancelMode {
  kTerminate,  // ask politely (SIGTERM to the process group)
  kKill,       // stop now (SIGKILL to the process group)
};

// What the executor does with the records its attempts feed back (--feedback: each job's file
// descriptor 3), until told otherwise (Executor::set_feed). The scheduler decides (FeedGate);
// the executor only does it.
struct FeedOrder {
  enum class Mode {
    kRead,      // read the feed pipes; a wait() that took `records` records returns then
    kHold,      // do not read them: their writers wait
    kOneChunk,  // read one chunk of each pipe with something in it, then return
    kClose,     // no fed record can run any more: close them, and those of later attempts
  };
  Mode mode = Mode::kRead;
  size_t records = SIZE_MAX;  // kRead: how many are welcome

  bool operator==(const FeedOrder&) const = default;
};

// A record fed back by the attempt running on `worker`, as it wrote it (without its delimiter).
struct FedRecord {
  WorkerId worker = 0;
  std::string text;
};

// What one wait() brought.
struct WaitResult {
  std::vector<Completion> completions;  // the attempts that ended
  std::vector<FedRecord> fed;           // records fed back, in the order they were written
  // Running attempts with a fed record waiting, unread, in their pipe (when they feed at all).
  size_t feeders_waiting = 0;

  bool empty() const { return completions.empty() && fed.empty(); }
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

  // Blocks until at least one attempt has ended or fed a record, `deadline` passes, wake() is
  // called, a signal arrives, or one of `also_watch` (the caller's descriptors, polled with the
  // executor's own) is ready: its revents are then filled in, and zero in every other case.
  // Returns what came (possibly nothing).
  virtual WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) = 0;

  // How the next waits treat fed records (see FeedOrder). Default: attempts feed nothing.
  virtual void set_feed(FeedOrder /*order*/) {}

  // Thread-safe: makes the current or the next wait() return promptly.
  virtual void wake() = 0;

  // Stops (true) or continues (false) every running attempt, as a shell's Ctrl-Z and fg do for
  // its jobs. Default: nothing (the attempts go on).
  virtual void suspend(bool /*stopped*/) {}
};

}  // namespace taskpool
