// Starting a program in a new process as posix_spawn does (a child that borrows taskpool's
// memory until its exec, while the calling thread waits: no copy of that memory), with less work
// in the child: glibc's asks for and sets again the disposition of each of the 64 signals (about
// 120 system calls a child, more than the rest of its start); this one sets only those that need
// it. Jobs start so (Spawner, tasks/spawn.h), and the guardian (tasks/guardian.h).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace taskpool {

// A child's descriptors as the dup2s to do, in order: at most four (a job's stdin, stdout, stderr
// and feedback pipe). A descriptor given as itself (from == to) stays open across exec (its
// close-on-exec is cleared).
struct Dups {
  std::array<std::pair<int, int>, 4> pairs{};  // {from, to}
  size_t size = 0;

  void add(int from, int to) { pairs.at(size++) = {from, to}; }
};

struct ProcessStart {
  const char* path = nullptr;  // run as it is: no PATH search
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  Dups dups;               // the child's descriptors
  sigset_t mask{};         // the child's signal mask
  sigset_t defaults{};     // signals set back to SIG_DFL in the child (see signals_to_reset)
  bool own_group = false;  // a process group of its own (setpgid(0, 0))
  // With own_group, the guardian's table (Guardian::before_start(), tasks/guardian.h): the child
  // sets its group's bit there once the group is made, before its exec; cleared again here when
  // the start fails. Not under ThreadSanitizer, whose start has no code of ours in the child.
  uint64_t* group_table = nullptr;
};

// The signals a child must set back to their defaults: `ignored_too` (ignored here, not to be in
// the child), and those this process has a handler for when it is called: a signal that came
// between the child's setting of its mask and its exec would run the handler in the child, in
// taskpool's memory (exec drops them anyway). Reads each signal's disposition: made once, by
// whoever starts many processes, once its handlers are installed. A child whose mask blocks
// every signal needs none set back.
sigset_t signals_to_reset(const sigset_t& ignored_too);

// The stack children run on until their exec, made once: with a guard page at its low end, so
// that a child that overran it faults instead of writing into taskpool's memory.
class ChildStack final {
 public:
  ChildStack();
  ~ChildStack();
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;

  char* top() const;

 private:
  void* base_;
};

// Starts the child on `stack` (one child at a time on a stack). Returns 0 and sets `pid`, or
// sets it to -1 and returns the errno of what failed: the clone, a step in the child, or the exec
// (the child is then reaped). The child makes plain system calls and nothing else: no lock, no
// allocation, no call a sanitizer intercepts (it would change taskpool's view: its handlers, its
// descriptors).
int start_process(const ProcessStart& start, const ChildStack& stack, pid_t& pid);

}  // namespace taskpool
