#include "tasks/spawn.h"

#include <signal.h>
#include <sys/prctl.h>
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

}  // namespace

Spawner::Spawner(const sigset_t& mask) {
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : kChildDefaults) sigaddset(&defaults, sig);
  start_.defaults = signals_to_reset(defaults);
  start_.mask = mask;
  start_.own_group = true;  // cancel reaches the command's whole tree, Ctrl-C taskpool alone
}

int Spawner::spawn(const std::string& path, const std::vector<std::string>& argv, const Dups& dups,
                   char* const* envp, uint64_t* group_table, pid_t& pid) {
  args_.clear();
  for (const std::string& arg : argv) args_.push_back(const_cast<char*>(arg.c_str()));
  args_.push_back(nullptr);
  start_.path = path.c_str();
  start_.argv = args_.data();
  start_.envp = envp != nullptr ? envp : environ;
  start_.dups = dups;
  start_.group_table = group_table;
  return start_process(start_, stack_, pid);
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
    return {126, path + ": cannot start: " + std::strerror(error), true, error == EMFILE};
  }
  // The statuses the shell gives for the same failures.
  return {error == ENOENT ? 127 : 126, path + ": " + std::strerror(error)};
}

StartFailure pipe_failure(int error, const std::string& program) {
  return {126, program + ": cannot create a pipe: " + std::strerror(error),
          lack_of_resources(error), error == EMFILE};
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
