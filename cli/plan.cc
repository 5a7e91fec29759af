#include "cli/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace taskpool {
namespace {

// Linux takes at most 128 KiB for one argument; the whole line may be one (the shell gets it so).
constexpr size_t kMaxArgument = 128 * 1024 - 1;

// The most taskpool keeps of a record that the command line does not show whole ({#}, {/},
// {N}, a --colsep column): no command line bounds its length there, but memory must.
constexpr size_t kMaxKeptRecord = 16 * 1024 * 1024;

// -X, -N and -L repeat the word around {} for each record, as GNU parallel does (-n and -m put
// the records in its place); -n 0 gives the command no record at all.
CommandTemplate::Spread template_spread(const RunConfig& config) {
  using Spread = CommandTemplate::Spread;
  if (config.fill == RunConfig::Fill::kContext || config.positional) return Spread::kContext;
  return config.no_args ? Spread::kNone : Spread::kInPlace;
}

// With -S: each host's workers (N/, else -j); one group per host, taken in turn.
PoolLayout pool_layout(const RunConfig& config, int jobs) {
  PoolLayout pool;
  pool.workers = jobs;
  if (config.hosts.empty()) return pool;
  for (const SshLogin& host : config.hosts) {
    pool.host_workers.push_back(host.workers != 0 ? host.workers : jobs);
  }
  pool.workers = 0;
  for (const int n : pool.host_workers) pool.workers += n;
  pool.worker_host = interleave_groups(pool.host_workers);
  for (const int host : pool.worker_host) {
    pool.host_of_worker.push_back(config.hosts[static_cast<size_t>(host)].text);
  }
  return pool;
}

uint64_t input_files(const RunConfig& config) {
  return config.arg_files.size() +
         static_cast<uint64_t>(std::ranges::count_if(
             config.sources, [](const RunConfig::Source& s) { return s.file.has_value(); }));
}

// The soft open-file limit -j needs, within the hard limit; when even the hard one is too low,
// fewer workers and a warning (failing jobs with EMFILE mid-run would be worse). Returns the
// jobs that fit and the longest -k window whose held output fits too.
struct DescriptorFit {
  DescriptorPlan plan;
  int jobs;
  uint64_t keep_order_window = UINT64_MAX;
  int kept_pipes = kMaxKeptPipes;  // see ProcessExecutorOptions::kept_pipes
};

// Workers that keep their pipes from job to job hold two descriptors more each: they take at
// most half of the `spare` ones, and never lower -j.
int kept_pipe_workers(int workers, uint64_t spare) {
  return static_cast<int>(
      std::min<uint64_t>(static_cast<uint64_t>(std::min(workers, kMaxKeptPipes)), spare / 4));
}

DescriptorFit fit_descriptors(const RunConfig& config, const Limits& limits) {
  DescriptorFit fit{{}, config.jobs};
  const uint64_t per_job = descriptors_per_job(config);
  if (per_job == 0) return fit;
  const uint64_t base = limits.open_files_now + input_files(config) + kReservedDescriptors;
  // With -S, every host's workers run local processes (ssh clients) too.
  const auto needed = [&] {
    return base + per_job * static_cast<uint64_t>(pool_layout(config, fit.jobs).workers);
  };
  const uint64_t soft = soft_limit_for(needed(), limits.open_files_soft, limits.open_files_hard);
  if (soft != limits.open_files_soft) fit.plan.raise_to = soft;
  if (soft == Limits::kUnlimited) return fit;
  if (soft < needed() && config.hosts.empty()) {
    const uint64_t fitting = jobs_that_fit(soft, base, per_job);
    fit.jobs = static_cast<int>(std::max<uint64_t>(1, fitting));
    // The reserve is a bound on the safe side: a job may run where none is counted to fit,
    // and when none can, each fails at once saying why (Completion::own_shortage).
    fit.plan.warning =
        fitting == 0 ? fmt::format(
                           "taskpool: warning: ulimit -n {} may leave no file descriptor for a job "
                           "(a run holds up to {}, a job {} more); running -j 1 instead of -j {} "
                           "(raise the limit, ulimit -n, or the hard limit, ulimit -Hn)\n",
                           soft, base, per_job, config.jobs)
                     : fmt::format(
                           "taskpool: warning: only enough file descriptors (ulimit -n: {}) for {} "
                           "job{} at once; running -j {} instead of -j {} (raise the hard limit, "
                           "ulimit -Hn, to run more)\n",
                           soft, fit.jobs, fit.jobs == 1 ? "" : "s", fit.jobs, config.jobs);
  }
  const uint64_t used = needed();
  const uint64_t spare = soft > used ? soft - used : 0;
  fit.kept_pipes = kept_pipe_workers(pool_layout(config, fit.jobs).workers, spare);
  fit.keep_order_window = (spare - 2 * static_cast<uint64_t>(fit.kept_pipes)) / 2;
  return fit;
}

SchedulerOptions scheduler_options(const RunConfig& config, const PoolLayout& pool,
                                   uint64_t max_keep_order_window) {
  SchedulerOptions options;
  options.workers = pool.workers;
  options.worker_groups = pool.worker_host;
  options.mode = config.mode;
  options.retry = config.retry;
  options.timeout = config.timeout;
  options.timeout_percent = config.timeout_percent;
  options.gate.max_load = config.max_load;
  options.gate.memfree = config.memfree;
  options.kill_after = config.kill_after;
  options.rate = config.rate;
  options.burst = config.burst;
  options.deadline = config.deadline;
  options.grace = config.grace;
  options.halt = config.halt;
  options.max_records = config.max_records;
  options.limits = config.limits;
  if (config.queue_size) options.window = *config.queue_size;  // else the scheduler's default
  // Bounds what -k holds back: a few times the workers, at least 1024 jobs.
  if (config.keep_order) {
    const auto workers = static_cast<uint64_t>(options.workers);
    options.keep_order_window = std::min(std::max<uint64_t>(1024, 4 * workers),
                                         std::max<uint64_t>(max_keep_order_window, workers));
  }
  return options;
}

// A record that is one argument whole (a command's {} or appended record, one of -X, -m or -n,
// a URL, which curl too takes as one argument) binds to the 128 KiB of one argument; one that
// may become several words (with --colsep {} is its columns; a record that is a whole command
// line runs as its words when it needs no shell) to all that exec takes; one the command line
// does not show whole, to kMaxKeptRecord.
RecordBound record_bound(const RunConfig& config, const CommandTemplate& command,
                         const Limits& limits) {
  using Use = CommandTemplate::RecordUse;
  RecordBound bound;
  if (config.fetch) {
    bound.max_bytes = kMaxArgument;
    bound.problem = "URL too long";
    bound.more_than = "more than a URL may have, as one argument of curl";
  } else if (command.record_use() != Use::kWhole) {
    bound.max_bytes = kMaxKeptRecord;
    bound.problem = "record too long";
    bound.more_than = "more than taskpool keeps of a record the command line does not show whole";
  } else {
    const bool words = config.colsep || command.record_is_command();
    bound.max_bytes = words ? max_exec_bytes(limits) : kMaxArgument;
  }
  return bound;
}

// How records become jobs: one each, or grouped for -n, -N, -L, -X, -m.
std::optional<RecordGrouper::Options> grouping(const RunConfig& config, int workers,
                                               const Limits& limits) {
  if (!grouped(config)) return std::nullopt;
  RecordGrouper::Options options;
  options.max_records = config.max_args;
  options.continue_lines = config.continue_lines;
  if (!config.positional) {
    options.max_length = std::min(kMaxArgument, config.max_chars.value_or(SIZE_MAX));
    options.max_exec_bytes = max_exec_bytes(limits);
  }
  if (config.fill != RunConfig::Fill::kNone) options.spread_over = static_cast<size_t>(workers);
  return options;
}

InputPlan input_plan(const RunConfig& config, const CommandTemplate& command, int jobs, int workers,
                     const Limits& limits) {
  InputPlan input;
  input.read_inline = config.pipe == RunConfig::Pipe::kNone && config.arg_files.empty() &&
                      !config.sources.empty() &&
                      std::ranges::none_of(config.sources, [](const RunConfig::Source& s) {
                        return s.file.has_value();
                      });
  // The queue holds jobs; with -X and friends one job may hold thousands of records (up to 128
  // KiB of command line, half a MiB in memory), so one job per worker, and one more, is enough
  // read-ahead there: the reader makes one far faster than a process starts. With priorities the
  // scheduler holds the window it orders, and the queue only keeps it filled.
  const auto workers_asked = static_cast<size_t>(jobs);
  input.queue_capacity =
      grouped(config) ? workers_asked + 1 : std::max<size_t>(1024, 2 * workers_asked);
  if (config.queue_size) input.queue_capacity = *config.queue_size;
  if (config.priority_col != 0) input.queue_capacity = std::min<size_t>(input.queue_capacity, 64);
  // --pipe: a queued job holds a block; the blocks in memory stay within twice the workers'.
  if (config.pipe != RunConfig::Pipe::kNone) input.queue_capacity = workers_asked;
  input.bound = record_bound(config, command, limits);
  input.grouping = grouping(config, workers, limits);
  input.priority_col = config.priority_col;
  return input;
}

std::optional<ResumePlan> resume_plan(const RunConfig& config, const CommandTemplate& command) {
  if (!config.joblog || config.resume == RunConfig::Resume::kNo) return std::nullopt;
  ResumePlan resume;
  resume.joblog = *config.joblog;
  resume.only_succeeded = config.resume == RunConfig::Resume::kSucceeded;
  resume.keep_commands = grouped(config) && command.uses_worker();
  resume.check_commands = grouped(config);
  return resume;
}

ExecutorPlan executor_plan(const RunConfig& config) {
  ExecutorPlan plan;
  const bool remote =
      std::ranges::any_of(config.hosts, [](const SshLogin& host) { return !host.local; });
  plan.kind = config.dry_run                   ? ExecutorKind::kDryRun
              : config.fetch                   ? ExecutorKind::kFetch
              : !config.agent_commands.empty() ? ExecutorKind::kAgents
              : remote                         ? ExecutorKind::kHosts
                                               : ExecutorKind::kProcess;
  plan.guards_processes = !config.fetch && !config.dry_run;
  plan.become_subreaper = plan.guards_processes && !config.keep_background;
  plan.process.keep_background = config.keep_background;
  plan.process.nice = config.nice;
  plan.process.kill_after = config.kill_after;
  if (config.feedback) plan.process.feed_delimiter = config.delimiter.front();  // one byte
  if (config.line_buffer) plan.process.output = OutputMode::kLines;
  if (config.ungroup) plan.process.output = OutputMode::kPassThrough;
  FetchOptions& fetch = plan.fetch;
  fetch.output_dir = config.output_dir;
  fetch.overwrite = config.overwrite;
  fetch.resume = config.resume_downloads;
  // A transfer's own timeout, so that it ends as curl's timeout (28) and can be retried: the
  // scheduler gets none (make_plan).
  fetch.timeout = config.timeout;
  fetch.connect_timeout = config.connect_timeout;
  if (config.stall_timeout) fetch.stall_timeout = *config.stall_timeout;
  fetch.ca_file = config.ca_file;
  fetch.limit_rate = config.limit_rate;
  fetch.user_agent = std::string("taskpool/") + TASKPOOL_VERSION;
  return plan;
}

OutputPlan output_plan(const RunConfig& config) {
  OutputPlan out;
  out.printer.keep_order = config.keep_order;
  out.printer.tag = config.tag;
  out.printer.print_commands = config.dry_run || config.print_command;
  out.printer.trace = config.trace;
  if (config.tagstring) {
    CommandTemplate::Options tag;
    tag.replace = config.replace;
    tag.plus = config.plus;
    tag.append_record = false;
    out.printer.tag_string = CommandTemplate({*config.tagstring}, tag);
  }
  out.line_buffer = config.line_buffer;
  // A dry run writes no results, as GNU parallel: nothing ran.
  if (config.results && !config.dry_run) {
    out.results = results_target(*config.results, config.replace, config.plus);
  }
  out.files = config.files && !config.dry_run;
  // As in GNU parallel, a dry run reads the joblog for --resume but leaves it as it is: lines
  // for jobs that never ran would make a later --resume skip them. It writes no summary either.
  if (!config.dry_run) {
    out.joblog = config.joblog;
    out.summary_json = config.summary_json;
  }
  out.joblog_append = config.joblog_append || config.resume != RunConfig::Resume::kNo;
  out.summary = config.dry_run ? SummaryWhen::kNever : config.summary;
  out.draw_timeline = config.timeline.has_value();
  out.timeline = config.timeline;
  out.timeline_title = config.mode == DispatchMode::kBatch ? "batch mode" : "pool mode";
  out.progress = config.progress;
  out.progress_interval = config.progress_interval;
  out.eta = config.eta;
  out.bar = config.bar;
  return out;
}

}  // namespace

uint64_t descriptors_per_job(const RunConfig& config) {
  // A running command holds its two pipes and, once its output passes the memory limit, up to
  // two temporary files; a download its socket, its .part file and libcurl's share (a cached
  // connection, the resolver's pair). A dry run and --compare (output discarded) need none per
  // job. With -k, each job that ended and waits for earlier ones may keep two temporary files.
  if (config.dry_run || config.compare) return 0;
  if (config.fetch) return 6;
  return config.feedback ? 5 : 4;  // --feedback: the pipe on descriptor 3 too
}

uint64_t soft_limit_for(uint64_t needed, uint64_t soft, uint64_t hard) {
  if (soft == Limits::kUnlimited || soft >= needed) return soft;
  return hard == Limits::kUnlimited ? needed : std::min(needed, hard);
}

uint64_t jobs_that_fit(uint64_t soft, uint64_t base, uint64_t per_job) {
  return soft > base ? (soft - base) / per_job : 0;
}

size_t max_exec_bytes(const Limits& limits) {
  const size_t room = limits.arg_max;
  const size_t environment = limits.environment_bytes;
  return room > environment + 4096 ? room - environment - 2048 : 2048;
}

bool grouped(const RunConfig& config) {
  return config.max_args > 0 || config.fill != RunConfig::Fill::kNone;
}

size_t fetch_lanes(unsigned cpus, int workers) {
  constexpr int kMinWorkers = 8;
  constexpr int kWorkersALane = 4;
  constexpr size_t kMaxLanes = 4;
  if (cpus < 2 || workers < kMinWorkers) return 1;
  return std::min(
      {static_cast<size_t>(cpus), static_cast<size_t>(workers / kWorkersALane), kMaxLanes});
}

RunPlan make_plan(const RunConfig& config, const Limits& limits) {
  RunPlan plan;
  CommandTemplate::Options words;
  words.plus = config.plus;
  words.replace = config.replace;
  words.spread = template_spread(config);
  words.quote_words = config.quote;
  if (config.pipe != RunConfig::Pipe::kNone) {
    // A job's record is its stdin: {} stands for nothing (--cat, --fifo: the file's name), and
    // nothing is appended.
    if (!config.pipe_cat && !config.pipe_fifo) words.spread = CommandTemplate::Spread::kNone;
    words.append_record = false;
  }
  plan.command = CommandTemplate(config.command, words);
  const DescriptorFit fit = fit_descriptors(config, limits);
  plan.descriptors = fit.plan;
  plan.pool = pool_layout(config, fit.jobs);
  plan.scheduler = scheduler_options(config, plan.pool, fit.keep_order_window);
  plan.input = input_plan(config, plan.command, fit.jobs, plan.pool.workers, limits);
  plan.resume = resume_plan(config, plan.command);
  plan.executor = executor_plan(config);
  plan.executor.process.kept_pipes = fit.kept_pipes;
  plan.executor.process.shell = limits.shell;
  if (plan.executor.kind == ExecutorKind::kFetch) {
    plan.scheduler.timeout = Duration::zero();
    plan.executor.fetch.lanes = fetch_lanes(limits.cpus, plan.pool.workers);
  }
  plan.outputs = output_plan(config);
  if (config.progress) {
    plan.scheduler.tick_interval =
        limits.stderr_smart_terminal ? std::chrono::milliseconds(100) : config.progress_interval;
    plan.executor.fetch.progress_every = plan.scheduler.tick_interval;
  }
  plan.compare = config.compare;
  if (!config.fetch) plan.max_line = config.max_chars;
  CommandTemplate::Options key;
  key.replace = config.replace;
  key.append_record = false;
  for (const KeyedLimit& limit : config.limits)
    plan.limit_keys.emplace_back(std::vector{limit.name}, key);
  key.plus = config.plus;
  for (const std::string& file : config.transfer_files)
    plan.send_files.emplace_back(std::vector{file}, key);
  for (const std::string& file : config.return_files)
    plan.return_files.emplace_back(std::vector{file}, key);
  return plan;
}

RunPlan compare_plan(const RunPlan& plan, DispatchMode mode) {
  RunPlan one = plan;
  one.scheduler.mode = mode;
  // Records are read once, before the runs, with neither --priority-col nor --max-records.
  one.scheduler.max_records = 0;
  one.scheduler.window = SchedulerOptions{}.window;
  one.input.read_inline = true;
  one.input.priority_col = 0;
  one.resume.reset();
  one.executor.kind = ExecutorKind::kProcess;
  one.executor.process.output = OutputMode::kDiscard;
  // Each run's outputs are the comparison's own: none but a timeline of its own.
  OutputPlan outputs;
  outputs.print_output = false;
  outputs.summary = SummaryWhen::kNever;
  outputs.draw_timeline = plan.outputs.draw_timeline;
  outputs.timeline_title = mode == DispatchMode::kBatch ? "batch mode" : "pool mode";
  one.outputs = std::move(outputs);
  one.scheduler.tick_interval = Duration::zero();
  return one;
}

}  // namespace taskpool
