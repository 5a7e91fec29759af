// The host executor with a stand-in for ssh: a script that, as a control master, makes its
// socket's path and waits, and as a client runs the remote command here.
#include "tasks/host_executor.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tasks/sshlogin.h"
#include "tests/tasks/executor_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kFakeSsh = R"(#!/bin/sh
master=0; socket=
while [ $# -gt 1 ]; do
  case "$1" in -M) master=1 ;; -S) shift; socket=$1 ;; esac
  shift
done
if [ "$master" = 1 ]; then : > "$socket"; exec sleep 600; fi
exec /bin/sh -c "$1"
)";

struct FakeSsh {
  FakeSsh() {
    std::string pattern = (fs::temp_directory_path() / "taskpool-host-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    path = dir + "/ssh";
    std::ofstream(path) << kFakeSsh;
    REQUIRE(chmod(path.c_str(), 0755) == 0);
  }
  ~FakeSsh() { fs::remove_all(dir); }
  FakeSsh(const FakeSsh&) = delete;
  FakeSsh& operator=(const FakeSsh&) = delete;
  std::string dir;
  std::string path;
};

std::vector<Completion> wait_for(HostExecutor& executor, size_t count) {
  std::vector<Completion> done;
  const TimePoint deadline = std::chrono::steady_clock::now() + 30s;
  while (done.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (Completion& c : executor.wait(deadline).completions) done.push_back(std::move(c));
  }
  REQUIRE(done.size() == count);
  return done;
}

Attempt host_attempt(const std::string& line) {
  Attempt attempt;
  attempt.worker = 1;
  attempt.command.line = line;
  return attempt;
}

TEST_CASE("host executor: a pipe that cannot be made fails that attempt only") {
  testing::SignalSetup signals;
  FakeSsh ssh;
  HostExecutorOptions options;
  options.hosts = parse_sshlogins("-S", "somehost");
  options.worker_host = {0};
  options.ssh = {ssh.path};
  HostExecutor executor(options, signals.original());
  // Through the fake connection, once it is up.
  executor.start(host_attempt("exit 3"));
  const auto first = wait_for(executor, 1);
  CHECK(first[0].started);
  CHECK(first[0].exit_status == 3);

  // One descriptor left: not enough for the ssh client's control pipe.
  testing::with_descriptors_left(1, [&] { executor.start(host_attempt("exit 0")); });
  const auto failed = wait_for(executor, 1);
  CHECK_FALSE(failed[0].started);
  CHECK(failed[0].short_of_resources);
  CHECK(failed[0].exit_status == 126);
  CHECK(failed[0].error.find("cannot create a pipe: Too many open files") != std::string::npos);

  executor.start(host_attempt("exit 0"));
  CHECK(wait_for(executor, 1)[0].succeeded());
}

}  // namespace
}  // namespace taskpool
