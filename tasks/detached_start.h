// Starting a program without waiting for its exec: the calling thread goes on at once, while the
// child, on a stack of its own in taskpool's memory until its exec, tries each program given in
// turn. For the guardian (tasks/guardian.h), whose start would otherwise hold up every run for
// the time its exec takes (0.1 to 0.2 ms of a one-job run of 2).
//
// The child makes raw system calls only: no errno, no lock, nothing that touches the memory the
// calling thread goes on using. Where that cannot be done (an architecture without the raw
// calls here, or under ThreadSanitizer, which takes a clone for a fork, or under valgrind, which
// refuses such a clone), start() waits for the exec as start_process does.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

namespace taskpool {

class DetachedStart final {
 public:
  struct Request {
    std::vector<std::string> programs;  // tried in turn, each run as it is (no PATH search)
    std::vector<std::string> argv;
    std::vector<int> keep_open;  // descriptors the program keeps (close-on-exec cleared)
    bool own_group = false;      // a process group of its own, in place when start() returns
  };

  // Copies `request` into memory of its own. The child's environment is empty and its signal
  // mask blocks every signal: the program unblocks what it handles once it has made itself
  // ready. Throws Error when that memory cannot be had.
  explicit DetachedStart(const Request& request);
  // The memory stays mapped: the child may still be on its stack (the process ends soon after
  // in every use).
  ~DetachedStart() = default;
  DetachedStart(const DetachedStart&) = delete;
  DetachedStart& operator=(const DetachedStart&) = delete;

  // Starts the child: its pid, or -1 (errno set) when it could not be started: the clone failed,
  // or, where start() waits for the exec, every program failed. Once only.
  pid_t start();
  // 0 until the child has failed to run every program; then the errno of the last exec. The
  // child then exits with 127.
  int failure() const;

  struct Block;  // what the child reads (detached_start.cc)

 private:
  Block* block_;
};

}  // namespace taskpool
