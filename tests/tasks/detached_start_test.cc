#include "tasks/detached_start.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

namespace taskpool {
namespace {

// Starts `request` and returns the child's exit status (-1: it could not be started).
int run_to_end(DetachedStart& start) {
  const pid_t pid = start.start();
  if (pid < 0) return -1;
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::string read_all(int fd) {
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  return text;
}

TEST_CASE("detached start: the programs are tried in turn, with the arguments given") {
  DetachedStart::Request request;
  request.programs = {"/nonexistent/taskpool-test", "/bin/sh"};
  request.argv = {"sh", "-c", "exit $(($1 + 4))", "sh", "3"};
  DetachedStart start(request);
  CHECK(run_to_end(start) == 7);
  CHECK(start.failure() == 0);
}

TEST_CASE("detached start: when no program runs, the child says why and exits with 127") {
  DetachedStart::Request request;
  request.programs = {"/nonexistent/taskpool-test-a", "/nonexistent/taskpool-test-b"};
  request.argv = {"a"};
  DetachedStart start(request);
  const int status = run_to_end(start);
  // 127 from the child, or -1 where start() waits for the exec (under ThreadSanitizer).
  CHECK((status == 127 || status == -1));
  CHECK(start.failure() == ENOENT);
}

TEST_CASE(
    "detached start: kept descriptors, a group of its own, every signal blocked, no "
    "environment") {
  int kept[2];
  int other[2];
  REQUIRE(pipe2(kept, O_CLOEXEC) == 0);
  REQUIRE(pipe2(other, O_CLOEXEC) == 0);
  const std::string out = std::to_string(kept[1]);
  const std::string closed = std::to_string(other[1]);
  DetachedStart::Request request;
  request.programs = {"/bin/sh"};
  request.argv = {"sh", "-c",
                  "exec >&" + out +
                      "; read -r _ _ _ _ group _ < /proc/$$/stat; "
                      "test \"$group\" = $$ && echo own-group; "
                      "test -e /proc/$$/fd/" +
                      closed +
                      " || echo closed; "
                      "test -z \"$HOME\" && echo no-environment; "
                      "while read -r name mask; do "
                      "  test \"$name\" = SigBlk: && echo \"$mask\"; done < /proc/$$/status"};
  request.keep_open = {kept[1]};
  request.own_group = true;
  DetachedStart start(request);
  const pid_t pid = start.start();
  REQUIRE(pid > 0);
  CHECK(getpgid(pid) == pid);  // already, whether or not the child has run yet
  close(kept[1]);
  close(other[1]);
  close(other[0]);
  const std::string said = read_all(kept[0]);
  close(kept[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  const std::string expected = "own-group\nclosed\nno-environment\n";
  REQUIRE(said.substr(0, expected.size()) == expected);
  const unsigned long long blocked = std::stoull(said.substr(expected.size()), nullptr, 16);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGTSTP}) {
    CHECK((blocked >> (sig - 1) & 1) == 1);
  }
}

}  // namespace
}  // namespace taskpool
