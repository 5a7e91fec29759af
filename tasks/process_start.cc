#include "tasks/process_start.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
#include "tasks/guard_loop.h"

#if defined(__SANITIZE_THREAD__)
#define TASKPOOL_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TASKPOOL_THREAD_SANITIZER 1
#endif
#endif
#ifndef TASKPOOL_THREAD_SANITIZER
#define TASKPOOL_THREAD_SANITIZER 0
#endif

namespace taskpool {

namespace {

constexpr size_t kChildStack = 64 * 1024;

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

#if !TASKPOOL_THREAD_SANITIZER
// What the child and the thread that waits for it share: the request, and the errno of the step
// that failed, if one did.
struct Shared {
  const ProcessStart* start;
  int error;
  pid_t pid;  // the child's, stored by the kernel before the child runs (CLONE_PARENT_SETTID)
};

// The kernel's struct sigaction (rt_sigaction's: handler, flags, restorer, mask) for SIG_DFL:
// all zeros.
constexpr std::array<unsigned long, 4> kDefaultAction{};

[[noreturn]] __attribute__((no_sanitize("address", "thread", "undefined"))) void child_failed(
    Shared& shared) {
  shared.error = errno;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// The child, until its exec. It runs on its own stack but shares taskpool's memory and
// thread-local storage (the thread that started it waits meanwhile). Every signal is blocked
// until it sets its mask: no handler of taskpool's can run here before then.
__attribute__((no_sanitize("address", "thread", "undefined"))) int child(void* argument) {
  Shared& shared = *static_cast<Shared*>(argument);
  const ProcessStart& start = *shared.start;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&start.defaults, sig) == 1) {
      syscall(SYS_rt_sigaction, sig, kDefaultAction.data(), nullptr, sizeof(uint64_t));
    }
  }
  if (start.own_group) {
    if (syscall(SYS_setpgid, 0, 0) != 0) child_failed(shared);
    if (start.group_table != nullptr) {
      // Its own id without a system call; 0 where the memory is a copy (valgrind makes a fork).
      mark_group(start.group_table, shared.pid, true);
    }
  }
  for (size_t i = 0; i < start.dups.size; ++i) {
    const auto [from, to] = start.dups.pairs[i];
    // dup2 onto itself keeps close-on-exec: cleared instead.
    const long done = from == to ? syscall(SYS_fcntl, to, F_SETFD, 0) : syscall(SYS_dup2, from, to);
    if (done < 0) child_failed(shared);
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &start.mask, nullptr, sizeof(uint64_t));
  syscall(SYS_execve, start.path, start.argv, start.envp);
  child_failed(shared);
}

#endif

}  // namespace

namespace {

// The signals this process has a handler for, from /proc/self/status's SigCgt line (one read,
// where asking each signal's disposition takes 64 system calls); false when it cannot be read.
bool caught_signals(sigset_t& caught) {
  std::string status;
  if (read_whole_file("/proc/self/status", status, 64 * 1024) != 0) return false;
  const size_t line = status.find("\nSigCgt:");
  if (line == std::string::npos) return false;
  const char* first = status.data() + line + std::strlen("\nSigCgt:");
  const char* last = status.data() + status.size();
  while (first < last && (*first == ' ' || *first == '\t')) ++first;
  uint64_t bits = 0;
  const auto [end, failure] = std::from_chars(first, last, bits, 16);
  if (failure != std::errc() || end == first) return false;
  sigemptyset(&caught);
  for (int sig = 1; sig <= 64 && sig < NSIG; ++sig) {
    if ((bits >> (sig - 1) & 1) != 0) sigaddset(&caught, sig);
  }
  return true;
}

}  // namespace

sigset_t signals_to_reset(const sigset_t& ignored_too) {
  sigset_t reset = ignored_too;
  sigset_t caught;
  if (caught_signals(caught)) {
    sigorset(&reset, &reset, &caught);
    return reset;
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action = {};
    if (sigaction(sig, nullptr, &action) != 0) continue;  // glibc's own, SIGKILL, SIGSTOP
    const bool handled = (action.sa_flags & SA_SIGINFO) != 0 ||
                         (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
    if (handled) sigaddset(&reset, sig);
  }
  return reset;
}

ChildStack::ChildStack() {
  const size_t guard = page_size();
  base_ = mmap(nullptr, guard + kChildStack, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base_ == MAP_FAILED) die_on_system_error("mmap");
  if (mprotect(base_, guard, PROT_NONE) != 0) die_on_system_error("mprotect");
}

ChildStack::~ChildStack() { munmap(base_, page_size() + kChildStack); }

char* ChildStack::top() const { return static_cast<char*>(base_) + page_size() + kChildStack; }

#if TASKPOOL_THREAD_SANITIZER
// ThreadSanitizer takes a clone() for a fork and runs its after-fork code in the child, which
// fails in one that shares taskpool's memory: under it, glibc's posix_spawn (whose own clone it
// does not see) starts the child, to the same effect.
int start_process(const ProcessStart& start, const ChildStack& /*stack*/, pid_t& pid) {
  pid = -1;
  if (start.dups.size > start.dups.pairs.size()) return EINVAL;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  for (size_t i = 0; i < start.dups.size; ++i) {
    // glibc clears close-on-exec for a descriptor given as itself.
    const auto [from, to] = start.dups.pairs.at(i);
    posix_spawn_file_actions_adddup2(&actions, from, to);
  }
  posix_spawnattr_setsigmask(&attributes, &start.mask);
  posix_spawnattr_setsigdefault(&attributes, &start.defaults);
  int flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (start.own_group) {
    posix_spawnattr_setpgroup(&attributes, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attributes, static_cast<short>(flags));
  pid_t started = -1;
  const int error =
      posix_spawn(&started, start.path, &actions, &attributes, start.argv, start.envp);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (error == 0) pid = started;
  return error;
}
#else
int start_process(const ProcessStart& start, const ChildStack& stack, pid_t& pid) {
  pid = -1;
  if (start.dups.size > start.dups.pairs.size()) return EINVAL;
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  Shared shared{&start, 0, 0};
  // CLONE_VFORK: this thread waits until the child has exec'd or exited, so that the stack and
  // the request stay as they are while it uses them.
  const pid_t started =
      clone(child, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, &shared,
            &shared.pid);
  const int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (started < 0) return clone_error;
  if (shared.error != 0) {
    if (start.group_table != nullptr) mark_group(start.group_table, started, false);
    int status = 0;
    while (waitpid(started, &status, 0) < 0 && errno == EINTR) {
    }
    return shared.error;
  }
  pid = started;
  return 0;
}
#endif

}  // namespace taskpool
