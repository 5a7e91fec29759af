// Whole runs in the test program: a process may build one Run after another, and no thread a
// Run starts outlives it.
#include "cli/run.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/limits.h"
#include "cli/outcome.h"
#include "cli/plan.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

// The test program's Signals, made once as main makes taskpool's. Between runs this thread's
// mask is put back as it was (other tests set up their own).
Signals& test_signals() {
  static Signals signals;
  static const bool kMaskRestored = [] {
    return pthread_sigmask(SIG_SETMASK, &signals.original_mask(), nullptr) == 0;
  }();
  REQUIRE(kMaskRestored);
  return signals;
}

// SIGCHLD blocked while a Run lives, as Signals leaves it in taskpool.
class RunSignalMask {
 public:
  RunSignalMask() { pthread_sigmask(SIG_BLOCK, &child_only(), &previous_); }
  ~RunSignalMask() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  RunSignalMask(const RunSignalMask&) = delete;
  RunSignalMask& operator=(const RunSignalMask&) = delete;

 private:
  static const sigset_t& child_only() {
    static const sigset_t kSet = [] {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGCHLD);
      return s;
    }();
    return kSet;
  }
  sigset_t previous_;
};

RunConfig quiet_config() {
  RunConfig config;
  config.command = {"true"};
  config.jobs = 2;
  config.summary = SummaryWhen::kNever;
  return config;
}

RunOutcome run_once(const RunConfig& config) {
  Signals& signals = test_signals();
  const RunSignalMask mask;
  Run run(config, make_plan(config, read_limits()), signals, nullptr);
  return run.run();
}

TEST_CASE("a process runs one Run after another, and none leaves a thread behind") {
  alarm(120);
  test_signals();
  const size_t threads = testing::threads_now();
  const std::filesystem::path list =
      std::filesystem::temp_directory_path() / ("taskpool-run-test-" + std::to_string(getpid()));
  std::ofstream(list) << "a\nb\nc\n";

  RunConfig from_file = quiet_config();  // read on a thread of its own
  from_file.arg_files = {list.string()};
  RunConfig from_list = quiet_config();  // read inline
  from_list.sources.push_back({{"x", "y"}, std::nullopt, false});
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    const RunOutcome file_outcome = run_once(from_file);
    CHECK(file_outcome.stats.succeeded == 3);
    CHECK(file_outcome.input_read);
    CHECK(finish_run(file_outcome) == 0);
    CHECK(testing::threads_now() == threads);
    const RunOutcome list_outcome = run_once(from_list);
    CHECK(list_outcome.stats.succeeded == 2);
    CHECK(testing::threads_now() == threads);
  }
  std::filesystem::remove(list);
  alarm(0);
}

TEST_CASE("a run that stops while its input never ends joins its reader") {
  alarm(120);  // a reader that cannot be stopped would hang the test: end it instead
  test_signals();
  const size_t threads = testing::threads_now();
  int input[2];
  REQUIRE(pipe2(input, O_CLOEXEC) == 0);
  REQUIRE(write(input[1], "a\nb\n", 4) == 4);  // and the pipe stays open: no end in sight
  RunConfig config = quiet_config();
  config.arg_files = {"/dev/fd/" + std::to_string(input[0])};
  config.deadline = 300ms;
  const RunOutcome outcome = run_once(config);
  CHECK(outcome.stats.succeeded == 2);
  CHECK(outcome.stats.stop_cause == StopCause::kDeadline);
  CHECK_FALSE(outcome.input_read);
  CHECK(outcome.error.empty());
  CHECK(finish_run(outcome) == 1);  // cut short before the input's end
  CHECK(testing::threads_now() == threads);
  close(input[0]);
  close(input[1]);
  alarm(0);
}

TEST_CASE("a --summary-json path that cannot be written fails before anything runs") {
  test_signals();
  const RunSignalMask mask;
  RunConfig config = quiet_config();
  const std::filesystem::path marker =
      std::filesystem::temp_directory_path() / ("taskpool-run-marker-" + std::to_string(getpid()));
  config.command = {"touch", marker.string()};
  config.sources.push_back({{"x"}, std::nullopt, false});
  config.summary_json = "/nonexistent-taskpool-dir/summary.json";
  CHECK_THROWS_WITH_AS(Run(config, make_plan(config, read_limits()), test_signals(), nullptr),
                       "--summary-json: cannot open '/nonexistent-taskpool-dir/summary.json': "
                       "No such file or directory",
                       Error);
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("read_limits: the descriptors open now, each counted once") {
  const uint64_t before = read_limits().open_files_now;
  int more[2][2];
  REQUIRE(pipe(more[0]) == 0);
  REQUIRE(pipe(more[1]) == 0);
  CHECK(read_limits().open_files_now == before + 4);
  for (auto& ends : more) {
    close(ends[0]);
    close(ends[1]);
  }
  CHECK(read_limits().open_files_now == before);
}

}  // namespace
}  // namespace taskpool
