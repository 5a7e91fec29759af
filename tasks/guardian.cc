#include "tasks/guardian.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace taskpool {

namespace {

// The most process ids Linux has (PID_MAX_LIMIT on 64-bit systems): a bit each, 512 KiB of
// address space, of which only the pages that jobs' ids fall in are ever touched.
constexpr uint64_t kPidLimit = uint64_t{1} << 22;
constexpr size_t kTableWords = kPidLimit / 64;
constexpr size_t kTableBytes = kTableWords * sizeof(uint64_t);
// What taskpool writes when it ends in order.
constexpr char kInOrder = 'q';
// How often the guardian looks whether the groups it sent SIGTERM to are gone.
constexpr long kLookNanoseconds = 10'000'000;

void sleep_a_little() {
  timespec pause{0, kLookNanoseconds};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

// Signals every group in the table; returns whether any still had a process.
bool signal_groups(uint64_t* table, int sig) {
  bool any = false;
  for (size_t word = 0; word < kTableWords; ++word) {
    const uint64_t bits = std::atomic_ref<uint64_t>(table[word]).load(std::memory_order_relaxed);
    if (bits == 0) continue;
    for (int bit = 0; bit < 64; ++bit) {
      if ((bits & (uint64_t{1} << bit)) == 0) continue;
      const auto group = static_cast<pid_t>(word * 64 + static_cast<size_t>(bit));
      // The group only: a lone process id could be another process's by now.
      if (kill(-group, sig) == 0) any = true;
    }
  }
  return any;
}

// The guardian's life, in the forked child: async-signal-safe calls only.
[[noreturn]] void guard(int socket, uint64_t* table, Duration kill_after) {
  // A group of its own, deaf to what is meant for taskpool (the terminal's Ctrl-C and Ctrl-Z,
  // a signal to taskpool's group): it must outlive taskpool, not die or stop with it.
  setpgid(0, 0);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  for (int sig :
       {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2}) {
    sigaction(sig, &ignore, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_NAME, "taskpool-guard", 0, 0, 0);
  // Holds no file of taskpool's (a pipe's reader would wait for it) and no directory.
  if (chdir("/") != 0) {
    // Stays where it is: a mount it holds is the lesser harm.
  }
  if (socket > 0) close_range(0, static_cast<unsigned>(socket) - 1, 0);
  close_range(static_cast<unsigned>(socket) + 1, ~0U, 0);

  char word = 0;
  ssize_t n;
  while ((n = read(socket, &word, 1)) < 0 && errno == EINTR) {
  }
  if (n == 1 && word == kInOrder) _exit(0);
  // taskpool is gone, and its jobs are not.
  if (signal_groups(table, SIGTERM)) {
    signal_groups(table, SIGCONT);
    const auto looks = kill_after / std::chrono::nanoseconds(kLookNanoseconds);
    for (auto i = looks; i > 0; --i) {
      sleep_a_little();
      if (!signal_groups(table, 0)) _exit(0);
    }
    signal_groups(table, SIGKILL);
  }
  _exit(0);
}

}  // namespace

std::unique_ptr<Guardian> Guardian::start(Duration kill_after, std::string& error) {
  void* shared = mmap(nullptr, kTableBytes, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (shared == MAP_FAILED) {
    error = std::string("mmap: ") + std::strerror(errno);
    return nullptr;
  }
  auto* table = static_cast<uint64_t*>(shared);
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    error = std::string("socketpair: ") + std::strerror(errno);
    munmap(shared, kTableBytes);
    return nullptr;
  }
  // Signals wait until the guardian is deaf to them (a Ctrl-C right now must not end it), and
  // its group is set from both sides, so that it is in place whichever runs first.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = fork();
  if (pid == 0) {
    ::close(ends[0]);
    guard(ends[1], table, kill_after);
  }
  const int fork_error = errno;
  if (pid > 0) setpgid(pid, pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::close(ends[1]);
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(fork_error);
    ::close(ends[0]);
    munmap(shared, kTableBytes);
    return nullptr;
  }
  return std::unique_ptr<Guardian>(new Guardian(pid, ends[0], table));
}

Guardian::~Guardian() {
  if (watched_ == 0) {
    [[maybe_unused]] const ssize_t n = send(socket_.get(), &kInOrder, 1, MSG_NOSIGNAL);
  }
  // Not waited for: it ends at once on its own (waiting for that cost half a millisecond of
  // every run here), and taskpool's exit hands it to init, which reaps it. Reaped now only if
  // it has already ended.
  int status = 0;
  waitpid(pid_, &status, WNOHANG);
  munmap(table_, kTableBytes);
}

void Guardian::watch(pid_t group) { mark(group, true); }

void Guardian::forget(pid_t group) { mark(group, false); }

void Guardian::mark(pid_t group, bool running) {
  if (group <= 0 || static_cast<uint64_t>(group) >= kPidLimit) return;
  // One writer (this thread), and the guardian reads only once taskpool is gone: a plain load
  // and store, no locked instruction.
  std::atomic_ref<uint64_t> word(table_[static_cast<size_t>(group) / 64]);
  const uint64_t bit = uint64_t{1} << (static_cast<uint64_t>(group) % 64);
  const uint64_t bits = word.load(std::memory_order_relaxed);
  if (((bits & bit) != 0) == running) return;
  word.store(running ? bits | bit : bits & ~bit, std::memory_order_relaxed);
  running ? ++watched_ : --watched_;
}

}  // namespace taskpool
