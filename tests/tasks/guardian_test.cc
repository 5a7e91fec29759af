#include "tasks/guardian.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tasks/process_start.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TimePoint clock_now() { return std::chrono::steady_clock::now(); }

// Polls `condition` until it holds or `limit` passes.
bool comes_true(const std::function<bool()>& condition, Duration limit) {
  const TimePoint deadline = clock_now() + limit;
  while (!condition()) {
    if (clock_now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Whether a process is in group `group` and has not ended (a zombie has).
bool group_alive(pid_t group) {
  if (kill(-group, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(group) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;  // the leader is gone, others may be there
  std::istringstream fields(line.substr(line.rfind(')') + 1));
  char state = '?';
  fields >> state;
  return state != 'Z' && state != 'X';
}

// A job: a process in a group of its own that sleeps, deaf to SIGTERM if asked.
pid_t start_job(bool deaf) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    if (deaf) signal(SIGTERM, SIG_IGN);
    execlp("sleep", "sleep", "100", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

// A job as taskpool starts it: its child sets its group's bit in `table` before its exec.
pid_t start_marked_job(uint64_t* table) {
  std::string path = "/bin/sleep";
  std::string argument = "100";
  char* argv[] = {path.data(), argument.data(), nullptr};
  ProcessStart start;
  start.path = path.c_str();
  start.argv = argv;
  start.envp = environ;
  sigemptyset(&start.mask);
  sigemptyset(&start.defaults);
  start.own_group = true;
  start.group_table = table;
  pid_t pid = -1;
  REQUIRE(start_process(start, ChildStack(), pid) == 0);
  return pid;
}

// How an owner tells its guardian of a job.
enum class Telling {
  kWatch,       // watch() once it has started (the job started as a test's fork)
  kChildMarks,  // only the job's child, with the table before_start() gives: killed before watch()
};

// An owner of a guardian, as taskpool is: a process that starts it and its jobs, tells it of
// the jobs (all but the last `forgotten` ones, which it tells it of and then of their end), and
// writes the jobs' groups and the guardian's id to a pipe before waiting to be killed.
struct Owner {
  pid_t pid = -1;
  pid_t guardian = -1;
  std::vector<pid_t> jobs;

  Owner(int jobs_count, int deaf_count, int forgotten, Duration kill_after,
        Guardian::Launch launch = Guardian::Launch::kSpawn, Telling telling = Telling::kWatch) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      setpgid(0, 0);
      std::string error;
      const std::unique_ptr<Guardian> g = Guardian::start(kill_after, error, launch);
      if (!g) _exit(1);
      std::vector<pid_t> pids{-1};
      for (int i = 0; i < jobs_count; ++i) {
        if (telling == Telling::kChildMarks) {
          pids.push_back(start_marked_job(g->before_start()));
          continue;
        }
        const pid_t job = start_job(i < deaf_count);
        g->watch(job);
        if (i >= jobs_count - forgotten) g->forget(job);
        pids.push_back(job);
      }
      pids[0] = g->pid();  // started before the first job
      const auto bytes = static_cast<ssize_t>(pids.size() * sizeof(pid_t));
      if (::write(fds[1], pids.data(), static_cast<size_t>(bytes)) != bytes) _exit(1);
      for (;;) pause();
    }
    ::close(fds[1]);
    std::vector<pid_t> pids(static_cast<size_t>(jobs_count) + 1);
    const auto want = static_cast<ssize_t>(pids.size() * sizeof(pid_t));
    ssize_t got = 0;
    while (got < want) {
      const ssize_t n = ::read(fds[0], reinterpret_cast<char*>(pids.data()) + got,
                               static_cast<size_t>(want - got));
      if (n <= 0) break;
      got += n;
    }
    ::close(fds[0]);
    REQUIRE(got == want);
    guardian = pids[0];
    jobs.assign(pids.begin() + 1, pids.end());
  }
  ~Owner() {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    for (pid_t job : jobs) kill(-job, SIGKILL);
  }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  void kill_hard() {
    REQUIRE(kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
  }
};

TEST_CASE("guardian: when its owner is killed, the groups it was told of end") {
  Owner owner(4, 1, 0, 500ms);
  for (pid_t job : owner.jobs) REQUIRE(group_alive(job));
  const TimePoint killed = clock_now();
  owner.kill_hard();
  // SIGTERM at once; the deaf one (the first) SIGKILL half a second later.
  CHECK(comes_true([&] { return !group_alive(owner.jobs[1]) && !group_alive(owner.jobs[3]); },
                   400ms));
  CHECK(comes_true([&] { return !group_alive(owner.jobs[0]); }, 10s));
  CHECK(clock_now() - killed >= 450ms);
  // Its work done, the guardian is gone too.
  CHECK(comes_true([&] { return !group_alive(owner.guardian); }, 10s));
}

TEST_CASE("guardian: forked (when it cannot be spawned), it ends the groups all the same") {
  Owner owner(2, 0, 0, 500ms, Guardian::Launch::kFork);
  std::ifstream cmdline("/proc/" + std::to_string(owner.guardian) + "/cmdline");
  std::string first;
  std::getline(cmdline, first, '\0');
  CHECK(first != "taskpool-guard");  // a copy of its owner, not a new program
  owner.kill_hard();
  CHECK(
      comes_true([&] { return !group_alive(owner.jobs[0]) && !group_alive(owner.jobs[1]); }, 10s));
  CHECK(comes_true([&] { return !group_alive(owner.guardian); }, 10s));
}

// The program a process runs (/proc/PID/exe), or "" once it has ended.
std::string program_of(pid_t pid) {
  std::string path(4096, '\0');
  const ssize_t n =
      readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), path.data(), path.size());
  path.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return path;
}

std::string first_argument_of(pid_t pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string first;
  std::getline(cmdline, first, '\0');
  return first;
}

TEST_CASE("guardian: spawned, it is the program taskpool-guard beside its owner's") {
  Owner owner(1, 0, 0, 100ms);
  const std::string self = program_of(getpid());
  const std::string beside = self.substr(0, self.rfind('/') + 1) + "taskpool-guard";
  CHECK(comes_true([&] { return program_of(owner.guardian) == beside; }, 10s));
  // Its arguments are in place a moment after its program (the kernel sets them last).
  CHECK(comes_true([&] { return first_argument_of(owner.guardian) == "taskpool-guard"; }, 10s));
  // And it guards.
  owner.kill_hard();
  CHECK(comes_true([&] { return !group_alive(owner.jobs[0]); }, 10s));
}

TEST_CASE("guardian: where taskpool-guard is not to be run, it is its owner's program run again") {
  Owner owner(1, 0, 0, 100ms, Guardian::Launch::kSpawnSelf);
  // Until its exec the child is a copy of its owner, the same program: its arguments tell.
  CHECK(comes_true([&] { return first_argument_of(owner.guardian) == "taskpool-guard"; }, 10s));
  CHECK(program_of(owner.guardian) == program_of(getpid()));
  owner.kill_hard();
  CHECK(comes_true([&] { return !group_alive(owner.jobs[0]); }, 10s));
}

TEST_CASE("guardian: killed before its program has started, its owner's jobs still end") {
  // The owner is killed as soon as it has started its jobs: the guardian's exec may not have
  // happened yet, and its socket reaches its end all the same once it has.
  for (int round = 0; round < 5; ++round) {
    Owner owner(2, 0, 0, 100ms);
    owner.kill_hard();
    CHECK(comes_true([&] { return !group_alive(owner.jobs[0]) && !group_alive(owner.jobs[1]); },
                     10s));
  }
}

TEST_CASE("guardian: a job its owner was killed before telling it of ends all the same") {
  if (testing::kThreadSanitizer) return;  // glibc's posix_spawn starts the child: it marks nothing
  // The owner dies between the jobs' starts and its watch() calls: what taskpool does while a
  // child execs. The children have set their bits before their exec.
  for (const auto launch : {Guardian::Launch::kSpawn, Guardian::Launch::kFork}) {
    Owner owner(2, 0, 0, 100ms, launch, Telling::kChildMarks);
    for (pid_t job : owner.jobs) REQUIRE(group_alive(job));
    owner.kill_hard();
    CHECK(comes_true([&] { return !group_alive(owner.jobs[0]) && !group_alive(owner.jobs[1]); },
                     10s));
  }
}

TEST_CASE("guardian: a group whose end it was told of is left alone") {
  Owner owner(2, 0, 1, 100ms);
  owner.kill_hard();
  CHECK(comes_true([&] { return !group_alive(owner.jobs[0]); }, 10s));
  CHECK(comes_true([&] { return !group_alive(owner.guardian); }, 10s));
  CHECK(group_alive(owner.jobs[1]));  // forgotten: not the guardian's to end
}

TEST_CASE("guardian: is in a group of its own, out of reach of its owner's group signals") {
  Owner owner(1, 0, 0, 100ms);
  CHECK(getpgid(owner.guardian) == owner.guardian);
  CHECK(getpgid(owner.guardian) != getpgid(owner.pid));
  // The terminal's Ctrl-C (or a SIGTERM) to it does not end it before its owner.
  kill(owner.guardian, SIGINT);
  kill(owner.guardian, SIGTERM);
  std::this_thread::sleep_for(100ms);
  CHECK(group_alive(owner.guardian));
  CHECK(group_alive(owner.jobs[0]));
}

TEST_CASE("guardian: its process starts before the first job does") {
  std::string error;
  auto guardian = Guardian::start(30s, error);
  REQUIRE(guardian != nullptr);
  CHECK(guardian->pid() == -1);  // no job yet: no process
  CHECK(guardian->before_start() != nullptr);
  const pid_t started = guardian->pid();
  CHECK(started > 0);  // a taskpool killed during the job's start has it ended
  const pid_t job = start_job(false);
  guardian->watch(job);
  CHECK(guardian->pid() == started);
  CHECK(comes_true([&] { return first_argument_of(started) == "taskpool-guard"; }, 10s));
  guardian->forget(job);
  guardian.reset();
  kill(-job, SIGKILL);
  int status = 0;
  waitpid(job, &status, 0);
  CHECK(comes_true(
      [&] {
        const pid_t reaped = waitpid(started, &status, WNOHANG);
        return reaped == started || (reaped < 0 && errno == ECHILD);
      },
      5s));
}

TEST_CASE("guardian: an owner that ends in order leaves its guardian ending at once") {
  std::string error;
  auto guardian = Guardian::start(30s, error);
  REQUIRE(guardian != nullptr);
  const pid_t job = start_job(true);
  guardian->watch(job);
  guardian->forget(job);
  const pid_t guardian_pid = guardian->pid();
  const TimePoint before = clock_now();
  guardian.reset();
  CHECK(clock_now() - before < 1s);  // not kept waiting
  // It exits at once, though it would wait 30 s for a job deaf to SIGTERM (reaped here, or by
  // the destructor when it was quick enough).
  int status = 0;
  CHECK(comes_true(
      [&] {
        const pid_t reaped = waitpid(guardian_pid, &status, WNOHANG);
        return reaped == guardian_pid || (reaped < 0 && errno == ECHILD);
      },
      5s));
  CHECK(group_alive(job));
  kill(-job, SIGKILL);
  waitpid(job, &status, 0);
}

}  // namespace
}  // namespace taskpool
