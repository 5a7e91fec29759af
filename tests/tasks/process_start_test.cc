#include "tasks/process_start.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/guard_loop.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

// A child's argv, kept alive by the vector of strings it points into.
struct Argv {
  std::vector<std::string> words;
  std::vector<char*> pointers;
  explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
    for (std::string& word : words) pointers.push_back(word.data());
    pointers.push_back(nullptr);
  }
};

ProcessStart request(const char* path, Argv& argv) {
  ProcessStart start;
  start.path = path;
  start.argv = argv.pointers.data();
  start.envp = environ;
  sigemptyset(&start.mask);
  sigemptyset(&start.defaults);
  return start;
}

int exit_status_of(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// What the child writes on its stdout, run to its end.
std::string output_of(ProcessStart start) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  start.dups.add(fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  REQUIRE(start_process(start, ChildStack(), pid) == 0);
  close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  CHECK(exit_status_of(pid) == 0);
  return text;
}

// A line of the child's /proc/self/status ("SigIgn:\t0000000000001000").
std::string status_line(const ProcessStart& start, const std::string& name) {
  const std::string status = output_of(start);
  const size_t at = status.find(name + ":");
  REQUIRE(at != std::string::npos);
  return status.substr(at, status.find('\n', at) - at);
}

TEST_CASE("process start: runs the program, with its exit status") {
  Argv argv({"sh", "-c", "exit 3"});
  pid_t pid = -1;
  REQUIRE(start_process(request("/bin/sh", argv), ChildStack(), pid) == 0);
  CHECK(pid > 0);
  CHECK(exit_status_of(pid) == 3);
}

TEST_CASE("process start: a program that cannot run is an error, and no child is left") {
  Argv argv({"nothing"});
  pid_t pid = 0;
  CHECK(start_process(request("/nonexistent/program", argv), ChildStack(), pid) == ENOENT);
  CHECK(pid == -1);  // and reaped
}

TEST_CASE("process start: descriptors as dup2s, and one kept open across exec") {
  Argv echo({"sh", "-c", "echo out; echo kept >&7"});
  int kept[2];
  REQUIRE(pipe2(kept, O_CLOEXEC) == 0);
  REQUIRE(dup3(kept[1], 7, O_CLOEXEC) == 7);
  close(kept[1]);
  ProcessStart start = request("/bin/sh", echo);
  start.dups.add(7, 7);
  CHECK(output_of(start) == "out\n");
  close(7);
  char buffer[16] = {};
  CHECK(read(kept[0], buffer, sizeof(buffer)) == 5);
  CHECK(std::string(buffer) == "kept\n");
  close(kept[0]);
}

TEST_CASE("process start: a group of its own, the mask and the dispositions asked for") {
  Argv cat({"cat", "/proc/self/status"});
  ProcessStart start = request("/bin/cat", cat);
  start.own_group = true;
  sigaddset(&start.mask, SIGUSR2);  // bit 12
  // An ignored signal stays ignored in the child unless it is set back.
  struct sigaction ignore = {};
  struct sigaction before = {};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGPIPE, &ignore, &before) == 0);  // bit 13
  CHECK(status_line(start, "SigBlk") == "SigBlk:\t0000000000000800");
  CHECK((std::stoull(status_line(start, "SigIgn").substr(8), nullptr, 16) & 0x1000) != 0);
  sigaddset(&start.defaults, SIGPIPE);
  CHECK((std::stoull(status_line(start, "SigIgn").substr(8), nullptr, 16) & 0x1000) == 0);
  sigaction(SIGPIPE, &before, nullptr);

  Argv sleep_argv({"sleep", "10"});
  ProcessStart sleeper = request("/bin/sleep", sleep_argv);
  sleeper.own_group = true;
  pid_t pid = -1;
  REQUIRE(start_process(sleeper, ChildStack(), pid) == 0);
  CHECK(getpgid(pid) == pid);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST_CASE("process start: the child marks its group in the guardian's table before its exec") {
  if (testing::kThreadSanitizer)
    return;  // glibc's posix_spawn starts the child: no code of ours in it
  std::vector<uint64_t> table(kGuardTableWords);
  const auto marked = [&](pid_t group) {
    const auto bit = static_cast<size_t>(group);
    return (table[bit / 64] >> (bit % 64) & 1) != 0;
  };
  Argv sleep_argv({"sleep", "10"});
  ProcessStart sleeper = request("/bin/sleep", sleep_argv);
  sleeper.own_group = true;
  sleeper.group_table = table.data();
  pid_t pid = -1;
  REQUIRE(start_process(sleeper, ChildStack(), pid) == 0);
  // This thread has not touched the table: the child did, before its exec (after it, it has a
  // memory of its own).
  CHECK(marked(pid));
  CHECK(std::count_if(table.begin(), table.end(), [](uint64_t w) { return w != 0; }) == 1);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  // A start that fails leaves no mark: the group is gone.
  std::fill(table.begin(), table.end(), 0);
  Argv nothing({"nothing"});
  ProcessStart failing = request("/nonexistent/program", nothing);
  failing.own_group = true;
  failing.group_table = table.data();
  CHECK(start_process(failing, ChildStack(), pid) == ENOENT);
  CHECK(std::all_of(table.begin(), table.end(), [](uint64_t w) { return w == 0; }));
}

TEST_CASE("process start: the signals to set back are those handled here, and those asked") {
  struct sigaction handler = {};
  struct sigaction before = {};
  struct sigaction informed = {};
  struct sigaction informed_before = {};
  handler.sa_handler = [](int) {};
  informed.sa_sigaction = [](int, siginfo_t*, void*) {};
  informed.sa_flags = SA_SIGINFO;
  const int real_time = SIGRTMIN + 3;
  REQUIRE(sigaction(SIGUSR1, &handler, &before) == 0);
  REQUIRE(sigaction(real_time, &informed, &informed_before) == 0);
  sigset_t asked;
  sigemptyset(&asked);
  sigaddset(&asked, SIGXFSZ);
  const sigset_t reset = signals_to_reset(asked);
  CHECK(sigismember(&reset, SIGUSR1) == 1);
  CHECK(sigismember(&reset, real_time) == 1);
  CHECK(sigismember(&reset, SIGXFSZ) == 1);
  CHECK(sigismember(&reset, SIGWINCH) == 0);
  CHECK(sigismember(&reset, SIGUSR2) == 0);
  sigaction(real_time, &informed_before, nullptr);
  sigaction(SIGUSR1, &before, nullptr);
}

}  // namespace
}  // namespace taskpool
