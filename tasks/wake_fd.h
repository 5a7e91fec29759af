// The eventfd an executor's wait() sleeps on, beside whatever else it polls: wake() from another
// thread, or a signal handler writing to the shared descriptor, ends the sleep.
#pragma once

#include <poll.h>

#include <span>

#include "core/time.h"
#include "core/unique_fd.h"

namespace taskpool {

class WakeFd final {
 public:
  // A duplicate of `shared` (the stop signals' eventfd, which their handler writes) when it is
  // >= 0, else an eventfd of its own. Throws Error when neither can be had.
  explicit WakeFd(int shared);
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  int get() const { return fd_.get(); }

  // Thread-safe and async-signal-safe: makes the current or the next sleep end.
  void notify() const;

  // Clears the wake-ups that ended a sleep (after poll saw the descriptor readable).
  void drain() const;

  // Sleeps until notify(), a signal, `deadline` (kNever: no deadline), or one of `also_watch` is
  // ready (its revents filled in). Returns whether it was woken (and then drained).
  bool sleep_until(TimePoint deadline, std::span<pollfd> also_watch = {}) const;

 private:
  UniqueFd fd_;
};

}  // namespace taskpool
