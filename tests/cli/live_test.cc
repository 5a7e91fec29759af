// -j values and --control commands, against a scheduler on the fake executor.
#include "cli/live.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

TEST_CASE("-j takes N, 0, +N, -N and N% of the CPUs") {
  CHECK(parse_jobs_value("4", 8) == 4);
  CHECK(parse_jobs_value(" 4\n", 8) == 4);
  CHECK(parse_jobs_value("0", 8) == 250);
  CHECK(parse_jobs_value("+2", 8) == 10);
  CHECK(parse_jobs_value("-2", 8) == 6);
  CHECK(parse_jobs_value("-7", 8) == 1);
  CHECK(parse_jobs_value("50%", 8) == 4);
  CHECK(parse_jobs_value("150%", 8) == 12);
  CHECK(parse_jobs_value("10%", 8) == 1);
  for (const char* bad : {"", "x", "4x", "1.5", "+", "%", "+50%", "--1", "4 4"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_jobs_value(bad, 8).has_value());
  }
  CHECK_THROWS_AS(parse_jobs_value("100001", 8), UsageError);
  // As GNU parallel: no worker at all is an error.
  CHECK_THROWS_AS(parse_jobs_value("-8", 8), UsageError);
  CHECK_THROWS_AS(parse_jobs_value("0%", 8), UsageError);
  CHECK_THROWS_AS(parse_jobs_value("99999999999999999999", 8), UsageError);
}

// The message of the UsageError read_jobs_file throws for `path`, or "" when it throws none.
std::string jobs_file_error(const std::string& path) {
  try {
    read_jobs_file(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("-j FILE is a regular file: a FIFO, a directory or a device is refused, unread") {
  char dir_template[] = "/tmp/taskpool-live-test-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string fifo = std::string(dir) + "/workers";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // No writer opens the FIFO, but after 10 s (so that a blocking open, which would wait for
  // one for ever, fails this test rather than hanging it).
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 1000 && !done; ++i) std::this_thread::sleep_for(10ms);
    if (done) return;
    const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) close(fd);
  });
  const auto start = std::chrono::steady_clock::now();
  const std::string fifo_error = jobs_file_error(fifo);
  done = true;
  writer.join();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(fifo_error ==
        "-j/--jobs: '" + fifo + "' is a FIFO, not a regular file that holds a number of workers");
  CHECK(jobs_file_error(dir).find("' is a directory, not a regular file") != std::string::npos);
  CHECK(jobs_file_error("/dev/null").find("is a character device") != std::string::npos);
  unlink(fifo.c_str());
  rmdir(dir);
}

// A run of `n` one-second jobs whose live check answers `commands` as they come due.
struct ControlledRun {
  explicit ControlledRun(size_t n)
      : executor(clock, [](uint64_t, int) { return testing::Outcome{}; }),
        source(testing::numbered(n)) {}
  testing::FakeClock clock;
  testing::FakeExecutor executor;
  testing::ListJobSource source;
  testing::RecordingObserver observer;
};

TEST_CASE("--control commands: pause, resume, jobs N, status, and bad ones") {
  ControlledRun run(6);
  LiveControl::Options options;
  std::vector<std::string> said;
  options.say = [&](const std::string& m) { said.push_back(m); };
  options.fit = [](int wanted, size_t) { return std::min(wanted, 5); };
  LiveControl live(options);
  std::vector<std::string> answers;
  SchedulerOptions scheduler_options;
  scheduler_options.workers = 1;
  bool asked = false;
  scheduler_options.live = [&](Scheduler& s, TimePoint) {
    if (asked) return kNever;
    asked = true;
    for (const char* command : {"status", "pause", "status", "resume", "jobs 3", "jobs +100",
                                "jobs", "jobs x", "pause now", "", "bogus\x1b[2J", "status"}) {
      answers.push_back(live.answer(s, command));
    }
    return kNever;
  };
  Scheduler scheduler(scheduler_options, run.clock, run.executor, run.source, testing::command_for,
                      run.observer);
  const RunStats stats = scheduler.run();
  REQUIRE(answers.size() == 12);
  CHECK(answers[0] ==
        R"({"workers": 1, "running": 0, "queued": 0, "retrying": 0, "paused": false, )"
        R"("jobs": {"done": 0, "succeeded": 0, "failed": 0}})");
  CHECK(answers[1] == "ok paused");
  CHECK(answers[2].find("\"paused\": true") != std::string::npos);
  CHECK(answers[3] == "ok resumed");
  CHECK(answers[4] == "ok jobs 3");
  // Past what the file descriptors allow: capped, with a warning.
  CHECK(answers[5] == "ok jobs 5");
  REQUIRE(said.size() == 1);
  CHECK(said[0].find("only enough file descriptors for 5 workers") != std::string::npos);
  CHECK(answers[6].rfind("error: jobs:", 0) == 0);
  CHECK(answers[7].rfind("error: jobs: 'x' is not a number of workers", 0) == 0);
  CHECK(answers[8] == "error: pause: takes no argument");
  CHECK(answers[9].rfind("error: empty command", 0) == 0);
  // A control character is not echoed raw to the terminal of whoever reads the answer.
  CHECK(answers[10] == "error: unknown command 'bogus?[2J' (pause, resume, jobs N, status)");
  CHECK(answers[11].find("\"workers\": 5") != std::string::npos);
  CHECK(stats.jobs == 6);
  CHECK(stats.max_workers == 5);
}

TEST_CASE("the live signals: SIGUSR1 and SIGUSR2 resize the pool, SIGTSTP suspends the run") {
  ControlledRun run(4);
  LiveControl::Options options;
  std::vector<LiveSignals> pending = {{3, 1, false}, {0, 1, true}, {1, 1, false}};
  options.signals = [&] {
    if (pending.empty()) return LiveSignals{};
    const LiveSignals next = pending.front();
    pending.erase(pending.begin());
    return next;
  };
  int stops = 0;
  options.stop_self = [&] { ++stops; };
  LiveControl live(options);
  std::vector<int> workers;
  SchedulerOptions scheduler_options;
  scheduler_options.workers = 2;
  scheduler_options.live = [&](Scheduler& s, TimePoint now) {
    while (!pending.empty()) {
      live.poll(s, now);
      workers.push_back(s.workers());
    }
    return kNever;
  };
  Scheduler scheduler(scheduler_options, run.clock, run.executor, run.source, testing::command_for,
                      run.observer);
  scheduler.run();
  // Two more (three SIGUSR1, one SIGUSR2), one fewer, then as many of each: no change.
  CHECK(workers == std::vector<int>{4, 3, 3});
  CHECK(stops == 1);
}

TEST_CASE("with -S the pool is not resized: jobs N is an error") {
  ControlledRun run(1);
  LiveControl::Options options;
  options.resizable = false;
  options.say = [](const std::string&) {};
  LiveControl live(options);
  std::string answer;
  SchedulerOptions scheduler_options;
  scheduler_options.live = [&](Scheduler& s, TimePoint) {
    if (answer.empty()) answer = live.answer(s, "jobs 4");
    return kNever;
  };
  Scheduler scheduler(scheduler_options, run.clock, run.executor, run.source, testing::command_for,
                      run.observer);
  scheduler.run();
  CHECK(answer == "error: jobs: with -S each host keeps its workers");
}

}  // namespace
}  // namespace taskpool
