#include "tasks/guard_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <initializer_list>

#include "tasks/raw_syscall.h"

// Nothing here calls the C library where raw system calls can be made: the guardian's program
// has none (tasks/guard_main.cc), and a fork of taskpool that guards can use them as well.
namespace taskpool {

namespace {

// How often the guardian looks whether the groups it sent SIGTERM to are gone.
constexpr long kLookNanoseconds = 10'000'000;
// A guardian started with arguments it cannot read exits so (as a usage error would).
constexpr int kUsage = 2;

#if TASKPOOL_RAW_SYSCALLS
// The kernel's struct sigaction (handler, flags, restorer, mask).
using KernelAction = std::array<unsigned long, 4>;

long sys_kill(pid_t pid, int sig) { return raw::call(SYS_kill, pid, sig); }
long sys_read(int fd, char* byte) { return raw::call(SYS_read, fd, raw::arg(byte), 1); }
long sys_sleep(timespec* pause) {
  return raw::call(SYS_nanosleep, raw::arg(pause), raw::arg(pause));
}
long sys_close_range(unsigned low, unsigned high) {
  return raw::call(SYS_close_range, low, high, 0);
}
long sys_close(int fd) { return raw::call(SYS_close, fd); }
long sys_write(int fd, const char* data, size_t size) {
  return raw::call(SYS_write, fd, raw::arg(data), static_cast<long>(size));
}
[[noreturn]] void sys_exit(int status) {
  raw::call(SYS_exit_group, status);
  __builtin_unreachable();
}
void* sys_map_table(int fd) {
  const long at =
      raw::call(SYS_mmap, 0, static_cast<long>(kGuardTableBytes), PROT_READ, MAP_SHARED, fd, 0);
  return at < 0 && at > -4096 ? MAP_FAILED : std::bit_cast<void*>(at);
}
void sys_become_deaf(std::initializer_list<int> signals) {
  KernelAction ignore{};
  ignore[0] = reinterpret_cast<unsigned long>(SIG_IGN);
  for (int sig : signals) raw::call(SYS_rt_sigaction, sig, raw::arg(ignore.data()), 0, 8);
  const unsigned long none = 0;
  raw::call(SYS_rt_sigprocmask, SIG_SETMASK, raw::arg(&none), 0, 8);
}
void sys_settle(const char* name) {
  raw::call(SYS_setpgid, 0, 0);
  raw::call(SYS_prctl, PR_SET_NAME, raw::arg(name), 0, 0, 0);
  raw::call(SYS_chdir, raw::arg("/"));  // on failure it stays: a mount it holds is the lesser harm
}
bool interrupted(long result) { return result == -EINTR; }
#else
long sys_kill(pid_t pid, int sig) { return kill(pid, sig); }
long sys_read(int fd, char* byte) { return read(fd, byte, 1); }
long sys_sleep(timespec* pause) { return nanosleep(pause, pause); }
long sys_close_range(unsigned low, unsigned high) { return close_range(low, high, 0); }
long sys_close(int fd) { return close(fd); }
long sys_write(int fd, const char* data, size_t size) { return write(fd, data, size); }
[[noreturn]] void sys_exit(int status) { _exit(status); }
void* sys_map_table(int fd) {
  return mmap(nullptr, kGuardTableBytes, PROT_READ, MAP_SHARED, fd, 0);
}
void sys_become_deaf(std::initializer_list<int> signals) {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : signals) sigaction(sig, &ignore, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}
void sys_settle(const char* name) {
  setpgid(0, 0);
  prctl(PR_SET_NAME, name, 0, 0, 0);
  [[maybe_unused]] const int moved = chdir("/");  // on failure it stays (see above)
}
bool interrupted(long result) { return result < 0 && errno == EINTR; }
#endif

void sleep_a_little() {
  timespec pause{0, kLookNanoseconds};
  while (interrupted(sys_sleep(&pause))) {
  }
}

// Signals every group in the table; returns whether any still had a process.
bool signal_groups(const uint64_t* table, int sig) {
  bool any = false;
  for (size_t word = 0; word < kGuardTableWords; ++word) {
    const uint64_t bits =
        std::atomic_ref<const uint64_t>(table[word]).load(std::memory_order_relaxed);
    if (bits == 0) continue;
    for (int bit = 0; bit < 64; ++bit) {
      if ((bits & (uint64_t{1} << bit)) == 0) continue;
      const auto group = static_cast<pid_t>(word * 64 + static_cast<size_t>(bit));
      // The group only: a lone process id could be another process's by now.
      if (sys_kill(-group, sig) == 0) any = true;
    }
  }
  return any;
}

// A non-negative decimal number that is the whole of `text` (and fits in 62 bits).
bool read_number(const char* text, int64_t& value) {
  value = 0;
  if (*text == '\0') return false;
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9' || value > (int64_t{1} << 58)) return false;
    value = value * 10 + (*text - '0');
  }
  return true;
}

bool same_text(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

}  // namespace

void close_all_but(int a, int b) {
  const auto low = static_cast<unsigned>(a < b ? a : b);
  const auto high = static_cast<unsigned>(a < b ? b : a);
  if (low > 0) sys_close_range(0, low - 1);
  if (high > low + 1) sys_close_range(low + 1, high - 1);
  sys_close_range(high + 1, ~0U);
}

void guard(int socket, const uint64_t* table, Duration kill_after) {
  // A group of its own, deaf to what is meant for taskpool (the terminal's Ctrl-C and Ctrl-Z,
  // a signal to taskpool's group): it must outlive taskpool, not die or stop with it. It holds
  // no directory.
  sys_settle(kGuardProgramName);
  sys_become_deaf(
      {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2});

  char word = 0;
  long n;
  while (interrupted(n = sys_read(socket, &word))) {
  }
  if (n == 1 && word == kGuardInOrder) sys_exit(0);
  // taskpool is gone, and its jobs are not.
  if (signal_groups(table, SIGTERM)) {
    signal_groups(table, SIGCONT);
    const auto looks = kill_after / std::chrono::nanoseconds(kLookNanoseconds);
    for (auto i = looks; i > 0; --i) {
      sleep_a_little();
      if (!signal_groups(table, 0)) sys_exit(0);
    }
    signal_groups(table, SIGKILL);
  }
  sys_exit(0);
}

void refuse_to_guard(const char* why) {
  constexpr char kPrefix[] = "taskpool-guard: ";
  size_t length = 0;
  while (why[length] != '\0') ++length;
  sys_write(2, kPrefix, sizeof kPrefix - 1);
  sys_write(2, why, length);
  sys_write(2, "\n", 1);
  sys_exit(kUsage);
}

bool asks_for_guardian(int argc, char** argv) {
  return argc == 5 && same_text(argv[1], kGuardFlag);
}

void run_guardian(char** argv) {
  int64_t socket = -1;
  int64_t table_file = -1;
  int64_t kill_after = -1;
  if (!read_number(argv[2], socket) || !read_number(argv[3], table_file) ||
      !read_number(argv[4], kill_after) || socket > INT32_MAX || table_file > INT32_MAX) {
    refuse_to_guard("its arguments are not taskpool's (a socket, a table and a time)");
  }
  close_all_but(static_cast<int>(socket), static_cast<int>(table_file));
  void* table = sys_map_table(static_cast<int>(table_file));
  if (table == MAP_FAILED) sys_exit(kUsage);
  sys_close(static_cast<int>(table_file));
  guard(static_cast<int>(socket), static_cast<const uint64_t*>(table),
        std::chrono::nanoseconds(kill_after));
}

}  // namespace taskpool
