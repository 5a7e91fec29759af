// Notices that standard output was closed by its reader (`taskpool ... | head -1`) while no job
// prints: otherwise taskpool would learn it only at its next write, which may never come (jobs
// that sleep, or that never print again).
#pragma once

#include <atomic>
#include <optional>
#include <thread>

#include "tasks/wake_fd.h"

namespace taskpool {

// Watches `fd` from a thread of its own when it is a pipe or a socket (the only outputs a reader
// can close; nothing is started for a file or a terminal). When its reader goes, closed() turns
// true and `wake_fd` (an eventfd) is written, so the scheduler's wait returns and it can stop.
// closed() is thread-safe; the rest is called from one thread.
class OutputWatch final {
 public:
  OutputWatch(int fd, int wake_fd);
  ~OutputWatch();  // stops and joins the thread
  OutputWatch(const OutputWatch&) = delete;
  OutputWatch& operator=(const OutputWatch&) = delete;

  bool closed() const { return closed_.load(std::memory_order_relaxed); }

 private:
  void watch(int fd, int wake_fd);

  std::optional<WakeFd> stop_;  // ends the watch
  std::atomic<bool> closed_{false};
  std::thread thread_;
};

}  // namespace taskpool
