#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/unique_fd.h"
#include "tasks/pipes.h"
#include "tasks/spawn.h"

namespace taskpool {
namespace {

// Waits for `pid` and returns its exit status (-1: it did not exit).
int exit_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    REQUIRE(errno == EINTR);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `argv` (its program a path), its stdout on a pipe, stdin as this process has it (a dup
// onto itself), plus `more` dups. Returns what it printed and its exit status.
std::pair<std::string, int> run(Spawner& spawner, const std::vector<std::string>& argv,
                                const std::vector<std::pair<int, int>>& more = {}) {
  Pipe out;
  REQUIRE(make_pipe(out) == 0);
  Dups dups;
  dups.add(STDIN_FILENO, STDIN_FILENO);
  dups.add(out.write.get(), STDOUT_FILENO);
  for (const auto& [from, to] : more) dups.add(from, to);
  pid_t pid = -1;
  REQUIRE(spawner.spawn(argv.front(), argv, dups, nullptr, nullptr, pid) == 0);
  out.write.reset();
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out.read.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    text.append(buffer, static_cast<size_t>(n));
  }
  return {text, exit_status(pid)};
}

sigset_t mask_of(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : signals) sigaddset(&set, sig);
  return set;
}

uint64_t bit(int sig) { return uint64_t{1} << (sig - 1); }

// The children of this thread, zombies too, as the kernel lists them.
std::string children() {
  std::ifstream in("/proc/thread-self/children");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The child's SigBlk, SigIgn and SigCgt (/proc/self/status).
std::map<std::string, uint64_t> signal_masks(Spawner& spawner) {
  // Not through a shell: dash unblocks signals as it starts.
  const auto [text, status] = run(spawner, {"/bin/grep", "^Sig", "/proc/self/status"});
  REQUIRE(status == 0);
  std::map<std::string, uint64_t> masks;
  std::istringstream lines(text);
  for (std::string name, value; lines >> name >> value;) {
    masks[name] = std::stoull(value, nullptr, 16);
  }
  return masks;
}

TEST_CASE("spawner: the child runs the program with its arguments and environment") {
  Spawner spawner(mask_of({}));
  std::string variable = "TASKPOOL_SPAWNER_TEST=yes";
  char* envp[] = {variable.data(), nullptr};
  Pipe out;
  REQUIRE(make_pipe(out) == 0);
  Dups dups;
  dups.add(out.write.get(), STDOUT_FILENO);
  pid_t pid = -1;
  REQUIRE(spawner.spawn("/bin/sh",
                        {"sh", "-c", "echo \"$0 $1 $TASKPOOL_SPAWNER_TEST\"; exit 3", "a b", "c"},
                        dups, envp, nullptr, pid) == 0);
  out.write.reset();
  char buffer[64] = {};
  CHECK(::read(out.read.get(), buffer, sizeof buffer - 1) > 0);
  CHECK(std::string(buffer) == "a b c yes\n");
  CHECK(exit_status(pid) == 3);
}

TEST_CASE("spawner: a child gets a process group of its own and the given signal mask") {
  Spawner spawner(mask_of({SIGUSR2}));
  const auto [text, status] =
      run(spawner, {"/bin/sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$"});
  REQUIRE(status == 0);
  std::istringstream words(text);
  pid_t group = 0;
  pid_t self = 0;
  words >> group >> self;
  CHECK(group == self);
  CHECK(group != getpgrp());
  const auto masks = signal_masks(spawner);
  CHECK(masks.at("SigBlk:") == bit(SIGUSR2));
}

void on_signal(int) {}

TEST_CASE("spawner: ignored signals are the child's defaults, but those the caller ignores") {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction handle = {};
  handle.sa_handler = on_signal;
  struct sigaction old_pipe;
  struct sigaction old_usr1;
  struct sigaction old_urg;
  REQUIRE(sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
  REQUIRE(sigaction(SIGURG, &ignore, &old_urg) == 0);  // ignored, and not taskpool's to reset
  REQUIRE(sigaction(SIGUSR1, &handle, &old_usr1) == 0);
  Spawner spawner(mask_of({}));
  const auto masks = signal_masks(spawner);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGURG, &old_urg, nullptr);
  sigaction(SIGUSR1, &old_usr1, nullptr);
  CHECK((masks.at("SigIgn:") & bit(SIGPIPE)) == 0);
  CHECK((masks.at("SigIgn:") & bit(SIGURG)) != 0);  // as a shell's child keeps it
  CHECK((masks.at("SigIgn:") & bit(SIGUSR1)) == 0);
  CHECK((masks.at("SigCgt:") & bit(SIGUSR1)) == 0);
}

TEST_CASE("spawner: a failed exec is its errno, and leaves no child behind") {
  Spawner spawner(mask_of({}));
  const std::string before = children();
  Dups dups;
  pid_t pid = -1;
  CHECK(spawner.spawn("/nonexistent/taskpool-test", {"x"}, dups, nullptr, nullptr, pid) == ENOENT);
  CHECK(spawner.spawn("/dev/null", {"x"}, dups, nullptr, nullptr, pid) == EACCES);
  CHECK(pid == -1);
  CHECK(children() == before);  // reaped: not even a zombie left
  // A descriptor that is not open: the dup2 fails the same way, before the exec.
  dups.add(1000, STDOUT_FILENO);
  CHECK(spawner.spawn("/bin/true", {"true"}, dups, nullptr, nullptr, pid) == EBADF);
}

TEST_CASE("spawner: a descriptor given as itself stays open across the exec") {
  Spawner spawner(mask_of({}));
  const UniqueFd fd(fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 50));
  REQUIRE(fd.valid());
  const std::string test = "test -e /proc/self/fd/" + std::to_string(fd.get());
  CHECK(run(spawner, {"/bin/sh", "-c", test}).second != 0);  // close-on-exec: not the child's
  CHECK(run(spawner, {"/bin/sh", "-c", test}, {{fd.get(), fd.get()}}).second == 0);
  CHECK((fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);  // still so in this process
}

TEST_CASE("spawner: many children one after another") {
  Spawner spawner(mask_of({}));
  Dups dups;
  for (int i = 0; i < 200; ++i) {
    pid_t pid = -1;
    REQUIRE(spawner.spawn("/bin/true", {"true"}, dups, nullptr, nullptr, pid) == 0);
    CHECK(exit_status(pid) == 0);
  }
}

}  // namespace
}  // namespace taskpool
