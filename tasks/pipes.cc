#include "tasks/pipes.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "core/error.h"

namespace taskpool {

int above_stdio(int fd, int highest) {
  if (fd < 0 || fd > highest) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, highest + 1);
  const int saved_errno = errno;
  ::close(fd);
  errno = saved_errno;
  return moved;
}

int make_pipe(Pipe& pipe, int highest) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  pipe.read = UniqueFd(fds[0]);
  pipe.write = UniqueFd(fds[1]);
  for (UniqueFd* end : {&pipe.read, &pipe.write}) {
    end->reset(above_stdio(end->release(), highest));
    if (!end->valid()) return errno;
  }
  return 0;
}

void set_nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) die_on_system_error("fcntl");
}

size_t available(int fd) {
  int count = 0;
  if (fd < 0 || ioctl(fd, FIONREAD, &count) != 0 || count < 0) return 0;
  return static_cast<size_t>(count);
}

bool lack_of_resources(int error) {
  return error == EAGAIN || error == ENOMEM || error == EMFILE || error == ENFILE;
}

}  // namespace taskpool
