// Starting a program in a new process as posix_spawn does (a child that shares taskpool's memory
// until it execs, while the calling thread waits), without what glibc's posix_spawn costs on top:
// before exec, its child asks for and sets again the disposition of each of the 64 signals (128
// system calls, every start, the caller waiting); this child sets only those that need it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <utility>

namespace taskpool {

struct ProcessStart {
  const char* path = nullptr;  // run as it is: no PATH search
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  // The child's descriptors, as dup2(from, to) in order; from == to keeps `from` open across
  // exec (clears its close-on-exec).
  std::array<std::pair<int, int>, 4> dups{};
  size_t dup_count = 0;
  sigset_t mask{};         // the child's signal mask
  sigset_t defaults{};     // signals set back to SIG_DFL in the child (see start_process)
  bool own_group = false;  // a process group of its own (setpgid(0, 0))
};

// The signals the child must set back to their defaults: those this process has a handler for
// (a handler must not run in a child that shares its memory, and exec would drop it anyway),
// and `ignored_too`, ignored here but not to be in the child. Reads each signal's disposition
// (64 system calls): made once, by whoever starts many processes.
sigset_t signals_to_reset(const sigset_t& ignored_too);

// Starts the child. Returns 0 and sets `pid`, or returns the errno of what failed: the clone,
// a dup2, or the exec (the child is then reaped). Async-signal-safe calls only in the child,
// made as plain system calls (no interposed wrapper, such as a sanitizer's, runs in it).
int start_process(const ProcessStart& start, pid_t& pid);

}  // namespace taskpool
