#include "tasks/detached_start.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "tasks/process_start.h"
#include "tasks/raw_syscall.h"

#if defined(__SANITIZE_THREAD__)
#define TASKPOOL_DETACHED_WAITS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TASKPOOL_DETACHED_WAITS 1
#endif
#endif
#if !defined(TASKPOOL_DETACHED_WAITS) && !TASKPOOL_RAW_SYSCALLS
#define TASKPOOL_DETACHED_WAITS 1
#endif
#ifndef TASKPOOL_DETACHED_WAITS
#define TASKPOOL_DETACHED_WAITS 0
#endif

namespace taskpool {

namespace {

constexpr size_t kMostPrograms = 4;
constexpr size_t kMostArguments = 15;
constexpr size_t kMostKept = 4;
constexpr size_t kStack = 32 * 1024;

}  // namespace

// Everything the child reads, in memory that is never given back (see ~DetachedStart): below it,
// a guard page and the child's stack.
struct DetachedStart::Block {
  std::atomic<int> failure{0};
  bool own_group = false;
  size_t programs = 0;
  size_t kept = 0;
  std::array<int, kMostKept> keep{};
  std::array<char*, kMostPrograms> program{};
  std::array<char*, kMostArguments + 1> argv{};
  std::array<char*, 1> envp{};
  char* stack_top = nullptr;
  // The strings follow.
};

namespace {

#if !TASKPOOL_DETACHED_WAITS
// The child, until its exec: it shares taskpool's memory while the thread that started it goes
// on, so it reads only its Block and writes only its failure there. Every signal is blocked in
// it (the mask at the clone), so no handler of taskpool's can run here.
__attribute__((no_sanitize("address", "thread", "undefined"))) int detached_child(void* argument) {
  auto& block = *static_cast<DetachedStart::Block*>(argument);
  for (size_t i = 0; i < block.kept; ++i) raw::call(SYS_fcntl, block.keep[i], F_SETFD, 0);
  if (block.own_group) raw::call(SYS_setpgid, 0, 0);
  long result = -ENOENT;
  for (size_t i = 0; i < block.programs; ++i) {
    result = raw::call(SYS_execve, raw::arg(block.program[i]), raw::arg(block.argv.data()),
                       raw::arg(block.envp.data()));
  }
  block.failure.store(static_cast<int>(-result), std::memory_order_release);
  raw::call(SYS_exit_group, 127);
  __builtin_unreachable();
}
#endif

size_t page_bytes() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

}  // namespace

DetachedStart::DetachedStart(const Request& request) {
  if (request.programs.size() > kMostPrograms || request.argv.size() > kMostArguments ||
      request.keep_open.size() > kMostKept) {
    throw Error("DetachedStart: too many programs, arguments or descriptors");
  }
  size_t text = 0;
  for (const std::string& s : request.programs) text += s.size() + 1;
  for (const std::string& s : request.argv) text += s.size() + 1;
  const size_t guard = page_bytes();
  const size_t bytes = guard + kStack + sizeof(Block) + text;
  void* memory =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) throw system_error("mmap");
  mprotect(memory, guard, PROT_NONE);  // without it, an overrun faults a little later
  char* base = static_cast<char*>(memory);
  // cppcheck-suppress noDestructor ; the memory is never given back (see ~DetachedStart)
  block_ = new (base + guard + kStack) Block;
  block_->stack_top = base + guard + kStack;
  block_->own_group = request.own_group;
  char* at = base + guard + kStack + sizeof(Block);
  const auto copy = [&at](const std::string& s) {
    char* placed = at;
    std::memcpy(at, s.c_str(), s.size() + 1);
    at += s.size() + 1;
    return placed;
  };
  for (const std::string& s : request.programs) block_->program.at(block_->programs++) = copy(s);
  for (size_t i = 0; i < request.argv.size(); ++i) block_->argv.at(i) = copy(request.argv[i]);
  for (int fd : request.keep_open) block_->keep.at(block_->kept++) = fd;
}

int DetachedStart::failure() const { return block_->failure.load(std::memory_order_acquire); }

namespace {

// Starts the child as start_process does, waiting for its exec: where the child cannot share
// memory with a thread that goes on.
pid_t start_waiting(DetachedStart::Block& block) {
  ProcessStart start;
  start.argv = block.argv.data();
  start.envp = block.envp.data();
  for (size_t i = 0; i < block.kept; ++i) start.dups.add(block.keep[i], block.keep[i]);
  sigfillset(&start.mask);
  sigemptyset(&start.defaults);
  start.own_group = block.own_group;
  const ChildStack stack;
  int error = ENOENT;
  for (size_t i = 0; i < block.programs; ++i) {
    start.path = block.program[i];
    pid_t pid = -1;
    error = start_process(start, stack, pid);
    if (error == 0) return pid;
  }
  block.failure.store(error, std::memory_order_release);
  errno = error;
  return -1;
}

#if !TASKPOOL_DETACHED_WAITS
// Valgrind runs a program with its preload library (vgpreload_TOOL-PLATFORM.so) in LD_PRELOAD,
// and ends it at a clone that is neither a thread's nor a fork's.
bool under_valgrind() {
  const char* preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "/vgpreload_") != nullptr;
}
#endif

}  // namespace

pid_t DetachedStart::start() {
#if TASKPOOL_DETACHED_WAITS
  return start_waiting(*block_);
#else
  if (under_valgrind()) return start_waiting(*block_);
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  // No CLONE_VFORK: this thread goes on while the child execs.
  const pid_t pid = clone(detached_child, block_->stack_top, CLONE_VM | SIGCHLD, block_);
  const int clone_error = errno;
  // The group is set from this side too, so that it is in place when start() returns, whichever
  // runs first (once the child has exec'd this fails, having been done).
  if (pid > 0 && block_->own_group) setpgid(pid, pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  errno = clone_error;
  return pid;
#endif
}

}  // namespace taskpool
