#include "cli/output_watch.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace taskpool {

OutputWatch::OutputWatch(int fd, int wake_fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return;
  // Without a watch (no eventfd, no thread: under ulimit -u a thread is a process), a closed
  // output is noticed at the next write, as before.
  try {
    stop_.emplace(-1);
    thread_ = std::thread([this, fd, wake_fd] { watch(fd, wake_fd); });
  } catch (const std::exception&) {
  }
}

OutputWatch::~OutputWatch() {
  if (thread_.joinable()) {
    stop_->notify();
    thread_.join();
  }
}

void OutputWatch::watch(int fd, int wake_fd) {
  // No events asked for on the output: poll reports POLLERR (a pipe without readers) and
  // POLLHUP (a socket shut down) whatever is asked, and a full pipe wakes nothing.
  pollfd fds[2] = {{fd, 0, 0}, {stop_->get(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & (POLLERR | POLLHUP)) != 0) break;
    if ((fds[0].revents & POLLNVAL) != 0) return;
  }
  closed_.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof one);
}

}  // namespace taskpool
