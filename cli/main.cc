// taskpool: parses the flags, reads what the machine allows, plans the run, runs it and exits.
// The pieces: cli/plan.h (what the run is to be), cli/run.h (the run), cli/signals.h.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "cli/agent.h"
#include "cli/compare.h"
#include "cli/control.h"
#include "cli/header.h"
#include "cli/limits.h"
#include "cli/onall.h"
#include "cli/options.h"
#include "cli/outcome.h"
#include "cli/plan.h"
#include "cli/run.h"
#include "cli/serve/client.h"
#include "cli/signals.h"
#include "cli/slurm.h"
#include "core/error.h"
#include "tasks/adopted.h"
#include "tasks/guardian.h"
#include "tasks/machine_readings.h"
#include "tasks/program_path.h"

namespace taskpool {
namespace {

// A standard descriptor closed at start (`taskpool ... >&-`, as some daemons and schedulers start
// programs) would be the number that the next file taskpool opens gets: the wake-up eventfd, the
// joblog; job output written to "standard output" would then land in the joblog. /dev/null takes
// its place, before anything else opens a file: no records on stdin, output discarded, as GNU
// parallel behaves with a closed stream. Returns false when /dev/null cannot be opened.
bool fill_closed_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // The lowest free number, which is `fd`: the ones below it are open by now.
    const int opened = ::open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
    if (opened != fd) return false;
  }
  return true;
}

// The guardian that ends the jobs if taskpool is killed (see tasks/guardian.h), for runs whose
// jobs are processes. Before any thread starts.
std::unique_ptr<Guardian> start_guardian(const RunPlan& plan, Duration kill_after) {
  if (!plan.executor.guards_processes) return nullptr;
  std::string error;
  std::unique_ptr<Guardian> guardian = Guardian::start(kill_after, error);
  if (!guardian) Guardian::warn_not_started("taskpool", error);
  return guardian;
}

// Runs the program `name` from beside this one with the same arguments, for `what` (the words
// of an error); returns only when it cannot, with taskpool's status for a usage error.
int exec_beside_own(const char* name, const char* what, char** argv) {
  const std::string program = program_beside_own(name);
  if (program.empty()) {
    std::fprintf(stderr, "taskpool: %s: cannot find taskpool's own program (/proc/self/exe)\n",
                 what);
    return kUsageStatus;
  }
  execv(program.c_str(), argv);
  std::fprintf(stderr, "taskpool: %s: cannot run %s: %s\n", what, program.c_str(),
               std::strerror(errno));
  return kUsageStatus;
}

// What loads libcurl runs in the dynamically linked taskpool beside a static one (see
// CMakeLists.txt): the job server's client verbs, and --fetch. Returns the words naming the use,
// or nullptr when this program does it itself.
const char* use_for_libcurl_program([[maybe_unused]] const char* verb,
                                    [[maybe_unused]] const RunConfig* config) {
#ifdef TASKPOOL_LIBCURL_PROGRAM
  if (verb != nullptr) return verb;
  if (config != nullptr && config->fetch) return "--fetch";
#endif
  return nullptr;
}

int exec_libcurl_program(const char* what, char** argv) {
#ifdef TASKPOOL_LIBCURL_PROGRAM
  return exec_beside_own(TASKPOOL_LIBCURL_PROGRAM, what, argv);
#else
  (void)what, (void)argv;
  return kUsageStatus;
#endif
}

int run_taskpool(const RunConfig& given) {
  RunConfig config = given;
  // --slurm-alloc's allocation lives until the run has ended, however it ends.
  std::optional<SlurmSession> slurm = SlurmSession::open(config);
  read_header(config);
  Limits limits = read_limits();
  RunPlan plan = make_plan(config, limits);
  if (plan.descriptors.raise_to && !raise_open_files(*plan.descriptors.raise_to)) {
    limits.open_files_hard = limits.open_files_soft;  // the soft limit is all there is
    plan = make_plan(config, limits);
  }
  std::fputs(plan.descriptors.warning.c_str(), stderr);
  GateOptions& gate = plan.scheduler.gate;
  if (gate.max_load || gate.memfree != 0) {
    gate.readings = open_machine_readings(gate.max_load.has_value(), gate.memfree != 0);
  }
  const std::unique_ptr<Guardian> guardian = start_guardian(plan, config.kill_after);
  Signals signals;
  // What a job leaves running after it, out of its process group (setsid, a daemon's double
  // fork), comes back to taskpool when its parent ends: reaped, and ended with the run.
  if (plan.executor.become_subreaper) become_child_subreaper();
  if (plan.compare) return run_compare(config, plan, signals, guardian.get());
  if (config.onall || config.nonall)
    return run_on_all_hosts(config, limits, signals, guardian.get());
  // --shuf: the whole input first, then its jobs in a random order (numbered in that order).
  std::vector<Record> shuffled;
  if (config.shuffle) {
    shuffled = read_all_records(config, plan);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(std::random_device()()));
    plan.input.read_inline = true;
  }
  std::optional<Run> run;
  if (config.shuffle) {
    run.emplace(config, std::move(plan), signals, guardian.get(), shuffled);
  } else {
    run.emplace(config, std::move(plan), signals, guardian.get());
  }
  const RunOutcome outcome = run->run();
  if (slurm) slurm->release();
  if (outcome.broken_pipe) signals.die_of_broken_pipe();
  return finish_run(outcome);
}

}  // namespace
}  // namespace taskpool

int main(int argc, char** argv) {
  // A guardian this program started (tasks/guardian.h) is this program too.
  taskpool::Guardian::run_if_asked(argc, argv);
  if (!taskpool::fill_closed_standard_descriptors()) {
    std::fprintf(stderr, "taskpool: cannot open /dev/null for a closed standard stream: %s\n",
                 std::strerror(errno));
    return taskpool::kUsageStatus;
  }
  // `taskpool ctl SOCKET COMMAND`: a client of a running taskpool's --control socket.
  if (argc >= 2 && std::strcmp(argv[1], "ctl") == 0) return taskpool::control_client(argc, argv);
  // `taskpool agent`: runs the jobs of a taskpool elsewhere (--slurm), framed on stdin/stdout.
  if (argc >= 2 && std::strcmp(argv[1], "agent") == 0) return taskpool::agent_main(argc, argv);
  // `taskpool serve ...`: the job server's daemon is a program of its own beside this one
  // (taskpool-serve), so that nothing else taskpool does loads SQLite and libmicrohttpd.
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) {
    return taskpool::exec_beside_own("taskpool-serve", "serve", argv);
  }
  // `taskpool submit|status|wait|logs|cancel|pause|resume|jobs ...`: a client of a job server.
  if (argc >= 2 && taskpool::is_client_verb(argv[1])) {
    if (const char* use = taskpool::use_for_libcurl_program(argv[1], nullptr)) {
      return taskpool::exec_libcurl_program(use, argv);
    }
    return taskpool::serve_client(argc, argv);
  }
  const taskpool::ParseOutcome parsed = taskpool::parse_command_line(argc, argv);
  if (!parsed.config) return parsed.exit_status;
  // Nothing is read or started before this point, so the other program starts the run afresh.
  if (const char* use = taskpool::use_for_libcurl_program(nullptr, &*parsed.config)) {
    return taskpool::exec_libcurl_program(use, argv);
  }
  try {
    return taskpool::run_taskpool(*parsed.config);
  } catch (const taskpool::Error& e) {
    std::fprintf(stderr, "taskpool: %s\n", e.what());
    return taskpool::kUsageStatus;
  }
}
