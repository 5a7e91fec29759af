#include "tasks/process_start.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace taskpool {

namespace {

// What the child and its parent share: the request, and the error the child met, if any.
struct Shared {
  const ProcessStart* start;
  int error;
};

// The kernel's struct sigaction, for a plain rt_sigaction system call (glibc's sigaction may be
// interposed; and SIG_DFL needs no restorer).
struct KernelSigaction {
  // cppcheck-suppress unusedStructMember ; the kernel reads it
  void (*handler)(int);
  // cppcheck-suppress unusedStructMember ; the kernel reads it
  unsigned long flags;
  // cppcheck-suppress unusedStructMember ; the kernel reads it
  void (*restorer)();
  // cppcheck-suppress unusedStructMember ; the kernel reads it
  uint64_t mask;
};

constexpr size_t kKernelSigsetBytes = sizeof(uint64_t);

// The child, on a stack of the waiting parent's: plain system calls until exec.
int child(void* argument) {
  auto* shared = static_cast<Shared*>(argument);
  const ProcessStart& start = *shared->start;
  const KernelSigaction default_action{SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&start.defaults, sig) == 1) {
      syscall(SYS_rt_sigaction, sig, &default_action, nullptr, kKernelSigsetBytes);
    }
  }
  if (start.own_group && syscall(SYS_setpgid, 0, 0) != 0) {
    shared->error = errno;
    syscall(SYS_exit_group, 127);
  }
  for (size_t i = 0; i < start.dup_count; ++i) {
    const auto [from, to] = start.dups.at(i);
    const long done =
        from == to ? syscall(SYS_fcntl, from, F_SETFD, 0) : syscall(SYS_dup2, from, to);
    if (done < 0) {
      shared->error = errno;
      syscall(SYS_exit_group, 127);
    }
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &start.mask, nullptr, kKernelSigsetBytes);
  syscall(SYS_execve, start.path, start.argv, start.envp);
  shared->error = errno;
  syscall(SYS_exit_group, 127);
  return 127;
}

}  // namespace

sigset_t signals_to_reset(const sigset_t& ignored_too) {
  sigset_t reset = ignored_too;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action = {};
    if (sigaction(sig, nullptr, &action) != 0) continue;  // not a signal one can ask about
    const bool handled = (action.sa_flags & SA_SIGINFO) != 0 ||
                         (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
    if (handled) sigaddset(&reset, sig);
  }
  return reset;
}

int start_process(const ProcessStart& start, pid_t& pid) {
  if (start.dup_count > start.dups.size()) return EINVAL;
  // Every signal held while the child shares this memory: a handler of taskpool's must not run
  // in it (the child sets the mask it is to have just before exec).
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  Shared shared{&start, 0};
  // The child runs on this stack while this thread waits for its exec (CLONE_VFORK): a few
  // system calls' worth is all it needs.
  alignas(64) char stack[16 * 1024];
  pid = clone(child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &shared);
  const int error = pid < 0 ? errno : shared.error;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (pid > 0 && error != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }
  return error;
}

}  // namespace taskpool
