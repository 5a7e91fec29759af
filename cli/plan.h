// What a run is to be, decided from the flags and what the machine says before anything starts:
// make_plan() is pure (no system call), so every interaction between flags is a unit test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/printer.h"
#include "cli/results.h"
#include "core/input.h"
#include "core/scheduler.h"
#include "core/template.h"
#include "tasks/fetch_executor.h"
#include "tasks/process_executor.h"

namespace taskpool {

// What the machine says, read once (read_limits(), cli/limits.h) before planning.
struct Limits {
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  uint64_t open_files_soft = kUnlimited;  // RLIMIT_NOFILE (kUnlimited when unknown)
  uint64_t open_files_hard = kUnlimited;
  uint64_t open_files_now = 3;         // descriptors open before the run
  size_t arg_max = 131072;             // ARG_MAX
  size_t environment_bytes = 0;        // the environment as exec counts it (strings, pointers)
  bool stderr_smart_terminal = false;  // the progress line is redrawn in place there
  unsigned cpus = 1;                   // the CPUs this process may run on
  // What runs command lines; empty: the caller's shell (caller_shell()), found when a command
  // first needs one.
  std::string shell;
};

// The pool: its workers and, with -S, the hosts they belong to.
struct PoolLayout {
  int workers = 1;
  // -S: per host, its workers (N/, else -j); worker_host[w - 1] is worker w's host, taken in
  // turn (interleave_groups); host_of_worker its sshlogin as given (the joblog's Host column).
  std::vector<int> host_workers;
  std::vector<int> worker_host;
  std::vector<std::string> host_of_worker;
};

// The open-file limit the run needs (ulimit -n): jobs inherit it.
struct DescriptorPlan {
  std::optional<uint64_t> raise_to;  // the soft limit to set before anything starts
  std::string warning;               // -j was capped to what the hard limit allows; empty if not
};

// The longest record worth keeping (longer ones are read past, and their jobs fail), and how a
// message says what bounds it.
struct RecordBound {
  size_t max_bytes = 0;
  const char* problem = "argument too long";
  const char* more_than = "more than the system lets a program take";
};

// Where records come from and how they become jobs.
struct InputPlan {
  // Records from ::: lists alone, which no read can block on, are read on the scheduler's thread
  // as it asks for them; others on a thread of their own.
  bool read_inline = false;
  // The queue between the reader and the scheduler (the read-ahead, when read inline).
  size_t queue_capacity = 1024;
  RecordBound bound;
  // -n, -N, -L, -X, -m: how records are grouped into jobs (the Run sets `length`).
  std::optional<RecordGrouper::Options> grouping;
  size_t priority_col = 0;  // --priority-col: each record's column is checked as it is read
};

// --resume and --resume-failed: the joblog's jobs are skipped.
struct ResumePlan {
  std::string joblog;
  bool only_succeeded = false;  // --resume-failed: jobs that failed run again
  bool keep_commands = false;   // the joblog's commands are kept whole ({%} in grouped jobs)
  // Grouped jobs: each job the joblog lists must hold the records it held there (resume_check).
  bool check_commands = false;
};

enum class ExecutorKind {
  kProcess,  // local processes (also -S with ':' hosts alone)
  kHosts,    // -S with a remote host: ssh
  kAgents,   // --slurm, --slurm-alloc: one agent per node (RunConfig::agent_commands)
  kFetch,    // --fetch: libcurl
  kDryRun,   // --dry-run: nothing runs
};

struct ExecutorPlan {
  ExecutorKind kind = ExecutorKind::kProcess;
  // Without the callbacks, the wake-up descriptor and the guardian, which the Run attaches.
  ProcessExecutorOptions process;
  FetchOptions fetch;  // without wake_fd
  // The guardian and the child subreaper end what jobs leave behind: for processes only.
  bool guards_processes = true;
  bool become_subreaper = true;
};

// What the run writes besides job output. Each file is opened (or checked) before the first job
// starts, so that a bad path is an error at once, not after the run.
struct OutputPlan {
  bool print_output = true;  // false: output discarded (--compare)
  OutputPrinter::Options printer;
  bool line_buffer = false;
  std::optional<ResultsTarget> results;  // --results
  bool files = false;                    // --files
  std::optional<std::string> joblog;     // not with --dry-run, which leaves it as it is
  bool joblog_append = false;
  std::optional<std::string> summary_json;
  SummaryWhen summary = SummaryWhen::kAuto;
  bool draw_timeline = false;           // the attempts are drawn (RunOutcome::timeline)
  std::optional<std::string> timeline;  // where the drawing goes (--compare writes its own)
  std::string timeline_title = "pool mode";
  bool progress = false;
  Duration progress_interval{0};
  bool eta = false;
  bool bar = false;
};

struct RunPlan {
  CommandTemplate command{std::vector<std::string>{}};
  // Complete but for the callbacks the Run attaches: live, skip, priority, random, limit_keys.
  SchedulerOptions scheduler;
  PoolLayout pool;
  DescriptorPlan descriptors;
  InputPlan input;
  std::optional<ResumePlan> resume;
  ExecutorPlan executor;
  OutputPlan outputs;
  bool compare = false;  // --compare: a batch run, then a pool run, of the same records
  // -s: the longest command line, with its terminating NUL; a job's longer line is refused.
  std::optional<size_t> max_line;
  // Each --limit's template, which makes a job's key for it (SchedulerOptions::limit_keys).
  std::vector<CommandTemplate> limit_keys;
  // --transferfile and --return, with -S: the files of each job (Command::send_files).
  std::vector<CommandTemplate> send_files;
  std::vector<CommandTemplate> return_files;
};

// The plan for `config` on a machine with `limits`.
RunPlan make_plan(const RunConfig& config, const Limits& limits);

// The plan of one of --compare's runs: `mode`, over records held in memory, output discarded.
RunPlan compare_plan(const RunPlan& plan, DispatchMode mode);

// Descriptors a running job holds (0: none, for a dry run or --compare).
uint64_t descriptors_per_job(const RunConfig& config);

// taskpool's own descriptors (/dev/null, the wake-up, joblog, summary, timeline) and a job being
// started: never counted as a job's.
inline constexpr uint64_t kReservedDescriptors = 16;

// The soft open-file limit to set for `needed` descriptors: within the hard limit; `soft` when
// it is enough already.
uint64_t soft_limit_for(uint64_t needed, uint64_t soft, uint64_t hard);

// How many jobs of `per_job` descriptors fit under the soft limit `soft` beside `base` others.
uint64_t jobs_that_fit(uint64_t soft, uint64_t base, uint64_t per_job);

// What exec accepts for a command line, as xargs computes it: ARG_MAX less the environment and
// a margin of 2048 bytes.
size_t max_exec_bytes(const Limits& limits);

// Whether several records may make one job (-n, -N, -L, -X, -m).
bool grouped(const RunConfig& config);

// The threads --fetch runs its downloads on (FetchOptions::lanes): one unless there are CPUs to
// spare and at least 8 workers; then at most a lane a CPU, 4 workers a lane, and 4 lanes.
size_t fetch_lanes(unsigned cpus, int workers);

}  // namespace taskpool
