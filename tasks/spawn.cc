#include "tasks/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "tasks/pipes.h"

namespace taskpool {

namespace {

// The signals every child gets at their default disposition, whatever taskpool does with them.
constexpr std::array kChildDefaults = {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT};

constexpr size_t kChildStack = 64 * 1024;

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// What a child needs until its exec, in the memory it shares with taskpool.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const Dups* dups;
  const sigset_t* mask;
  const int* defaults;
  size_t default_count;
  int error;  // set by the child: the errno of the step that failed
};

// The kernel's struct sigaction (rt_sigaction's: handler, flags, restorer, mask) for SIG_DFL:
// all zeros.
constexpr std::array<unsigned long, 4> kDefaultAction{};

[[noreturn]] __attribute__((no_sanitize("address", "thread", "undefined"))) void child_failed(
    ChildPlan& plan) {
  plan.error = errno;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// The child, until its exec. It runs on its own stack but shares taskpool's memory and
// thread-local storage (the thread that started it waits meanwhile), so it makes system calls
// and nothing else: no lock, no allocation, no call a sanitizer intercepts (it would change the
// parent's view: its signal handlers, its descriptors).
__attribute__((no_sanitize("address", "thread", "undefined"))) int child_main(void* arg) {
  ChildPlan& plan = *static_cast<ChildPlan*>(arg);
  // Every signal is blocked until the mask is set: no handler of taskpool's can run here.
  for (size_t i = 0; i < plan.default_count; ++i) {
    syscall(SYS_rt_sigaction, plan.defaults[i], kDefaultAction.data(), nullptr, sizeof(uint64_t));
  }
  // A group of its own: cancel reaches the command's whole tree, and the terminal's Ctrl-C
  // reaches taskpool alone, which then decides how the commands end.
  if (syscall(SYS_setpgid, 0, 0) != 0) child_failed(plan);
  for (size_t i = 0; i < plan.dups->size; ++i) {
    const auto [from, to] = plan.dups->pairs[i];
    // dup2 onto itself keeps close-on-exec: cleared instead.
    const long result =
        from == to ? syscall(SYS_fcntl, to, F_SETFD, 0) : syscall(SYS_dup2, from, to);
    if (result < 0) child_failed(plan);
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, plan.mask, nullptr, sizeof(uint64_t));
  syscall(SYS_execve, plan.path, plan.argv, plan.envp);
  child_failed(plan);
}

}  // namespace

Spawner::Spawner(const sigset_t& mask) : mask_(mask) {
  for (const int sig : kChildDefaults) defaults_.at(default_count_++) = sig;
  // And those with a handler now: exec resets them anyway, but a signal that comes between the
  // child's setting of its mask and its exec would run taskpool's handler in the child.
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    struct sigaction action = {};
    if (sigaction(sig, nullptr, &action) != 0) continue;  // glibc's own, and SIGKILL, SIGSTOP
    const bool handled = (action.sa_flags & SA_SIGINFO) != 0 ||
                         (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
    if (!handled || std::ranges::count(kChildDefaults, sig) != 0) continue;
    if (default_count_ < defaults_.size()) defaults_.at(default_count_++) = sig;
  }
  const size_t guard = page_size();
  stack_ = mmap(nullptr, guard + kChildStack, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack_ == MAP_FAILED) die_on_system_error("mmap");
  // A child that overran its stack would write into taskpool's memory: it faults instead.
  if (mprotect(stack_, guard, PROT_NONE) != 0) die_on_system_error("mprotect");
}

Spawner::~Spawner() { munmap(stack_, page_size() + kChildStack); }

int Spawner::spawn(const std::string& path, const std::vector<std::string>& argv, const Dups& dups,
                   char* const* envp, pid_t& pid) {
  args_.clear();
  for (const std::string& arg : argv) args_.push_back(const_cast<char*>(arg.c_str()));
  args_.push_back(nullptr);
  ChildPlan plan{path.c_str(),
                 args_.data(),
                 envp != nullptr ? envp : environ,
                 &dups,
                 &mask_,
                 defaults_.data(),
                 default_count_,
                 0};
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  // CLONE_VFORK: this thread waits until the child has exec'd or exited, so that the stack and
  // the plan stay as they are while it uses them.
  char* const top = static_cast<char*>(stack_) + page_size() + kChildStack;
  const pid_t child = clone(child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  const int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (child < 0) return clone_error;
  if (plan.error != 0) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return plan.error;
  }
  pid = child;
  return 0;
}

template <size_t N>
void JobEnvironment::Variable<N>::set(const char (&name)[N], uint64_t value) {
  std::copy(name, name + N - 1, text.begin());
  char* end = std::to_chars(text.data() + N - 1, text.data() + text.size() - 1, value).ptr;
  *end = '\0';
}

JobEnvironment::JobEnvironment() {
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("PARALLEL_SEQ=") || text.starts_with("PARALLEL_JOBSLOT=") ||
        text.starts_with("PARALLEL_PID=")) {
      continue;
    }
    envp_.push_back(*entry);
  }
  pid_.set("PARALLEL_PID=", static_cast<uint64_t>(getpid()));
  envp_.insert(envp_.end(), {seq_.text.data(), slot_.text.data(), pid_.text.data(), nullptr});
}

char* const* JobEnvironment::get(uint64_t seq, int worker) {
  seq_.set("PARALLEL_SEQ=", seq);
  slot_.set("PARALLEL_JOBSLOT=", static_cast<uint64_t>(worker));
  return envp_.data();
}

StartFailure spawn_failure(int error, const std::string& path, const std::string& program,
                           const Command& command) {
  if (error == E2BIG) {
    return {126, program + ": argument too long: the command line is " +
                     std::to_string(command.line.size()) +
                     " bytes, more than the system lets a program take"};
  }
  if (lack_of_resources(error)) {
    // No process could be made now (the user's process limit, `ulimit -u`, or memory): the job
    // did not run, and may once other processes end (see Completion::short_of_resources).
    return {126, path + ": cannot start: " + std::strerror(error), true};
  }
  // The statuses the shell gives for the same failures.
  return {error == ENOENT ? 127 : 126, path + ": " + std::strerror(error)};
}

StartFailure pipe_failure(int error, const std::string& program) {
  return {126, program + ": cannot create a pipe: " + std::strerror(error),
          lack_of_resources(error)};
}

std::string search_path() {
  if (const char* path = std::getenv("PATH")) return path;
  // Without PATH the shell searches a default of its own; this is the system's.
  const size_t size = confstr(_CS_PATH, nullptr, 0);
  if (size == 0) return "/bin:/usr/bin";
  std::string path(size, '\0');
  confstr(_CS_PATH, path.data(), size);
  path.resize(size - 1);
  return path;
}

void signal_child(pid_t pid, int sig) {
  const bool group_signalled = kill(-pid, sig) == 0;
  if (!group_signalled || getpgid(pid) != pid) kill(pid, sig);
}

pid_t spawn_tied(const std::string& path, std::vector<std::string> argv, const sigset_t& mask,
                 int in, int out, int err) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  // Only async-signal-safe calls until exec.
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(255);
  setpgid(0, 0);  // the terminal's Ctrl-C reaches taskpool, which decides
  for (const int sig : {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) {
    signal(sig, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  const int streams[] = {in, out, err};
  for (int fd = 0; fd < 3; ++fd) {
    if (streams[fd] >= 0) dup2(streams[fd], fd);
  }
  execv(path.c_str(), args.data());
  _exit(127);
}

}  // namespace taskpool
