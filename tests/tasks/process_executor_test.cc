#include "tasks/process_executor.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tasks/adopted.h"
#include "tasks/feed_pipe.h"
#include "tests/core/helpers.h"
#include "tests/tasks/executor_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TimePoint now() { return std::chrono::steady_clock::now(); }

using testing::ScopedSignalMask;
using testing::SignalSetup;

// Ends the test program if a test hangs, instead of hanging the whole run.
class Watchdog {
 public:
  explicit Watchdog(unsigned seconds) { alarm(seconds); }
  ~Watchdog() { alarm(0); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "taskpool-exec-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }

  std::string file(const std::string& name, const std::string& content, mode_t mode) const {
    const fs::path file = path_ / name;
    {
      std::ofstream out(file);
      out << content;
      REQUIRE(out.good());
    }
    REQUIRE(chmod(file.c_str(), mode) == 0);
    return file.string();
  }

 private:
  fs::path path_;
};

Attempt shell_attempt(WorkerId worker, std::string line) {
  Attempt attempt;
  attempt.worker = worker;
  attempt.command.line = std::move(line);
  return attempt;
}

// The words need no quoting in these tests, so joining them gives the matching line.
Attempt direct_attempt(WorkerId worker, std::vector<std::string> argv) {
  Attempt attempt;
  attempt.worker = worker;
  for (const std::string& word : argv) {
    if (!attempt.command.line.empty()) attempt.command.line += ' ';
    attempt.command.line += word;
  }
  attempt.command.argv = std::move(argv);
  return attempt;
}

// Waits for `count` completions; fails the test when they take longer than `limit`.
std::vector<Completion> collect(ProcessExecutor& executor, size_t count, Duration limit = 30s) {
  std::vector<Completion> all;
  const TimePoint deadline = now() + limit;
  while (all.size() < count && now() < deadline) {
    for (Completion& completion : executor.wait(deadline).completions) {
      all.push_back(std::move(completion));
    }
  }
  REQUIRE(all.size() == count);
  return all;
}

Completion run(ProcessExecutor& executor, const Attempt& attempt) {
  executor.start(attempt);
  return std::move(collect(executor, 1).front());
}

// What a captured stream holds (none is made for a stream that got nothing).
std::string text(const std::unique_ptr<OutputBuffer>& buffer) {
  if (buffer == nullptr) return "";
  std::string result;
  buffer->for_each_chunk([&](std::string_view chunk) { result.append(chunk); });
  return result;
}

// Polls `condition` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition, Duration limit = 30s) {
  const TimePoint deadline = now() + limit;
  while (!condition()) {
    if (now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct ProcessState {
  char state = '?';
  pid_t pgrp = 0;
};

// From /proc/<pid>/stat; nullopt when there is no such process.
std::optional<ProcessState> process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, the last ')' ends it.
  std::istringstream fields(line.substr(line.rfind(')') + 1));
  ProcessState result;
  pid_t ppid = 0;
  fields >> result.state >> ppid >> result.pgrp;
  return result;
}

// A child of this process, not started by an executor, that has exited with `status` and is
// not reaped yet (a zombie).
pid_t ended_child(int status) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(status);
  REQUIRE(eventually([&] {
    const auto state = process_state(pid);
    return state && state->state == 'Z';
  }));
  return pid;
}

// Alive and still in process group `pgrp` (a reused pid is another process).
bool alive_in_group(pid_t pid, pid_t pgrp) {
  const auto state = process_state(pid);
  return state && state->state != 'Z' && state->state != 'X' && state->pgrp == pgrp;
}

size_t open_fd_count() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

std::set<int> fds_of(const std::string& proc_dir) {
  std::set<int> fds;
  for (const auto& entry : fs::directory_iterator(proc_dir + "/fd")) {
    fds.insert(std::stoi(entry.path().filename().string()));
  }
  return fds;
}

// The descriptors of this process that a child inherits unless they are close-on-exec.
std::set<int> inheritable_fds() {
  std::set<int> result;
  for (int fd : fds_of("/proc/self")) {
    const int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) result.insert(fd);
  }
  return result;
}

// Collects what on_output receives.
struct LineLog {
  std::vector<std::tuple<WorkerId, Stream, std::string>> calls;

  ProcessExecutorOptions options() {
    ProcessExecutorOptions options;
    options.output = OutputMode::kLines;
    options.on_output = [this](WorkerId worker, Stream stream, std::string_view data) {
      calls.emplace_back(worker, stream, std::string(data));
    };
    return options;
  }
  std::vector<std::string> pieces(WorkerId worker, Stream stream) const {
    std::vector<std::string> result;
    for (const auto& [w, s, data] : calls) {
      if (w == worker && s == stream) result.push_back(data);
    }
    return result;
  }
  std::string joined(WorkerId worker, Stream stream) const {
    std::string result;
    for (const std::string& piece : pieces(worker, stream)) result += piece;
    return result;
  }
};

// Lets wait() run until `worker` has printed a whole first line on stdout, and returns it.
std::string first_line(ProcessExecutor& executor, const LineLog& log, WorkerId worker) {
  const TimePoint deadline = now() + 30s;
  while (log.pieces(worker, Stream::kStdout).empty() && now() < deadline) {
    REQUIRE(executor.wait(now() + 100ms).completions.empty());
  }
  const auto pieces = log.pieces(worker, Stream::kStdout);
  REQUIRE(!pieces.empty());
  return pieces.front().substr(0, pieces.front().find('\n'));
}

std::vector<pid_t> pids_in(const std::string& line) {
  std::istringstream in(line);
  std::vector<pid_t> pids;
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

uint64_t signal_bit(int sig) { return uint64_t{1} << (sig - 1); }

TEST_CASE("process executor: direct exec captures stdout and stderr apart, and the exit status") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  Attempt attempt = direct_attempt(4, {"sh", "-c", "echo out; echo err >&2; exit 7"});
  attempt.command.line = "echo the line is not what runs";
  const TimePoint before = now();
  const Completion c = run(executor, attempt);
  CHECK(c.worker == 4);
  CHECK(c.started);
  CHECK(c.error.empty());
  CHECK(c.exit_status == 7);
  CHECK(c.signal == 0);
  CHECK_FALSE(c.succeeded());
  CHECK(text(c.detail.stdout_data) == "out\n");
  CHECK(text(c.detail.stderr_data) == "err\n");
  CHECK(c.detail.stdout_bytes == 4);
  CHECK(c.detail.stderr_bytes == 4);
  CHECK(c.start >= before);
  CHECK(c.end >= c.start);
  CHECK(c.end <= now());
  CHECK(executor.running() == 0);
}

TEST_CASE("process executor: direct exec passes the words as they are, with no shell") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {"echo", "$HOME", "a  b", "*"}));
  CHECK(c.succeeded());
  CHECK(text(c.detail.stdout_data) == "$HOME a  b *\n");
}

TEST_CASE("process executor: a line without argv runs through the shell") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, shell_attempt(2, "echo hi | tr a-z A-Z"));
  CHECK(c.succeeded());
  CHECK(c.worker == 2);
  CHECK(text(c.detail.stdout_data) == "HI\n");
  CHECK(text(c.detail.stderr_data).empty());
}

TEST_CASE("process executor: exit status") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion shell = run(executor, shell_attempt(1, "exit 42"));
  CHECK(shell.started);
  CHECK(shell.exit_status == 42);
  CHECK(shell.signal == 0);
  const Completion direct = run(executor, direct_attempt(1, {"false"}));
  CHECK(direct.exit_status == 1);
  CHECK(run(executor, direct_attempt(1, {"true"})).succeeded());
}

TEST_CASE("process executor: killed by a signal") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, shell_attempt(1, "kill -9 $$"));
  CHECK(c.started);
  CHECK(c.signal == 9);
  CHECK(c.exit_status == 0);
  CHECK_FALSE(c.succeeded());
}

TEST_CASE("process executor: a program not on PATH is not started") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  executor.start(direct_attempt(3, {"taskpool-test-no-such-program", "x"}));
  CHECK(executor.running() == 0);
  const auto completions =
      executor.wait(now()).completions;  // reported at once, not after a deadline
  REQUIRE(completions.size() == 1);
  const Completion& c = completions.front();
  CHECK(c.worker == 3);
  CHECK_FALSE(c.started);
  CHECK(c.exit_status == 127);
  CHECK(c.error == "taskpool-test-no-such-program: command not found");
  CHECK(c.detail.stdout_data == nullptr);
  CHECK(c.end >= c.start);
}

TEST_CASE("process executor: a NUL byte in the command is refused, not cut short") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const std::string with_nul("a\0b", 3);
  for (const Attempt& attempt :
       {direct_attempt(1, {"echo", with_nul}), shell_attempt(1, "echo " + with_nul)}) {
    const Completion c = run(executor, attempt);
    CHECK_FALSE(c.started);
    CHECK(c.exit_status == 126);
    CHECK(c.error.find("NUL byte") != std::string::npos);
    CHECK(c.detail.stdout_data == nullptr);
  }
}

TEST_CASE("process executor: a path that does not exist") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {"/nonexistent-taskpool-dir/prog"}));
  CHECK_FALSE(c.started);
  CHECK(c.exit_status == 127);
  CHECK(c.error == "/nonexistent-taskpool-dir/prog: No such file or directory");
}

TEST_CASE("process executor: a file without execute permission") {
  SignalSetup signals;
  TempDir tmp;
  const std::string path = tmp.file("not-executable", "echo should not run\n", 0644);
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {path}));
  CHECK_FALSE(c.started);
  CHECK(c.exit_status == 126);
  CHECK(c.error == path + ": Permission denied");
}

TEST_CASE("process executor: a script without #! runs through the shell") {
  SignalSetup signals;
  TempDir tmp;
  const std::string path = tmp.file("script", "echo \"script ran with $1\"\n", 0755);
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {path, "arg1"}));
  CHECK(c.started);
  CHECK(c.succeeded());
  CHECK(text(c.detail.stdout_data) == "script ran with arg1\n");
  CHECK(text(c.detail.stderr_data).empty());
}

TEST_CASE("process executor: many children at once, each completion on its worker") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  constexpr int kChildren = 50;
  for (WorkerId worker = 1; worker <= kChildren; ++worker) {
    executor.start(direct_attempt(worker, {"echo", "output of " + std::to_string(worker)}));
  }
  CHECK(executor.running() == kChildren);
  std::set<WorkerId> seen;
  for (const Completion& c : collect(executor, kChildren, 60s)) {
    CHECK(c.succeeded());
    CHECK(text(c.detail.stdout_data) == "output of " + std::to_string(c.worker) + "\n");
    seen.insert(c.worker);
  }
  CHECK(seen.size() == kChildren);
  CHECK(executor.running() == 0);
}

// What a job's stdout and stderr are, as /proc shows them ("pipe:[inode]").
std::pair<std::string, std::string> output_pipes(ProcessExecutor& executor, WorkerId worker) {
  const Completion c = run(executor, shell_attempt(worker, "readlink /proc/$$/fd/1 /proc/$$/fd/2"));
  REQUIRE(c.succeeded());
  std::istringstream links(text(c.detail.stdout_data));
  std::pair<std::string, std::string> pipes;
  links >> pipes.first >> pipes.second;
  CHECK(pipes.first.rfind("pipe:", 0) == 0);
  CHECK(pipes.second.rfind("pipe:", 0) == 0);
  CHECK(pipes.first != pipes.second);
  return pipes;
}

TEST_CASE("process executor: workers keep their pipes from job to job, up to kept_pipes") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.kept_pipes = 2;
  {
    ProcessExecutor executor(options, signals.original());
    const auto first = output_pipes(executor, 1);
    CHECK(output_pipes(executor, 1) == first);
    const auto other = output_pipes(executor, 2);
    CHECK(other.first != first.first);
    CHECK(output_pipes(executor, 2) == other);
    // Worker 3 is above the count: a job's pipes are its own.
    CHECK(output_pipes(executor, 3) != output_pipes(executor, 3));
  }
  options.kept_pipes = 2;
  options.keep_background = true;  // a kept daemon would write into later jobs' output
  ProcessExecutor executor(options, signals.original());
  CHECK(output_pipes(executor, 1) != output_pipes(executor, 1));
}

TEST_CASE("process executor: each of a worker's jobs gets its own output, pipes kept or not") {
  SignalSetup signals;
  for (const int kept : {0, 1}) {
    INFO("kept_pipes " << kept);
    ProcessExecutorOptions options;
    options.kept_pipes = kept;
    ProcessExecutor executor(options, signals.original());
    // More than a pipe holds, so that the job waits for taskpool to read; then small ones, and
    // one with no output at all.
    const Completion big =
        run(executor, shell_attempt(1, "head -c 300000 /dev/zero | tr '\\0' x; echo e >&2"));
    CHECK(big.succeeded());
    CHECK(text(big.detail.stdout_data) == std::string(300000, 'x'));
    CHECK(text(big.detail.stderr_data) == "e\n");
    for (int i = 0; i < 5; ++i) {
      const std::string n = std::to_string(i);
      const Completion c =
          run(executor, shell_attempt(1, "echo out" + n + "; echo err" + n + " >&2"));
      CHECK(text(c.detail.stdout_data) == "out" + n + "\n");
      CHECK(text(c.detail.stderr_data) == "err" + n + "\n");
    }
    const Completion quiet = run(executor, direct_attempt(1, {"true"}));
    CHECK(quiet.detail.stdout_data == nullptr);
    CHECK(quiet.detail.stderr_data == nullptr);
  }
}

TEST_CASE("process executor: a job that reopens its output (>/dev/stdout) loses none of it") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  // With a file for output (as GNU parallel has), the reopening truncates it: a and x are lost.
  const Completion c = run(executor, shell_attempt(1,
                                                   "echo a; echo b >/dev/stdout; echo c; "
                                                   "echo x >&2; echo y >/dev/stderr; echo z >&2"));
  CHECK(text(c.detail.stdout_data) == "a\nb\nc\n");
  CHECK(text(c.detail.stderr_data) == "x\ny\nz\n");
}

TEST_CASE("process executor: a job's background process, ended with it, writes nothing later") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.kept_pipes = 1;
  ProcessExecutor executor(options, signals.original());
  const Completion first = run(executor, shell_attempt(1, "(sleep 0.3; echo late) & echo early"));
  CHECK(text(first.detail.stdout_data) == "early\n");
  const Completion second = run(executor, shell_attempt(1, "sleep 1; echo second"));
  CHECK(text(second.detail.stdout_data) == "second\n");
}

TEST_CASE("process executor: a child left alone is left for its owner, and jobs still end") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  // Another part of the process has a child that has ended and is not reaped yet: the kernel
  // names it first when asked which children have ended.
  const pid_t foreign = ended_child(7);
  executor.leave_alone(foreign);
  for (WorkerId worker = 1; worker <= 3; ++worker) {
    executor.start(direct_attempt(worker, {"sh", "-c", "exit " + std::to_string(worker)}));
  }
  std::set<int> statuses;
  for (const Completion& c : collect(executor, 3, 60s)) statuses.insert(c.exit_status);
  CHECK(statuses == std::set<int>{1, 2, 3});
  CHECK(executor.running() == 0);
  int status = 0;
  REQUIRE(waitpid(foreign, &status, WNOHANG) == foreign);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
}

TEST_CASE("process executor: a child that is not a job is reaped when it ends: no zombie") {
  // It is reaped when SIGCHLD interrupts the executor's wait; ThreadSanitizer's runtime defers
  // the signal past that wait, and the job's end is seen through its pipes alone.
  if (testing::kThreadSanitizer) return;
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  // A process adopted as child subreaper (a job's escaped background process) that ends.
  const pid_t adopted = ended_child(0);
  CHECK(run(executor, direct_attempt(1, {"true"})).succeeded());
  CHECK(eventually([&] { return !process_state(adopted); }));
  int status = 0;
  errno = 0;
  CHECK(waitpid(adopted, &status, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("process executor: output past the memory limit spills to a file, byte for byte") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.memory_limit = 4096;
  ProcessExecutor executor(options, signals.original());
  const Completion c = run(executor, direct_attempt(1, {"seq", "1", "100000"}));
  std::string expected;
  for (int i = 1; i <= 100000; ++i) expected += std::to_string(i) + "\n";
  CHECK(c.succeeded());
  REQUIRE(c.detail.stdout_data != nullptr);
  CHECK(c.detail.stdout_data->spilled());
  CHECK(c.detail.stdout_data->size() == expected.size());
  CHECK(c.detail.stdout_bytes == expected.size());
  CHECK(text(c.detail.stdout_data) == expected);
  CHECK(c.detail.stderr_data == nullptr);  // nothing written there: no buffer made
  CHECK(c.detail.stderr_bytes == 0);
}

TEST_CASE("process executor: kDiscard keeps no output") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.output = OutputMode::kDiscard;
  ProcessExecutor executor(options, signals.original());
  const Completion c = run(executor, shell_attempt(1, "echo out; echo err >&2; exit 3"));
  CHECK(c.started);
  CHECK(c.exit_status == 3);
  CHECK(c.detail.stdout_data == nullptr);
  CHECK(c.detail.stderr_data == nullptr);
  CHECK(c.detail.stdout_bytes == 0);
  CHECK(c.detail.stderr_bytes == 0);
}

TEST_CASE("process executor: kLines passes whole lines in order, and the unterminated rest") {
  SignalSetup signals;
  LineLog log;
  ProcessExecutor executor(log.options(), signals.original());
  const Completion c =
      run(executor, shell_attempt(3,
                                  "printf 'one\\ntwo\\n'; printf 'e1\\ne' >&2; printf 'thr'; "
                                  "sleep 0.1; printf 'ee\\nfour'; printf '2' >&2"));
  CHECK(c.succeeded());
  CHECK(c.detail.stdout_data == nullptr);
  CHECK(c.detail.stderr_data == nullptr);
  CHECK(c.detail.stdout_bytes == 18);
  CHECK(c.detail.stderr_bytes == 5);

  CHECK(log.joined(3, Stream::kStdout) == "one\ntwo\nthree\nfour");
  CHECK(log.joined(3, Stream::kStderr) == "e1\ne2");
  const auto out = log.pieces(3, Stream::kStdout);
  const auto err = log.pieces(3, Stream::kStderr);
  REQUIRE(out.size() >= 2);
  REQUIRE(err.size() >= 2);
  for (size_t i = 0; i + 1 < out.size(); ++i) CHECK(out[i].back() == '\n');
  for (size_t i = 0; i + 1 < err.size(); ++i) CHECK(err[i].back() == '\n');
  CHECK(out.back() == "four");
  CHECK(err.back() == "e2");
  for (const auto& [worker, stream, data] : log.calls) CHECK(worker == 3);
}

TEST_CASE("process executor: cancel ends the attempt on that worker, and only that one") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  executor.start(direct_attempt(1, {"sleep", "100"}));
  executor.start(direct_attempt(2, {"sleep", "100"}));
  executor.cancel(3, CancelMode::kKill);  // no attempt there: nothing happens
  CHECK(executor.wait(now() + 50ms).completions.empty());
  CHECK(executor.running() == 2);

  executor.cancel(1, CancelMode::kTerminate);
  auto first = collect(executor, 1);
  CHECK(first.front().worker == 1);
  CHECK(first.front().started);
  CHECK(first.front().signal == SIGTERM);
  CHECK(first.front().exit_status == 0);
  CHECK(executor.running() == 1);

  executor.cancel(2, CancelMode::kKill);
  auto second = collect(executor, 1);
  CHECK(second.front().worker == 2);
  CHECK(second.front().signal == SIGKILL);
  CHECK(executor.running() == 0);
}

TEST_CASE("process executor: cancel reaches the children of the command too") {
  SignalSetup signals;
  LineLog log;
  ProcessExecutor executor(log.options(), signals.original());
  executor.start(shell_attempt(1, "sleep 100 & echo $! $$; wait"));
  const auto pids = pids_in(first_line(executor, log, 1));
  REQUIRE(pids.size() == 2);
  const pid_t grandchild = pids[0];
  const pid_t group = pids[1];
  REQUIRE(grandchild > 1);
  REQUIRE(group > 1);
  CHECK(group != getpgrp());
  CHECK(alive_in_group(grandchild, group));

  executor.cancel(1, CancelMode::kTerminate);
  const auto completions = collect(executor, 1);
  CHECK(completions.front().signal == SIGTERM);
  CHECK(eventually([&] { return !alive_in_group(grandchild, group); }));
  if (alive_in_group(grandchild, group)) kill(-group, SIGKILL);
}

TEST_CASE("process executor: a child of the command holding stdout open does not hold the end") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.keep_background = true;
  ProcessExecutor executor(options, signals.original());
  const TimePoint before = now();
  const Completion c = run(executor, shell_attempt(1, "sleep 30 & echo done $! $$"));
  const Duration took = now() - before;
  CHECK(c.succeeded());
  const std::string out = text(c.detail.stdout_data);
  CHECK(out.rfind("done ", 0) == 0);
  CHECK(took < 10s);
  const auto pids = pids_in(out.substr(5));
  REQUIRE(pids.size() == 2);
  REQUIRE(pids[1] > 1);
  CHECK(alive_in_group(pids[0], pids[1]));  // kept: it lives on after the job
  kill(-pids[1], SIGKILL);
}

TEST_CASE("process executor: a job's background processes end with the job") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  // One of them ignores SIGTERM: the end of the job's group is a SIGKILL.
  const Completion c = run(executor, shell_attempt(1,
                                                   "sleep 100 & (trap '' TERM; exec sleep 101) "
                                                   "& echo $$; echo $! >&2"));
  CHECK(c.succeeded());
  const auto group = pids_in(text(c.detail.stdout_data));
  const auto deaf = pids_in(text(c.detail.stderr_data));
  REQUIRE(group.size() == 1);
  REQUIRE(deaf.size() == 1);
  REQUIRE(group[0] > 1);
  CHECK(eventually([&] { return kill(-group[0], 0) == -1 && errno == ESRCH; }, 10s));
  CHECK_FALSE(alive_in_group(deaf[0], group[0]));
  if (kill(-group[0], 0) == 0) kill(-group[0], SIGKILL);
}

// Makes the test program a child subreaper for one test, as taskpool is.
class ScopedSubreaper {
 public:
  ScopedSubreaper() { REQUIRE(become_child_subreaper()); }
  ~ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); }
  ScopedSubreaper(const ScopedSubreaper&) = delete;
  ScopedSubreaper& operator=(const ScopedSubreaper&) = delete;
};

TEST_CASE("process executor: a process that escaped its job's group ends when the executor goes") {
  SignalSetup signals;
  ScopedSubreaper subreaper;
  TempDir tmp;
  ProcessExecutorOptions options;
  options.kill_after = 300ms;
  pid_t escaped = 0;
  pid_t deaf = 0;
  {
    ProcessExecutor executor(options, signals.original());
    // Two processes in sessions of their own (one deaf to SIGTERM), whose parent, the job,
    // ends once they have left its group: they come back to this process, the subreaper.
    const std::string a = tmp.path() + "/a";
    const std::string b = tmp.path() + "/b";
    const Completion c = run(
        executor,
        shell_attempt(1, "setsid sh -c 'touch " + a +
                             "; exec sleep 100' </dev/null >/dev/null "
                             "2>&1 & x=$!; setsid sh -c 'trap \"\" TERM; touch " +
                             b + "; sleep 101' </dev/null >/dev/null 2>&1 & y=$!; while [ ! -e " +
                             a + " ] || [ ! -e " + b + " ]; do sleep 0.01; done; echo $x $y"));
    REQUIRE(c.succeeded());
    const auto pids = pids_in(text(c.detail.stdout_data));
    REQUIRE(pids.size() == 2);
    escaped = pids[0];
    deaf = pids[1];
    // The job's end left them alone: they are in groups of their own.
    CHECK(eventually([&] {
      const std::vector<pid_t> children = child_processes();
      return std::find(children.begin(), children.end(), escaped) != children.end() &&
             std::find(children.begin(), children.end(), deaf) != children.end();
    }));
    CHECK(alive_in_group(escaped, escaped));
  }
  // Ended (SIGTERM, then SIGKILL for the deaf one) and reaped: not even a zombie is left.
  CHECK_FALSE(process_state(escaped));
  CHECK_FALSE(process_state(deaf));
  if (process_state(escaped)) kill(escaped, SIGKILL);
  if (process_state(deaf)) kill(deaf, SIGKILL);
}

TEST_CASE("process executor: kept background processes are not ended when the executor goes") {
  SignalSetup signals;
  ScopedSubreaper subreaper;
  ProcessExecutorOptions options;
  options.keep_background = true;
  pid_t escaped = 0;
  {
    ProcessExecutor executor(options, signals.original());
    const Completion c =
        run(executor, shell_attempt(1, "setsid sleep 100 </dev/null >/dev/null 2>&1 & echo $!"));
    REQUIRE(c.succeeded());
    const auto pids = pids_in(text(c.detail.stdout_data));
    REQUIRE(pids.size() == 1);
    escaped = pids[0];
  }
  const auto state = process_state(escaped);
  CHECK((state && state->state != 'Z'));
  kill(escaped, SIGKILL);
  int status = 0;
  waitpid(escaped, &status, 0);
}

TEST_CASE("process executor: wake() makes wait(kNever) return") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  executor.start(direct_attempt(1, {"sleep", "100"}));
  {
    Watchdog watchdog(120);
    executor.wake();  // before wait(): the next one returns
    CHECK(executor.wait(kNever).completions.empty());

    std::thread waker([&] {
      std::this_thread::sleep_for(100ms);
      executor.wake();
    });
    CHECK(executor.wait(kNever).completions.empty());
    waker.join();
  }
  CHECK(executor.running() == 1);
  executor.cancel(1, CancelMode::kKill);
  CHECK(collect(executor, 1).front().signal == SIGKILL);
}

TEST_CASE("process executor: wait honours its deadline") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  executor.start(direct_attempt(1, {"sleep", "100"}));

  TimePoint before = now();
  CHECK(executor.wait(before - 1s).completions.empty());
  CHECK(now() - before < 5s);

  before = now();
  CHECK(executor.wait(before + 200ms).completions.empty());
  CHECK(now() - before >= 200ms);
  CHECK(now() - before < 10s);

  executor.cancel(1, CancelMode::kKill);
  CHECK(collect(executor, 1).size() == 1);
}

// Makes this program's stdin a pipe that never ends, for one test, so a child that inherited it
// would block reading.
class EndlessStdin {
 public:
  EndlessStdin() {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    read_end_ = fds[0];
    write_end_ = fds[1];
    saved_ = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);  // -1 when stdin was closed
    REQUIRE(dup2(read_end_, STDIN_FILENO) == STDIN_FILENO);
  }
  ~EndlessStdin() {
    if (saved_ >= 0) {
      dup2(saved_, STDIN_FILENO);
      close(saved_);
    } else {
      close(STDIN_FILENO);
    }
    close(read_end_);
    close(write_end_);
  }
  EndlessStdin(const EndlessStdin&) = delete;
  EndlessStdin& operator=(const EndlessStdin&) = delete;

 private:
  int read_end_ = -1;
  int write_end_ = -1;
  int saved_ = -1;
};

TEST_CASE("process executor: stdin is /dev/null") {
  SignalSetup signals;
  EndlessStdin stdin_pipe;
  ProcessExecutor executor({}, signals.original());
  executor.start(direct_attempt(1, {"cat"}));
  const auto cat = collect(executor, 1, 20s);
  CHECK(cat.front().succeeded());
  CHECK(cat.front().detail.stdout_bytes == 0);
  const Completion link = run(executor, direct_attempt(1, {"readlink", "/proc/self/fd/0"}));
  CHECK(text(link.detail.stdout_data) == "/dev/null\n");
}

TEST_CASE("process executor: a child gets its own process group") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {"cat", "/proc/self/stat"}));
  const std::string stat = text(c.detail.stdout_data);
  const pid_t pid = std::stoi(stat);
  std::istringstream fields(stat.substr(stat.rfind(')') + 1));
  char state = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  fields >> state >> ppid >> pgrp;
  CHECK(ppid == getpid());
  CHECK(pgrp == pid);
  CHECK(pgrp != getpgrp());
}

TEST_CASE("process executor: a child gets the original signal mask and default dispositions") {
  // SIGUSR2 blocked before: it is part of the original mask, which the child must get.
  ScopedSignalMask usr2(SIG_BLOCK, {SIGUSR2});
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe;
  struct sigaction old_xfsz;
  REQUIRE(sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
  REQUIRE(sigaction(SIGXFSZ, &ignore, &old_xfsz) == 0);
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  const Completion c = run(executor, direct_attempt(1, {"grep", "^Sig", "/proc/self/status"}));
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGXFSZ, &old_xfsz, nullptr);

  std::map<std::string, uint64_t> masks;
  std::istringstream lines(text(c.detail.stdout_data));
  for (std::string name, value; lines >> name >> value;) {
    masks[name] = std::stoull(value, nullptr, 16);
  }
  REQUIRE(masks.count("SigBlk:") == 1);
  REQUIRE(masks.count("SigIgn:") == 1);
  CHECK((masks["SigBlk:"] & signal_bit(SIGUSR2)) != 0);
  CHECK((masks["SigBlk:"] & signal_bit(SIGCHLD)) == 0);
  CHECK((masks["SigIgn:"] & signal_bit(SIGPIPE)) == 0);
  CHECK((masks["SigIgn:"] & signal_bit(SIGXFSZ)) == 0);  // killed past `ulimit -f`, as from a shell
}

TEST_CASE("process executor: a child inherits none of the executor's descriptors") {
  SignalSetup signals;
  LineLog log;
  ProcessExecutor executor(log.options(), signals.original());
  executor.start(direct_attempt(1, {"sleep", "100"}));  // its pipes are open meanwhile
  executor.start(shell_attempt(2, "echo $$; exec sleep 100"));
  const auto pids = pids_in(first_line(executor, log, 2));
  REQUIRE(pids.size() == 1);
  const std::string proc = "/proc/" + std::to_string(pids[0]);

  const std::set<int> allowed = [] {
    std::set<int> fds = inheritable_fds();  // whatever the test program itself was given
    fds.insert({0, 1, 2});
    return fds;
  }();
  for (int fd : fds_of(proc)) {
    INFO("fd " << fd);
    CHECK(allowed.count(fd) == 1);
  }
  CHECK(fs::read_symlink(proc + "/fd/0") == "/dev/null");
  const std::string out = fs::read_symlink(proc + "/fd/1").string();
  const std::string err = fs::read_symlink(proc + "/fd/2").string();
  CHECK(out.rfind("pipe:", 0) == 0);
  CHECK(err.rfind("pipe:", 0) == 0);
  CHECK(out != err);

  executor.cancel(1, CancelMode::kKill);
  executor.cancel(2, CancelMode::kKill);
  CHECK(collect(executor, 2).size() == 2);
}

TEST_CASE("process executor: the destructor kills and reaps what still runs") {
  SignalSetup signals;
  LineLog log;
  pid_t shell = 0;
  pid_t grandchild = 0;
  {
    ProcessExecutor executor(log.options(), signals.original());
    executor.start(shell_attempt(1, "sleep 100 & echo $! $$; wait"));
    const auto pids = pids_in(first_line(executor, log, 1));
    REQUIRE(pids.size() == 2);
    grandchild = pids[0];
    shell = pids[1];
    REQUIRE(shell > 1);
    CHECK(alive_in_group(shell, shell));
  }
  errno = 0;
  CHECK(kill(shell, 0) == -1);  // reaped, not a zombie left behind
  CHECK(errno == ESRCH);
  CHECK(eventually([&] { return !alive_in_group(grandchild, shell); }));
}

TEST_CASE("process executor: running out of descriptors fails that attempt only") {
  SignalSetup signals;
  ProcessExecutor executor({}, signals.original());
  // One descriptor left: not enough for a pipe.
  testing::with_descriptors_left(1, [&] { executor.start(direct_attempt(1, {"echo", "hi"})); });
  const auto failed = collect(executor, 1);
  CHECK_FALSE(failed.front().started);
  CHECK(failed.front().short_of_resources);  // other jobs' ending would give descriptors back
  CHECK(failed.front().own_shortage);        // and only they: this process's own limit
  CHECK(failed.front().exit_status == 126);
  CHECK(failed.front().error.find("echo") != std::string::npos);
  CHECK(failed.front().error.find("Too many open files") != std::string::npos);

  const Completion c = run(executor, direct_attempt(1, {"echo", "hi"}));
  CHECK(c.succeeded());
  CHECK(text(c.detail.stdout_data) == "hi\n");

  // Where other parts of the process hold descriptors too (the job server's connections), the
  // shortage is not the jobs' alone.
  ProcessExecutorOptions shared;
  shared.descriptors_shared = true;
  ProcessExecutor server(shared, signals.original());
  testing::with_descriptors_left(1, [&] { server.start(direct_attempt(1, {"echo", "hi"})); });
  const auto waited = collect(server, 1);
  CHECK(waited.front().short_of_resources);
  CHECK_FALSE(waited.front().own_shortage);
}

TEST_CASE("process executor: a feedback pipe that cannot be made fails that attempt only") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.feedback = true;
  ProcessExecutor executor(options, signals.original());
  // Room for the stdout and stderr pipes, not for the feedback pipe after them.
  testing::with_descriptors_left(5, [&] { executor.start(direct_attempt(1, {"echo", "hi"})); });
  const auto failed = collect(executor, 1);
  CHECK_FALSE(failed.front().started);
  CHECK(failed.front().short_of_resources);
  CHECK(failed.front().error == "echo: cannot create a pipe: Too many open files");
  const Completion c = run(executor, direct_attempt(1, {"echo", "hi"}));
  CHECK(c.succeeded());
}

TEST_CASE("process executor: no descriptor outlives its attempt") {
  SignalSetup signals;
  TempDir tmp;
  const std::string not_executable = tmp.file("not-executable", "true\n", 0644);
  const size_t before = open_fd_count();
  // Workers 1..10 keep their pipes (two more descriptors each, for the whole run), the others
  // make theirs for each job.
  constexpr int kKept = 10;
  ProcessExecutorOptions options;
  options.kept_pipes = kKept;
  {
    ProcessExecutor executor(options, signals.original());
    const size_t idle = open_fd_count();
    constexpr int kJobs = 200;
    constexpr WorkerId kWorkers = 20;
    int started = 0;
    int ended = 0;
    const auto start = [&](WorkerId worker) {
      switch (started++ % 4) {
        case 0:
          executor.start(direct_attempt(worker, {"echo", std::to_string(started)}));
          break;
        case 1:
          executor.start(shell_attempt(worker, "echo err >&2; exit 1"));
          break;
        case 2:
          executor.start(direct_attempt(worker, {"taskpool-test-no-such-program"}));
          break;
        default:
          executor.start(direct_attempt(worker, {not_executable}));
          break;
      }
    };
    for (WorkerId worker = 1; worker <= kWorkers; ++worker) start(worker);
    const TimePoint deadline = now() + 120s;
    while (ended < kJobs && now() < deadline) {
      for (const Completion& c : executor.wait(deadline).completions) {
        ++ended;
        if (started < kJobs) start(c.worker);
      }
    }
    REQUIRE(ended == kJobs);
    CHECK(executor.running() == 0);
    CHECK(open_fd_count() == idle + 4 * kKept);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("process executor: kLines holds a line longer than the memory limit in a file") {
  SignalSetup signals;
  LineLog log;
  ProcessExecutorOptions options = log.options();
  options.memory_limit = 4096;
  ProcessExecutor executor(options, signals.original());
  // 100 000 bytes without a newline, then the newline and a short line, then a short rest.
  const Completion c = run(executor, shell_attempt(2,
                                                   "head -c 100000 /dev/zero | tr '\\0' x; "
                                                   "printf '\\nshort\\nrest'"));
  CHECK(c.succeeded());
  CHECK(c.detail.stdout_bytes == 100011);
  const std::string long_line = std::string(100000, 'x') + "\n";
  CHECK(log.joined(2, Stream::kStdout) == long_line + "short\nrest");
  // The long line comes in pieces, one after the other, and no piece passes the newline early.
  std::string line;
  for (const std::string& piece : log.pieces(2, Stream::kStdout)) {
    if (line.size() < long_line.size()) {
      line += piece;
      CHECK(line.size() <= long_line.size() + 6);
    }
  }
  CHECK(line.starts_with(long_line));
}

TEST_CASE("process executor: output that cannot be kept is an error, and the run can go on") {
  SignalSetup signals;
  TempDir dir;
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old != nullptr ? old : "";
  const std::string missing =
      (fs::path(dir.file("marker", "", 0644)).parent_path() / "missing").string();
  setenv("TMPDIR", missing.c_str(), 1);
  ProcessExecutorOptions options;
  options.memory_limit = 4096;
  std::optional<Completion> c;
  std::string error;
  {
    ProcessExecutor executor(options, signals.original());
    c = run(executor, direct_attempt(1, {"seq", "1", "100000"}));
    error = executor.output_error();
  }
  if (old != nullptr) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  CHECK(c->succeeded());
  CHECK(c->detail.stdout_bytes == 588895);  // counted, though not kept
  CHECK(c->detail.stdout_data->size() <= 4096);
  CHECK(error.find("temporary output file in " + missing) != std::string::npos);
}

// Waits for `count` completions, keeping the records fed meanwhile too.
struct Fed {
  std::vector<Completion> done;
  std::vector<FedRecord> records;
};
Fed collect_fed(ProcessExecutor& executor, size_t count, Duration limit = 30s) {
  Fed fed;
  const TimePoint deadline = now() + limit;
  while (fed.done.size() < count && now() < deadline) {
    WaitResult result = executor.wait(deadline);
    for (Completion& c : result.completions) fed.done.push_back(std::move(c));
    for (FedRecord& r : result.fed) fed.records.push_back(std::move(r));
  }
  REQUIRE(fed.done.size() == count);
  return fed;
}

TEST_CASE("process executor: --feedback passes each line written to fd 3, and the unended last") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.feedback = true;
  ProcessExecutor executor(options, signals.original());
  executor.start(shell_attempt(2, "printf 'a b\\n\\nc' >&3; echo out"));
  const Fed fed = collect_fed(executor, 1);
  CHECK(fed.done[0].succeeded());
  CHECK(text(fed.done[0].detail.stdout_data) == "out\n");
  std::vector<std::pair<WorkerId, std::string>> records;
  for (const FedRecord& r : fed.records) records.emplace_back(r.worker, r.text);
  CHECK(records == std::vector<std::pair<WorkerId, std::string>>{{2, "a b"}, {2, ""}, {2, "c"}});
}

TEST_CASE("process executor: held feed pipes are not read, and their writers are counted") {
  SignalSetup signals;
  Watchdog watchdog(60);
  ProcessExecutorOptions options;
  options.feedback = true;
  ProcessExecutor executor(options, signals.original());
  // Worker 1 writes more than a pipe holds, so it waits in write() until it is read; worker 2
  // sleeps and feeds nothing.
  executor.set_feed({FeedOrder::Mode::kHold, 0});
  executor.start(shell_attempt(1, "yes 0123456789 | head -c 300000 >&3"));
  executor.start(shell_attempt(2, "sleep 1"));
  size_t waiting = 0;
  std::vector<Completion> done;
  const TimePoint deadline = now() + 30s;
  while (done.empty() && now() < deadline) {
    WaitResult result = executor.wait(now() + 50ms);
    CHECK(result.fed.empty());  // held: nothing is read
    waiting = std::max(waiting, result.feeders_waiting);
    for (Completion& c : result.completions) done.push_back(std::move(c));
  }
  REQUIRE(done.size() == 1);
  CHECK(done[0].worker == 2);  // the writer waits on its pipe
  CHECK(waiting == 1);
  // One chunk: a few records, and the writer still waits.
  executor.set_feed({FeedOrder::Mode::kOneChunk, 0});
  WaitResult chunk = executor.wait(now() + 5s);
  CHECK(chunk.completions.empty());
  CHECK_FALSE(chunk.fed.empty());
  CHECK(chunk.fed.size() <= kFeedChunk / 11);
  CHECK(chunk.feeders_waiting == 1);
  // Read: all of it comes, and the writer ends.
  executor.set_feed({FeedOrder::Mode::kRead, SIZE_MAX});
  const Fed rest = collect_fed(executor, 1);
  CHECK(rest.done[0].worker == 1);
  CHECK(rest.done[0].succeeded());
  CHECK(chunk.fed.size() + rest.records.size() == 300000 / 11 + 1);  // 27272 lines, the cut last

  // Read from the start, nothing is held: the same writer ends first.
  executor.start(shell_attempt(1, "yes 0123456789 | head -c 300000 >&3"));
  executor.start(shell_attempt(2, "sleep 1"));
  const Fed both = collect_fed(executor, 2);
  CHECK(both.done[0].worker == 1);
  CHECK(both.records.size() == 300000 / 11 + 1);
}

TEST_CASE("process executor: kRead stops reading once the welcome records have come") {
  SignalSetup signals;
  ProcessExecutorOptions options;
  options.feedback = true;
  ProcessExecutor executor(options, signals.original());
  executor.set_feed({FeedOrder::Mode::kRead, 3});
  executor.start(shell_attempt(1, "seq 1 100000 >&3; sleep 30"));
  WaitResult first;
  const TimePoint deadline = now() + 30s;
  while (first.fed.empty() && now() < deadline) first = executor.wait(deadline);
  // One small read past the third record at most: not the whole pipe.
  CHECK(first.fed.size() >= 3);
  CHECK(first.fed.size() <= kFeedChunk / 2);
  CHECK(first.fed[0].text == "1");
  executor.set_feed({FeedOrder::Mode::kClose, 0});
  executor.cancel(1, CancelMode::kKill);
  collect_fed(executor, 1);
}

TEST_CASE("process executor: suspend stops every child's process group, and continues it") {
  SignalSetup signals;
  Watchdog watchdog(60);
  LineLog log;
  ProcessExecutor executor(log.options(), signals.original());
  executor.start(shell_attempt(1, "sleep 30 & echo $$ $!; wait"));
  const std::vector<pid_t> pids = pids_in(first_line(executor, log, 1));
  REQUIRE(pids.size() == 2);
  executor.suspend(true);
  for (pid_t pid : pids) {
    CHECK(eventually([&] { return process_state(pid) && process_state(pid)->state == 'T'; }));
  }
  executor.suspend(false);
  for (pid_t pid : pids) {
    CHECK(eventually([&] { return process_state(pid) && process_state(pid)->state != 'T'; }));
  }
  executor.cancel(1, CancelMode::kKill);
  collect(executor, 1);
}

}  // namespace
}  // namespace taskpool
