#include "tasks/guardian.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

#include "tasks/process_start.h"

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
// A guardian started with arguments it cannot read exits so (as a usage error would).
constexpr int kUsage = 2;

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

// Closes every descriptor but `a` and `b`: the guardian holds no file of taskpool's (a pipe's
// reader would wait for it).
void close_all_but(int a, int b) {
  const auto low = static_cast<unsigned>(std::min(a, b));
  const auto high = static_cast<unsigned>(std::max(a, b));
  if (low > 0) close_range(0, low - 1, 0);
  if (high > low + 1) close_range(low + 1, high - 1, 0);
  close_range(high + 1, ~0U, 0);
}

// The guardian's life, in the forked child or the spawned program: async-signal-safe calls only.
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
  // Holds no directory.
  if (chdir("/") != 0) {
    // Stays where it is: a mount it holds is the lesser harm.
  }

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

// How a spawned guardian is asked to be one: argv[0] and argv[1], then its socket, its table and
// kill_after in nanoseconds.
constexpr const char* kProgramName = "taskpool-guard";
constexpr const char* kGuardFlag = "--taskpool-guard";

// Starts the guardian as a new run of this same program (/proc/self/exe), which takes its
// part in Guardian::run_if_asked. Costs taskpool what starting a job costs, where a fork of a
// taskpool that has read its flags cost it 0.5 to 0.9 ms of a one-job run of 3 (copying its
// page tables, then a copy of each page it wrote after), and leaves the guardian a memory of its
// own (a child sharing taskpool's would die with it when the OOM killer picks taskpool).
// Returns -1 when it cannot (no /proc, say): then the guardian is forked.
pid_t spawn_self(int socket, int table_file, Duration kill_after) {
  std::string socket_arg = std::to_string(socket);
  std::string table_arg = std::to_string(table_file);
  std::string kill_after_arg =
      std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(kill_after).count());
  std::string program = kProgramName;
  std::string flag = kGuardFlag;
  char* const argv[] = {program.data(),   flag.data(),           socket_arg.data(),
                        table_arg.data(), kill_after_arg.data(), nullptr};
  ProcessStart start;
  start.path = "/proc/self/exe";
  start.argv = argv;
  start.envp = environ;  // taskpool's own: nothing in it is read
  // The two descriptors stay open in it; every other is closed by the guardian itself. A group
  // of its own from the start, and every signal held until it has made itself deaf to those
  // meant for taskpool (a Ctrl-C right now must not end it): no handler of taskpool's can run
  // before the exec, so none needs to be set back.
  start.dups.add(socket, socket);
  start.dups.add(table_file, table_file);
  sigfillset(&start.mask);
  sigemptyset(&start.defaults);
  start.own_group = true;
  const ChildStack stack;
  pid_t pid = -1;
  return start_process(start, stack, pid) == 0 ? pid : -1;
}

// The table as a file in memory, or none. Its size may pass the file size limit (`ulimit -f`):
// that is EFBIG, and SIGXFSZ, which must not end taskpool, is ignored meanwhile.
UniqueFd make_table_file() {
  UniqueFd file(memfd_create("taskpool-guard", MFD_CLOEXEC));
  if (!file.valid()) return file;
  struct sigaction ignore = {};
  struct sigaction before = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &before);
  const bool sized = ftruncate(file.get(), kTableBytes) == 0;
  sigaction(SIGXFSZ, &before, nullptr);
  return sized ? std::move(file) : UniqueFd();
}

// The guardian as a fork of taskpool, when it cannot be spawned. REQUIRES: no other thread.
pid_t fork_guardian(int socket, uint64_t* table, Duration kill_after, std::string& error) {
  // Signals wait until the guardian is deaf to them, and its group is set from both sides, so
  // that it is in place whichever runs first.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = fork();
  if (pid == 0) {
    close_all_but(socket, socket);
    guard(socket, table, kill_after);
  }
  const int fork_error = errno;
  if (pid > 0) setpgid(pid, pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (pid < 0) error = std::string("fork: ") + std::strerror(fork_error);
  return pid;
}

}  // namespace

std::unique_ptr<Guardian> Guardian::start(Duration kill_after, std::string& error, Launch launch) {
  // The table is a file in memory a spawned guardian maps too; or, when that cannot be made
  // (under `ulimit -f` below its size, say), memory a forked one shares.
  UniqueFd table_file = launch == Launch::kSpawnSelf ? make_table_file() : UniqueFd();
  void* shared = mmap(nullptr, kTableBytes, PROT_READ | PROT_WRITE,
                      table_file.valid() ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                      table_file.get(), 0);
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
  UniqueFd ours(ends[0]);
  UniqueFd theirs(ends[1]);
  pid_t pid = -1;
  if (table_file.valid()) pid = spawn_self(theirs.get(), table_file.get(), kill_after);
  if (pid < 0) pid = fork_guardian(theirs.get(), table, kill_after, error);
  if (pid < 0) {
    munmap(shared, kTableBytes);
    return nullptr;
  }
  return std::unique_ptr<Guardian>(new Guardian(pid, ours.release(), table));
}

void Guardian::run_if_asked(int argc, char** argv) {
  if (argc != 5 || std::strcmp(argv[1], kGuardFlag) != 0) return;
  int socket = -1;
  int table_file = -1;
  int64_t kill_after = -1;
  const auto number = [](const char* text, auto& value) {
    const char* end = text + std::strlen(text);
    const auto [at, failure] = std::from_chars(text, end, value);
    return failure == std::errc() && at == end && value >= 0;
  };
  if (!number(argv[2], socket) || !number(argv[3], table_file) || !number(argv[4], kill_after)) {
    _exit(kUsage);
  }
  close_all_but(socket, table_file);
  void* table = mmap(nullptr, kTableBytes, PROT_READ, MAP_SHARED, table_file, 0);
  if (table == MAP_FAILED) _exit(kUsage);
  close(table_file);
  guard(socket, static_cast<uint64_t*>(table), std::chrono::nanoseconds(kill_after));
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
