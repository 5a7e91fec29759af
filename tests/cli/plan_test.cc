// make_plan: how the flags interact, on a machine described by hand (no system call).
#include "cli/plan.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tasks/sshlogin.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

// A machine with room for anything: no open-file limit, a large ARG_MAX, an empty environment.
Limits roomy_machine() {
  Limits limits;
  limits.open_files_now = 4;
  limits.arg_max = 2 * 1024 * 1024;
  return limits;
}

RunConfig echo_config() {
  RunConfig config;
  config.command = {"echo"};
  config.jobs = 4;
  return config;
}

TEST_CASE("-s bounds every command line, grouped or not; --fetch makes none") {
  RunConfig config = echo_config();
  CHECK_FALSE(make_plan(config, roomy_machine()).max_line);
  config.max_chars = 15;
  CHECK(make_plan(config, roomy_machine()).max_line == 15);
  config.fill = RunConfig::Fill::kContext;
  CHECK(make_plan(config, roomy_machine()).max_line == 15);
  config.fill = RunConfig::Fill::kNone;
  config.command.clear();
  config.fetch = true;
  CHECK_FALSE(make_plan(config, roomy_machine()).max_line);
}

TEST_CASE("--results, --files, -u, --nice: the outputs and the executor; a dry run keeps nothing") {
  RunConfig config = echo_config();
  config.results = "out_{}";
  config.files = true;
  config.nice = 5;
  const RunPlan plan = make_plan(config, roomy_machine());
  REQUIRE(plan.outputs.results);
  CHECK(plan.outputs.results->kind == ResultsTarget::Kind::kTemplate);
  CHECK(plan.outputs.files);
  CHECK(plan.executor.process.nice == 5);
  CHECK(plan.executor.process.output == OutputMode::kCapture);
  config.dry_run = true;
  const RunPlan dry = make_plan(config, roomy_machine());
  CHECK_FALSE(dry.outputs.results);
  CHECK_FALSE(dry.outputs.files);
  config = echo_config();
  config.ungroup = true;
  CHECK(make_plan(config, roomy_machine()).executor.process.output == OutputMode::kPassThrough);
}

TEST_CASE("--fetch: the timeout is the transfer's, and the scheduler has none") {
  RunConfig config = echo_config();
  config.timeout = 7s;
  const RunPlan processes = make_plan(config, roomy_machine());
  CHECK(processes.executor.kind == ExecutorKind::kProcess);
  CHECK(processes.scheduler.timeout == Duration(7s));

  config.command.clear();
  config.fetch = true;
  const RunPlan fetch = make_plan(config, roomy_machine());
  CHECK(fetch.executor.kind == ExecutorKind::kFetch);
  CHECK(fetch.executor.fetch.timeout == Duration(7s));
  CHECK(fetch.scheduler.timeout == Duration::zero());
  // Downloads are no processes: no guardian, no subreaper.
  CHECK_FALSE(fetch.executor.guards_processes);
  CHECK_FALSE(fetch.executor.become_subreaper);
  CHECK(fetch.input.bound.max_bytes == 128 * 1024 - 1);
  CHECK(std::string(fetch.input.bound.problem) == "URL too long");
}

TEST_CASE("--fetch: downloads run on a lane a CPU when -j is large enough to share out") {
  CHECK(fetch_lanes(1, 64) == 1);  // no CPU to spare
  CHECK(fetch_lanes(2, 7) == 1);   // too few workers to be worth the threads
  CHECK(fetch_lanes(2, 8) == 2);
  CHECK(fetch_lanes(2, 64) == 2);  // a lane a CPU at most
  CHECK(fetch_lanes(8, 12) == 3);  // 4 workers a lane at least
  CHECK(fetch_lanes(64, 1000) == 4);

  RunConfig config;
  config.fetch = true;
  config.jobs = 64;
  Limits limits = roomy_machine();
  limits.cpus = 2;
  CHECK(make_plan(config, limits).executor.fetch.lanes == 2);
  config.jobs = 4;
  CHECK(make_plan(config, limits).executor.fetch.lanes == 1);
  // Processes have no lanes.
  config.fetch = false;
  config.command = {"echo"};
  config.jobs = 64;
  CHECK(make_plan(config, limits).executor.fetch.lanes == 1);
  // --progress: the lanes report at its interval.
  config.command.clear();
  config.fetch = true;
  config.progress = true;
  CHECK(make_plan(config, limits).executor.fetch.progress_every == config.progress_interval);
}

TEST_CASE("-S: workers per host, taken in turn, and the joblog's host per worker") {
  RunConfig config = echo_config();
  config.jobs = 2;
  config.hosts = parse_sshlogins("-S", "3/a.example,:");
  const RunPlan plan = make_plan(config, roomy_machine());
  CHECK(plan.executor.kind == ExecutorKind::kHosts);
  CHECK(plan.pool.workers == 5);
  CHECK(plan.scheduler.workers == 5);
  CHECK(plan.pool.host_workers == std::vector<int>{3, 2});
  CHECK(plan.pool.worker_host == std::vector<int>{0, 1, 0, 1, 0});
  CHECK(plan.scheduler.worker_groups == plan.pool.worker_host);
  CHECK(plan.pool.host_of_worker ==
        std::vector<std::string>{"a.example", ":", "a.example", ":", "a.example"});

  // ':' alone is this machine: processes, in one group.
  config.hosts = parse_sshlogins("-S", ":");
  const RunPlan local = make_plan(config, roomy_machine());
  CHECK(local.executor.kind == ExecutorKind::kProcess);
  CHECK(local.pool.worker_host == std::vector<int>{0, 0});
}

TEST_CASE("--priority-col and --queue-size: the queue's capacity and the scheduler's window") {
  RunConfig config = echo_config();
  config.jobs = 8;
  CHECK(make_plan(config, roomy_machine()).input.queue_capacity == 1024);
  config.jobs = 1000;
  CHECK(make_plan(config, roomy_machine()).input.queue_capacity == 2000);

  config.priority_col = 2;
  RunPlan plan = make_plan(config, roomy_machine());
  // The scheduler holds the window it orders; the queue only keeps it filled.
  CHECK(plan.input.queue_capacity == 64);
  CHECK(plan.scheduler.window == 1024);
  CHECK(plan.input.priority_col == 2);

  config.queue_size = 10;
  plan = make_plan(config, roomy_machine());
  CHECK(plan.input.queue_capacity == 10);
  CHECK(plan.scheduler.window == 10);
  config.queue_size = 5000;
  CHECK(make_plan(config, roomy_machine()).input.queue_capacity == 64);
}

TEST_CASE("grouped jobs: a queue of one job per worker and one more") {
  RunConfig config = echo_config();
  config.jobs = 3;
  config.fill = RunConfig::Fill::kMulti;
  const RunPlan plan = make_plan(config, roomy_machine());
  CHECK(plan.input.queue_capacity == 4);
  REQUIRE(plan.input.grouping.has_value());
  CHECK(plan.input.grouping->spread_over == 3);
  CHECK(plan.input.grouping->max_length == 128 * 1024 - 1);
  CHECK(plan.input.grouping->max_exec_bytes == 2 * 1024 * 1024 - 2048);

  config.fill = RunConfig::Fill::kNone;
  config.max_args = 2;
  config.positional = true;
  const RunPlan positional = make_plan(config, roomy_machine());
  REQUIRE(positional.input.grouping.has_value());
  CHECK(positional.input.grouping->max_records == 2);
  CHECK(positional.input.grouping->max_length == 0);  // -N: exactly that many, not shortened

  config.max_args = 0;
  CHECK_FALSE(make_plan(config, roomy_machine()).input.grouping.has_value());
}

TEST_CASE("the environment takes its share of what exec accepts") {
  Limits limits = roomy_machine();
  limits.arg_max = 100000;
  limits.environment_bytes = 30000;
  CHECK(max_exec_bytes(limits) == 100000 - 30000 - 2048);
  limits.environment_bytes = 98000;
  CHECK(max_exec_bytes(limits) == 2048);
  RunConfig config = echo_config();
  config.colsep = ",";  // {} may become several words: all that exec takes bounds it
  CHECK(make_plan(config, limits).input.bound.max_bytes == 2048);
}

TEST_CASE("input from ::: lists alone is read inline; a file or stdin on a thread") {
  RunConfig config = echo_config();
  CHECK_FALSE(make_plan(config, roomy_machine()).input.read_inline);  // stdin
  config.sources.push_back({{"a", "b"}, std::nullopt, false});
  CHECK(make_plan(config, roomy_machine()).input.read_inline);
  config.sources.push_back({{}, std::string("list.txt"), false});
  CHECK_FALSE(make_plan(config, roomy_machine()).input.read_inline);
  config.sources.pop_back();
  config.arg_files = {"-"};
  CHECK_FALSE(make_plan(config, roomy_machine()).input.read_inline);
}

TEST_CASE("-j is capped by the hard open-file limit, with a warning") {
  RunConfig config = echo_config();
  config.jobs = 100;
  Limits limits = roomy_machine();
  limits.open_files_soft = 64;
  limits.open_files_hard = 1024;
  // 4 open + 16 reserved + 4 per job: 420 needed, within the hard limit: raised, not capped.
  RunPlan plan = make_plan(config, limits);
  CHECK(plan.descriptors.raise_to == 420);
  CHECK(plan.descriptors.warning.empty());
  CHECK(plan.scheduler.workers == 100);

  limits.open_files_hard = 220;
  plan = make_plan(config, limits);
  CHECK(plan.descriptors.raise_to == 220);
  CHECK(plan.scheduler.workers == 50);  // (220 - 20) / 4
  CHECK(plan.input.queue_capacity == 1024);
  CHECK(plan.descriptors.warning ==
        "taskpool: warning: only enough file descriptors (ulimit -n: 220) for 50 jobs at once; "
        "running -j 50 instead of -j 100 (raise the hard limit, ulimit -Hn, to run more)\n");

  // Room for one job: "1 job".
  limits.open_files_soft = limits.open_files_hard = 24;
  CHECK(make_plan(config, limits).descriptors.warning ==
        "taskpool: warning: only enough file descriptors (ulimit -n: 24) for 1 job at once; "
        "running -j 1 instead of -j 100 (raise the hard limit, ulimit -Hn, to run more)\n");
  // Room for none by the count: -j 1 all the same (the count is on the safe side), said so.
  limits.open_files_soft = limits.open_files_hard = 12;
  plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 1);
  CHECK(plan.descriptors.warning ==
        "taskpool: warning: ulimit -n 12 may leave no file descriptor for a job (a run holds up "
        "to 20, a job 4 more); running -j 1 instead of -j 100 (raise the limit, ulimit -n, or the "
        "hard limit, ulimit -Hn)\n");
  limits.open_files_soft = 64;
  limits.open_files_hard = 220;

  // --feedback holds a fifth descriptor per job; a dry run none.
  config.feedback = true;
  CHECK(make_plan(config, limits).scheduler.workers == 40);
  config.dry_run = true;
  plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 100);
  CHECK_FALSE(plan.descriptors.raise_to.has_value());
}

TEST_CASE("Workers keep their pipes from job to job in the spare descriptors, -j never lower") {
  RunConfig config = echo_config();
  config.jobs = 8;
  CHECK(make_plan(config, roomy_machine()).executor.process.kept_pipes == kMaxKeptPipes);
  Limits limits = roomy_machine();
  // 4 open + 16 reserved + 4 per job: 52 needed; of the spare, half at most, two per worker.
  limits.open_files_soft = limits.open_files_hard = 60;
  RunPlan plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 8);
  CHECK(plan.executor.process.kept_pipes == 2);
  limits.open_files_soft = limits.open_files_hard = 52;
  plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 8);
  CHECK(plan.executor.process.kept_pipes == 0);
  limits.open_files_soft = limits.open_files_hard = 1024;
  CHECK(make_plan(config, limits).executor.process.kept_pipes == 8);
  config.jobs = 500;
  limits.open_files_hard = 100000;
  // Raised to what the jobs need, which leaves none spare.
  plan = make_plan(config, limits);
  CHECK(plan.descriptors.raise_to == 2020);
  CHECK(plan.executor.process.kept_pipes == 0);
}

TEST_CASE("-S is not capped: each host keeps its workers") {
  RunConfig config = echo_config();
  config.jobs = 100;
  config.hosts = parse_sshlogins("-S", "a.example");
  Limits limits = roomy_machine();
  limits.open_files_soft = limits.open_files_hard = 100;
  const RunPlan plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 100);
  CHECK(plan.descriptors.warning.empty());
}

TEST_CASE("-k: the window is bounded by the descriptors its held output may take") {
  RunConfig config = echo_config();
  config.keep_order = true;
  config.jobs = 4;
  CHECK(make_plan(config, roomy_machine()).scheduler.keep_order_window == 1024);
  config.jobs = 1000;
  CHECK(make_plan(config, roomy_machine()).scheduler.keep_order_window == 4000);

  Limits limits = roomy_machine();
  limits.open_files_soft = limits.open_files_hard = 4000;
  // 4 + 16 + 4 * 1000 = 4020 needed: capped to (4000 - 20) / 4 = 995 workers, which leave
  // nothing for held output; the window is never below the workers.
  RunPlan plan = make_plan(config, limits);
  CHECK(plan.scheduler.workers == 995);
  CHECK(plan.scheduler.keep_order_window == 995);
  CHECK(plan.executor.process.kept_pipes == 0);
  config.jobs = 100;
  limits.open_files_soft = limits.open_files_hard = 1000;
  // 1000 - (20 + 400) = 580 free, of which 64 workers' kept pipes take 128: two per held job
  // in the 452 left, 226.
  plan = make_plan(config, limits);
  CHECK(plan.executor.process.kept_pipes == 64);
  CHECK(plan.scheduler.keep_order_window == 226);
  limits.open_files_soft = limits.open_files_hard = 1500;
  CHECK(make_plan(config, limits).scheduler.keep_order_window == 476);
  config.keep_order = false;
  CHECK(make_plan(config, limits).scheduler.keep_order_window == 0);
}

TEST_CASE("--progress ticks every 100 ms on a terminal, else at its interval") {
  RunConfig config = echo_config();
  CHECK(make_plan(config, roomy_machine()).scheduler.tick_interval == Duration::zero());
  config.progress = true;
  config.progress_interval = 30s;
  CHECK(make_plan(config, roomy_machine()).scheduler.tick_interval == Duration(30s));
  Limits terminal = roomy_machine();
  terminal.stderr_smart_terminal = true;
  CHECK(make_plan(config, terminal).scheduler.tick_interval == Duration(100ms));
}

TEST_CASE("--dry-run reads the joblog for --resume but writes neither it nor a summary") {
  RunConfig config = echo_config();
  config.joblog = "log";
  config.resume = RunConfig::Resume::kSucceeded;
  config.summary_json = "s.json";
  RunPlan plan = make_plan(config, roomy_machine());
  REQUIRE(plan.resume.has_value());
  CHECK(plan.resume->only_succeeded);
  CHECK_FALSE(plan.resume->check_commands);
  CHECK(plan.outputs.joblog == "log");
  CHECK(plan.outputs.joblog_append);
  CHECK(plan.outputs.summary_json == "s.json");

  config.dry_run = true;
  plan = make_plan(config, roomy_machine());
  CHECK(plan.executor.kind == ExecutorKind::kDryRun);
  REQUIRE(plan.resume.has_value());
  CHECK_FALSE(plan.outputs.joblog.has_value());
  CHECK_FALSE(plan.outputs.summary_json.has_value());
  CHECK(plan.outputs.summary == SummaryWhen::kNever);
  CHECK(plan.outputs.printer.print_commands);
}

TEST_CASE("--compare: each run in its mode, output discarded, nothing written of its own") {
  RunConfig config = echo_config();
  config.compare = true;
  config.timeline = "t.svg";
  config.summary_json = "s.json";
  config.max_records = 3;
  const RunPlan plan = make_plan(config, roomy_machine());
  CHECK(plan.compare);
  const RunPlan batch = compare_plan(plan, DispatchMode::kBatch);
  CHECK(batch.scheduler.mode == DispatchMode::kBatch);
  CHECK(batch.outputs.timeline_title == "batch mode");
  CHECK(batch.outputs.draw_timeline);
  CHECK_FALSE(batch.outputs.timeline.has_value());
  CHECK_FALSE(batch.outputs.summary_json.has_value());
  CHECK_FALSE(batch.outputs.print_output);
  CHECK(batch.executor.process.output == OutputMode::kDiscard);
  CHECK(batch.scheduler.max_records == 0);
  CHECK(compare_plan(plan, DispatchMode::kPool).outputs.timeline_title == "pool mode");
}

}  // namespace
}  // namespace taskpool
