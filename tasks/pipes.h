// Pipes to child processes, and the errors that making one (or a process) can meet.
#pragma once

#include <unistd.h>

#include <cstddef>

#include "core/unique_fd.h"

namespace taskpool {

// A pipe, close-on-exec. A child gets its stdin, stdout, stderr (and feedback pipe) by dup2 in
// that order, so both ends are kept above the descriptors a child is given (see above_stdio).
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Returns 0, or the errno of the failure: the failure of one attempt (EMFILE: other jobs hold
// the descriptors), never a reason to abort. Both ends go above `highest`.
int make_pipe(Pipe& pipe, int highest = STDERR_FILENO);

// Moves `fd` above `highest` (2: out of 0..2), when taskpool itself runs with a standard stream
// closed: a descriptor among them would be overwritten by a child's dup2 before its own. Closes
// `fd` when it moves it; returns the new one, or -1 with errno set.
int above_stdio(int fd, int highest = STDERR_FILENO);

// O_NONBLOCK on `fd`, a new pipe's end (it has no other status flag to keep). Dies on failure.
void set_nonblocking(int fd);

// Bytes waiting in a pipe (0 for an invalid descriptor).
size_t available(int fd);
inline size_t available(const UniqueFd& fd) { return available(fd.get()); }

// Whether a failure to make a pipe or a process is for want of something other jobs hold (file
// descriptors, processes, memory), which they give back when they end.
bool lack_of_resources(int error);

}  // namespace taskpool
