// When the records that running jobs feed back (--feedback) are read: the scheduler asks before
// every wait, and tells the executor (Executor::set_feed).
#pragma once

#include <chrono>
#include <cstddef>

#include "core/executor.h"
#include "core/time.h"

namespace taskpool {

// Fed records are read while fewer than `window` wait to run. Past that their writers are held
// (they wait in write()), which bounds taskpool's memory, with two exceptions: when every
// running job has a record waiting, none of them may end otherwise and free a worker for the
// records already taken, so they are read; and when the feeders have been held for kRescueAfter,
// one chunk of each is read anyway (jobs may wait on each other, one on a lock a held feeder
// holds, so that the first rule never lets them go). Held feeders are looked at again every
// kRecheck. Once no fed record can run any more (max_records reached), the pipes are closed; while
// the run stops, what comes is read (and dropped). Driven by the scheduler's Clock; not
// thread-safe.
class FeedGate {
 public:
  static constexpr Duration kRecheck = std::chrono::milliseconds(50);
  static constexpr Duration kRescueAfter = std::chrono::seconds(1);

  // What the scheduler knows before a wait.
  struct State {
    size_t fed_waiting = 0;  // fed records waiting to start
    size_t running = 0;      // attempts running
    // Of those, how many have a fed record waiting in their pipe (the executor's last word).
    size_t feeders_waiting = 0;
    bool stopping = false;  // the run stops: what is fed is dropped
    bool closed = false;    // max_records reached: no fed record can run
  };

  explicit FeedGate(size_t window) : window_(window) {}

  // The order for the next wait, at `now`.
  FeedOrder decide(const State& state, TimePoint now);
  // When the scheduler's wait must end to decide again (kNever: not before something happens).
  TimePoint recheck_at() const { return recheck_at_; }

 private:
  size_t window_;
  TimePoint held_since_ = kNever;  // the feeders were last read while held, or last not held
  TimePoint recheck_at_ = kNever;
};

}  // namespace taskpool
