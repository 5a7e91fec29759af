#include "cli/run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>

#include "cli/caller_shell.h"
#include "cli/control.h"
#include "cli/failed_jobs.h"
#include "cli/fetch.h"
#include "cli/job_commands.h"
#include "cli/joblog.h"
#include "cli/limits.h"
#include "cli/live.h"
#include "cli/observers.h"
#include "cli/outcome.h"
#include "cli/output_file.h"
#include "cli/output_watch.h"
#include "cli/printer.h"
#include "cli/progress.h"
#include "cli/record_feed.h"
#include "cli/resume.h"
#include "cli/run_failure.h"
#include "core/scheduler.h"
#include "tasks/agent_executor.h"
#include "tasks/dry_run_executor.h"
#include "tasks/fetch_lanes.h"
#include "tasks/host_executor.h"
#include "tasks/process_executor.h"
#include "tasks/refusing_executor.h"

namespace taskpool {

struct Run::Parts {
  Parts(const RunConfig& c, RunPlan p, Signals& s, Guardian* g)
      : config(c), plan(std::move(p)), signals(s), guardian(g), printer(plan.outputs.printer) {}

  void open_outputs();
  void make_observers();
  void make_executor();
  std::unique_ptr<Executor> make_agent_executor();
  ProcessExecutorOptions process_options();
  void make_live();
  void open_feed(const std::vector<Record>* records);
  void make_scheduler();
  StopOrder stop_request();
  void check_output();
  AttemptPayload build(const Job& job, WorkerId worker) const;
  std::vector<HostReport> host_reports() const;
  void finish_timeline(RunOutcome& outcome);
  std::string summary_json(const RunOutcome& outcome) const;
  void write_summaries(const RunOutcome& outcome);

  const RunConfig& config;
  RunPlan plan;
  Signals& signals;
  Guardian* guardian;
  SteadyClock clock;
  RunFailure failure;

  std::shared_ptr<const LoggedJobs> logged;  // --resume: what the joblog lists
  std::unique_ptr<JobLog> joblog;
  std::optional<OutputFile> summary_file;
  std::optional<OutputFile> timeline_file;

  OutputPrinter printer;
  NoStatusLine no_status_line;
  std::optional<ProgressDisplay> progress_display;
  std::optional<ProgressObserver> progress;
  StatusLine* status = &no_status_line;  // the progress line, when shown
  std::optional<MessageObserver> messages;
  int stops_said = 0;  // stop signals whose effect was announced (at most 2)
  std::optional<ResultsObserver> results;
  std::optional<FilesObserver> files;
  std::optional<OutputObserver> output;
  std::optional<Timeline> timeline;
  std::optional<TimelineObserver> timeline_observer;
  FetchReport fetch_report;
  std::optional<FetchObserver> fetch_observer;
  std::optional<HostTally> tally;
  FailedJobs failed_jobs;
  ObserverFanOut observers;

  std::unique_ptr<Executor> executor;
  const ProcessExecutor* processes = nullptr;     // when jobs are commands
  HostExecutor* hosts = nullptr;                  // when jobs run on other machines
  std::function<FetchProgress()> fetch_progress;  // when jobs are downloads
  std::unique_ptr<ControlServer> control;
  std::optional<LiveControl> live;
  std::unique_ptr<RecordFeed> feed;
  std::optional<FetchNamer> names;
  JobSource* source = nullptr;
  std::optional<OutputWatch> output_watch;
  std::optional<Scheduler> scheduler;
};

// Before anything runs: a path that cannot be written is an error now, not after the run.
void Run::Parts::open_outputs() {
  if (plan.resume) {
    logged = std::make_shared<const LoggedJobs>(
        read_joblog(plan.resume->joblog, plan.resume->keep_commands));
  }
  if (plan.outputs.joblog) {
    joblog = std::make_unique<JobLog>(*plan.outputs.joblog, plan.outputs.joblog_append);
    if (!plan.pool.host_of_worker.empty()) joblog->set_hosts(plan.pool.host_of_worker);
    if (config.fetch) joblog->set_download_dir(config.output_dir);
    printer.set_joblog(joblog.get());
  }
  if (plan.outputs.summary_json) {
    summary_file.emplace("--summary-json", *plan.outputs.summary_json, true);
  }
  if (plan.outputs.timeline) timeline_file.emplace("--timeline", *plan.outputs.timeline, false);
  if (plan.outputs.results) {
    ResultsObserver::Options options;
    options.target = *plan.outputs.results;
    options.replace = config.replace;
    options.plus = config.plus;
    options.names = config.header_names;
    options.host_of_worker = plan.pool.host_of_worker;
    results.emplace(std::move(options), failure);
  }
  if (plan.outputs.files) files.emplace(failure);
}

void Run::Parts::make_observers() {
  if (plan.outputs.progress) {
    const bool terminal = is_smart_terminal(STDERR_FILENO);
    const bool color = terminal && std::getenv("NO_COLOR") == nullptr;
    progress_display.emplace(STDERR_FILENO, terminal, plan.outputs.progress_interval,
                             plan.outputs.eta, color);
    progress_display->set_bar(plan.outputs.bar);
    progress.emplace(*progress_display, failure, [this] {
      ProgressCounters input;
      input.read = feed->records_seen();
      input.input_complete = feed->input_done();
      if (!input.input_complete) input.fraction_read = feed->fraction_read();
      if (fetch_progress) input.bytes = fetch_progress();
      return input;
    });
    status = &*progress;
  }
  messages.emplace(failure, *status);
  messages->set_halt(plan.scheduler.halt);
  messages->set_retries(plan.scheduler.retry.retries);
  if (plan.outputs.print_output) output.emplace(printer, failure, *status);
  if (!plan.pool.worker_host.empty()) tally.emplace(plan.pool.worker_host, config.hosts.size());
  if (config.fetch) {
    fetch_report.set_output_dir(config.output_dir);
    fetch_observer.emplace(fetch_report);
  }
}

ProcessExecutorOptions Run::Parts::process_options() {
  ProcessExecutorOptions process = plan.executor.process;
  process.wake_fd = signals.wake_fd();
  process.guardian = guardian;
  process.feedback = config.feedback;
  process.descriptors_shared = config.control.has_value();  // its clients' connections
  if (process.shell.empty()) process.find_shell = caller_shell;
  if (process.output == OutputMode::kLines) {
    process.on_output = [this](WorkerId worker, Stream stream, std::string_view data) {
      output->lines(worker, stream, data);
    };
  }
  return process;
}

void Run::Parts::make_executor() {
  const sigset_t& mask = signals.original_mask();
  switch (plan.executor.kind) {
    case ExecutorKind::kDryRun:
      executor = std::make_unique<DryRunExecutor>(clock, signals.wake_fd(), !config.fetch);
      break;
    case ExecutorKind::kFetch: {
      FetchOptions fetch = plan.executor.fetch;
      fetch.wake_fd = signals.wake_fd();
      executor = make_fetch_executor(std::move(fetch), mask, fetch_progress);
      break;
    }
    case ExecutorKind::kHosts: {
      HostExecutorOptions options;
      options.hosts = config.hosts;
      options.worker_host = plan.pool.worker_host;
      options.ssh = config.ssh;
      options.env = config.remote_env;
      options.basefiles = config.basefiles;
      options.cleanup = config.cleanup;
      options.process = process_options();
      options.on_host_down = [this](const SshLogin& host, const std::string& reason) {
        messages->host_down(host, reason);
      };
      auto host_executor = std::make_unique<HostExecutor>(std::move(options), mask);
      hosts = host_executor.get();
      processes = &host_executor->processes();
      executor = std::move(host_executor);
      break;
    }
    case ExecutorKind::kAgents:
      executor = make_agent_executor();
      break;
    case ExecutorKind::kProcess: {
      auto process_executor = std::make_unique<ProcessExecutor>(process_options(), mask);
      processes = process_executor.get();
      executor = std::move(process_executor);
      break;
    }
  }
  executor = std::make_unique<RefusingExecutor>(std::move(executor), clock);
}

std::unique_ptr<Executor> Run::Parts::make_agent_executor() {
  AgentExecutorOptions options;
  for (size_t h = 0; h < config.hosts.size(); ++h) {
    options.nodes.push_back(AgentNode{config.hosts[h].text, config.agent_commands.at(h)});
  }
  options.worker_node = plan.pool.worker_host;
  options.heartbeat_timeout = 4 * config.heartbeat;
  const ProcessExecutorOptions process = process_options();
  options.output = process.output;
  options.on_output = process.on_output;
  options.memory_limit = process.memory_limit;
  options.wake_fd = signals.wake_fd();
  options.on_node_down = [this](const std::string& node, const std::string& reason) {
    SshLogin host;
    host.text = host.host = node;
    messages->host_down(host, reason);
  };
  return std::make_unique<AgentExecutor>(std::move(options), signals.original_mask());
}

// The control socket comes before the reader thread: it sets the umask for a moment.
void Run::Parts::make_live() {
  if (config.control) {
    control = std::make_unique<ControlServer>(*config.control, [this] { signals.wake(); });
  }
  LiveControl::Options options;
  options.jobs_file = config.jobs_file;
  options.resizable = config.hosts.empty();
  options.fit = [per_job = descriptors_per_job(config)](int wanted, size_t running) {
    return fit_workers(per_job, wanted, running);
  };
  options.control = control.get();
  options.say = [this](const std::string& message) { messages->say(message); };
  options.stop_self = [this] {
    status->clear();
    signals.stop_process();
  };
  options.signals = [this] { return signals.take_live(); };
  live.emplace(std::move(options));
}

void Run::Parts::open_feed(const std::vector<Record>* records) {
  if (records != nullptr) {
    feed = memory_feed(*records);
  } else {
    FeedOptions options;
    options.limit.max_bytes = plan.input.bound.max_bytes;
    options.limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
    options.grouping = plan.input.grouping;
    if (options.grouping && !config.positional) {
      options.grouping->length = grouping_length(plan.command, plan.pool.workers);
    }
    options.priority_col = plan.input.priority_col;
    if (logged) options.check = resume_check(*plan.resume, plan.command, logged);
    feed = open_record_feed(config, plan.input, std::move(options), [this] { signals.wake(); });
  }
  source = feed.get();
  // Downloads are named as their records are taken, whichever of their jobs run.
  if (config.fetch) {
    FetchNamer::Options naming;
    naming.output_dir = config.output_dir;
    naming.keep_existing = config.resume_downloads;
    names.emplace(*feed, std::move(naming));
    source = &*names;
  }
}

void Run::Parts::make_scheduler() {
  if (plan.outputs.draw_timeline) {
    timeline.emplace(plan.outputs.timeline_title, plan.pool.workers, clock.now());
    timeline_observer.emplace(*timeline);
  }
  // Those that read a completion come before the printer, which moves its output away; the
  // progress line is shown last, after the output.
  for (RunObserver* o : std::initializer_list<RunObserver*>{
           tally ? &*tally : nullptr, timeline_observer ? &*timeline_observer : nullptr,
           fetch_observer ? &*fetch_observer : nullptr, &failed_jobs, &*messages,
           results ? &*results : nullptr, files ? &*files : nullptr, output ? &*output : nullptr,
           progress ? &*progress : nullptr}) {
    if (o != nullptr) observers.add(*o);
  }
  SchedulerOptions options = plan.scheduler;
  if (logged) options.skip = resume_skip(*plan.resume, logged);
  if (const size_t col = plan.input.priority_col; col != 0) {
    options.priority = [col](const Job& job) {
      return record_priority(job.record, col).value_or(0);
    };
  }
  options.live = [this](Scheduler& s, TimePoint now) { return live->poll(s, now); };
  if (!plan.limit_keys.empty()) {
    options.limit_keys = [this](const Job& job) {
      std::vector<std::string> keys;
      for (const CommandTemplate& key : plan.limit_keys) keys.push_back(key.expand_text(job, 0));
      return keys;
    };
  }
  if (config.feedback) {
    std::optional<ColumnSplitter> columns;
    if (config.colsep) columns.emplace(*config.colsep);
    options.fed_record = [columns](WorkerId worker, std::string line) {
      return split_record(std::move(line), columns,
                          fmt::format("a record fed by worker {}", worker));
    };
  }
  // A closed stdout stops the run as a failed write to it would, even while no job prints.
  if (plan.outputs.print_output) output_watch.emplace(STDOUT_FILENO, signals.wake_fd());
  scheduler.emplace(
      std::move(options), clock, *executor, *source,
      [this](const Job& job, WorkerId worker) { return build(job, worker); }, observers,
      [this] { return stop_request(); });
}

StopOrder Run::Parts::stop_request() {
  check_output();
  if (output_watch && output_watch->closed()) failure.output_closed();
  if (failure.stops_run()) return {StopRequest::kImmediate, StopCause::kOutputError};
  const int stops = std::min(signals.stop_count(), 2);
  if (stops == 0) return {};
  // Said once each, with the jobs running when it comes: the first signal lets them finish, a
  // second ends them.
  if (stops > stops_said) {
    const size_t running = scheduler->status().running;
    if (stops_said == 0 && stops == 1) {
      messages->say(first_stop_notice(signals.first_stop_signal(), running));
    } else {
      messages->say(second_stop_notice(running, plan.scheduler.kill_after));
    }
    stops_said = stops;
  }
  return {stops == 2 ? StopRequest::kImmediate : StopRequest::kGraceful, StopCause::kSignal};
}

// Output that cannot be kept (no room for a temporary file) stops the run as an output error.
void Run::Parts::check_output() {
  if (processes != nullptr && !processes->output_error().empty()) {
    failure.fail(processes->output_error());
  }
}

AttemptPayload Run::Parts::build(const Job& job, WorkerId worker) const {
  if (!job.record.runnable()) {
    return refused_command(config.fetch, plan.command, plan.input.bound, job, worker);
  }
  if (config.fetch) return FetchNamer::download(job);
  if (config.pipe_cat || config.pipe_fifo) {
    return with_input_file(plan.command, job, worker, config.pipe_fifo);
  }
  Command command = plan.command.expand(job, worker);
  if (plan.max_line) refuse_if_longer(command, *plan.max_line, job);
  command.input = job.record.input;
  add_transfer_files(plan, job, worker, command);
  return command;
}

std::vector<HostReport> Run::Parts::host_reports() const {
  std::vector<HostReport> reports;
  if (hosts == nullptr) return reports;
  for (size_t h = 0; h < config.hosts.size(); ++h) {
    HostReport& report = reports.emplace_back();
    report.host = config.hosts[h].text;
    report.workers = plan.pool.host_workers[h];
    report.jobs = tally->jobs()[h];
    for (const auto& down : hosts->down_hosts()) {
      if (down.host != report.host) continue;
      report.down = true;
      report.reason = down.reason;
    }
  }
  return reports;
}

void Run::Parts::finish_timeline(RunOutcome& outcome) {
  if (!timeline) return;
  timeline->finish(outcome.stats.end);
  timeline->set_worker_changes(outcome.stats.worker_changes);
  if (timeline_file) timeline_file->write(timeline_svg({&*timeline}));
  outcome.timeline = std::move(timeline);
}

std::string Run::Parts::summary_json(const RunOutcome& outcome) const {
  const RunStats& stats = outcome.stats;
  const std::string mode = plan.scheduler.mode == DispatchMode::kBatch ? "batch" : "pool";
  std::string json = taskpool::summary_json(stats, mode);
  json.insert(json.size() - 1, ", \"failed_jobs\": " + failed_jobs.json());
  if (config.fetch) json.insert(json.size() - 1, ", \"fetch\": " + fetch_report.json(stats.wall()));
  if (!outcome.hosts.empty()) {
    json.insert(json.size() - 1, ", \"hosts\": " + hosts_json(outcome.hosts));
  }
  return json;
}

void Run::Parts::write_summaries(const RunOutcome& outcome) {
  const RunStats& stats = outcome.stats;
  const FetchReport* fetch = config.fetch ? &fetch_report : nullptr;
  const SummaryWhen when = plan.outputs.summary;
  if (when == SummaryWhen::kAlways || (when == SummaryWhen::kAuto && isatty(STDERR_FILENO))) {
    std::string summary = summary_text(stats);
    if (fetch) summary += fetch->text(stats.wall());
    summary += hosts_text(outcome.hosts);
    std::fputs(summary.c_str(), stderr);
  }
  if (!summary_file) return;
  const RunHeader header{run_command(config), exit_status(outcome), stats.start, stats.end};
  summary_file->write(with_header(outcome.json, header) + "\n");
}

Run::Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian)
    : Run(config, std::move(plan), signals, guardian, nullptr) {}

Run::Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian,
         const std::vector<Record>& records)
    : Run(config, std::move(plan), signals, guardian, &records) {}

Run::Run(const RunConfig& config, RunPlan plan, Signals& signals, Guardian* guardian,
         const std::vector<Record>* records)
    : parts_(std::make_unique<Parts>(config, std::move(plan), signals, guardian)) {
  parts_->open_outputs();
  parts_->make_observers();
  parts_->make_executor();
  parts_->make_live();
  parts_->open_feed(records);
  parts_->make_scheduler();
}

Run::~Run() = default;

std::string run_command(const RunConfig& config) {
  std::string command;
  for (const std::string& word : config.command) {
    if (!command.empty()) command += ' ';
    command += word;
  }
  return command;
}

RunOutcome Run::run() {
  Parts& p = *parts_;
  RunOutcome outcome;
  outcome.stats = p.scheduler->run();
  p.control.reset();  // commands from now on find no socket
  if (p.output) p.output->finish();
  outcome.input_read = p.feed->input_done();
  outcome.stats.input_read = outcome.input_read;
  if (outcome.stats.stop_cause == StopCause::kSignal) {
    outcome.stats.stop_signal = p.signals.first_stop_signal();
  }
  outcome.unfinished = outcome.input_read ? 0 : p.feed->reading_past();
  outcome.bound = p.plan.input.bound;
  p.check_output();
  if (p.progress) p.progress->finish();
  p.messages->finish();
  p.feed->stop();
  if (p.feed->input_done() && !p.feed->error().empty()) p.failure.input_failed(p.feed->error());
  outcome.hosts = p.host_reports();
  p.scheduler.reset();
  p.executor.reset();  // ends what is left of the jobs
  outcome.broken_pipe = p.failure.broken_pipe();
  outcome.error = p.failure.message();
  if (outcome.broken_pipe) return outcome;
  p.finish_timeline(outcome);
  const RunStats& stats = outcome.stats;
  if (stats.stop_cause == StopCause::kNoWorkers) {
    std::fprintf(stderr, "taskpool: every host is down; %llu jobs were not run\n",
                 static_cast<unsigned long long>(stats.not_started));
  }
  const StopCause cause = stats.stop_cause;
  if (stats.not_started > 0 && (cause == StopCause::kSignal || cause == StopCause::kDeadline)) {
    std::fputs(fmt::format("taskpool: {} job{} not started (stopped: {})\n", stats.not_started,
                           stats.not_started == 1 ? " was" : "s were", stop_reason(stats))
                   .c_str(),
               stderr);
  }
  if (stats.stop_cause == StopCause::kMaxRecords) {
    std::fprintf(stderr,
                 "taskpool: --max-records %llu reached: stopped taking records; %llu more "
                 "were not run\n",
                 static_cast<unsigned long long>(p.config.max_records),
                 static_cast<unsigned long long>(stats.not_started));
  }
  if (p.summary_file || p.plan.compare) outcome.json = p.summary_json(outcome);  // for readers
  p.write_summaries(outcome);
  return outcome;
}

}  // namespace taskpool
