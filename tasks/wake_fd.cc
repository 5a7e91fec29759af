#include "tasks/wake_fd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace taskpool {

WakeFd::WakeFd(int shared)
    : fd_(shared >= 0 ? fcntl(shared, F_DUPFD_CLOEXEC, 0)
                      : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!fd_.valid()) throw system_error("eventfd");
}

WakeFd::~WakeFd() = default;

void WakeFd::notify() const {
  const uint64_t one = 1;
  // Fails only when the counter is near overflow, and then a wake-up is pending anyway.
  [[maybe_unused]] const ssize_t n = ::write(fd_.get(), &one, sizeof one);
}

void WakeFd::drain() const {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_.get(), &count, sizeof count);
}

bool WakeFd::sleep_until(TimePoint deadline, std::span<pollfd> also_watch) const {
  // The wake-up first, then the caller's descriptors; no allocation when there are none.
  pollfd own{fd_.get(), POLLIN, 0};
  std::vector<pollfd> more;
  if (!also_watch.empty()) {
    more.push_back(own);
    more.insert(more.end(), also_watch.begin(), also_watch.end());
  }
  pollfd* fds = more.empty() ? &own : more.data();
  const size_t count = more.empty() ? 1 : more.size();
  timespec timeout{};
  if (deadline != kNever) timeout = timespec_until(deadline);
  const int ready = ppoll(fds, count, deadline == kNever ? nullptr : &timeout, nullptr);
  if (ready < 0 && errno != EINTR) throw system_error("ppoll");
  for (size_t i = 0; i < also_watch.size(); ++i) {
    also_watch[i].revents = ready > 0 ? fds[i + 1].revents : short{0};
  }
  if (ready <= 0 || fds[0].revents == 0) return false;
  drain();
  return true;
}

}  // namespace taskpool
