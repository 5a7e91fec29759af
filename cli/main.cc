// taskpool: wires the pieces together. Parses flags, reads records on a thread of their own into
// the bounded queue, runs the scheduler over the process executor, prints and reports.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "cli/control.h"
#include "cli/fetch.h"
#include "cli/joblog.h"
#include "cli/live.h"
#include "cli/options.h"
#include "cli/output_watch.h"
#include "cli/printer.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/timeline.h"
#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/input.h"
#include "core/scheduler.h"
#include "core/template.h"
#include "tasks/adopted.h"
#include "tasks/dry_run_executor.h"
#include "tasks/fetch_executor.h"
#include "tasks/host_executor.h"
#include "tasks/process_executor.h"
#include "tasks/refusing_executor.h"

namespace taskpool {
namespace {

// Exit statuses, as GNU parallel's.
constexpr int kMaxFailedStatus = 101;
constexpr int kUsageStatus = 255;

std::atomic<int> g_stop_signals{0};
static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");
// Written by the stop signals' handler; the executors wait on it (see their wake_fd option).
int g_signal_wake_fd = -1;

void on_stop_signal(int) {
  const int saved_errno = errno;
  g_stop_signals.fetch_add(1);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_signal_wake_fd, &one, sizeof one);
  errno = saved_errno;
}

// Installs the handlers, blocks SIGCHLD (in this thread and every thread made after), and
// returns the mask from before, which children and ppoll use. SIGINT, SIGTERM and SIGHUP are not
// blocked: a blocked signal that comes twice before it is handled counts once, and a second
// Ctrl-C must not be lost. Their handler wakes the executor's ppoll through an eventfd, so one
// that comes just before ppoll starts is not slept through either.
sigset_t setup_signals() {
  g_signal_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g_signal_wake_fd < 0) die_on_system_error("eventfd");
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESTART;  // the calls they interrupt go on, but ppoll
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&action.sa_mask, sig);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  install_child_signal_handler();
  install_live_signal_handlers(g_signal_wake_fd);
  signal(SIGPIPE, SIG_IGN);  // a closed stdout is an EPIPE we handle, not a death
  // Under `ulimit -f`, a write past the limit is an EFBIG that the joblog, the summary, the
  // temporary output files and downloads report, not a silent death that leaves jobs running.
  // Jobs get it back at its default (see ProcessExecutor).
  signal(SIGXFSZ, SIG_IGN);

  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigset_t original;
  if (pthread_sigmask(SIG_BLOCK, &handled, &original) != 0) die_on_system_error("pthread_sigmask");
  return original;
}

std::unique_ptr<RecordStream> open_records(const RunConfig& config, const RecordLimit& limit) {
  std::vector<std::unique_ptr<ValueSource>> sources;
  std::vector<bool> linked;
  for (const std::string& path : config.arg_files) {
    sources.push_back(open_file_source(path, config.delimiter, limit));
    linked.push_back(false);
  }
  for (const auto& source : config.sources) {
    if (source.file) {
      sources.push_back(open_file_source(*source.file, config.delimiter, limit));
    } else {
      sources.push_back(std::make_unique<ListSource>(source.values));
    }
    linked.push_back(source.linked);
  }
  if (sources.empty()) {
    if (isatty(STDIN_FILENO)) {
      std::fputs("taskpool: reading records from the terminal (end with Ctrl-D)\n", stderr);
    }
    sources.push_back(
        std::make_unique<FileSource>(STDIN_FILENO, config.delimiter, "stdin", false, limit));
    linked.push_back(false);
  }
  if (config.eof_string) {
    for (auto& source : sources) {
      source = std::make_unique<EndAtSource>(std::move(source), *config.eof_string);
    }
  }
  std::optional<ColumnSplitter> columns;
  if (config.colsep) columns.emplace(*config.colsep);
  return std::make_unique<RecordStream>(std::move(sources), std::move(columns), std::move(linked));
}

// Jobs from the bounded queue that the reader thread fills.
class QueueJobSource final : public JobSource {
 public:
  QueueJobSource(BoundedQueue<Record>& queue, const std::atomic<uint64_t>& seen)
      : queue_(queue), seen_(seen) {}
  uint64_t records_seen() const override { return seen_.load(std::memory_order_relaxed); }
  State poll(Record& out) override {
    switch (queue_.try_pop(out)) {
      case BoundedQueue<Record>::State::kItem:
        return State::kReady;
      case BoundedQueue<Record>::State::kEmpty:
        return State::kNotYet;
      case BoundedQueue<Record>::State::kClosed:
        return State::kEnd;
    }
    return State::kEnd;
  }

 private:
  BoundedQueue<Record>& queue_;
  const std::atomic<uint64_t>& seen_;
};

// Jobs from records held in memory (--compare runs the same input twice).
class MemoryJobSource final : public JobSource {
 public:
  explicit MemoryJobSource(const std::vector<Record>& records) : records_(records) {}
  State poll(Record& out) override {
    if (pos_ == records_.size()) return State::kEnd;
    out = records_[pos_++];
    return State::kReady;
  }

 private:
  const std::vector<Record>& records_;
  size_t pos_ = 0;
};

// "exited with status 3", "was killed by signal 9", "timed out".
std::string outcome(const Completion& completion) {
  if (completion.timed_out) return "timed out";
  if (!completion.started) return completion.error;
  if (completion.signal != 0) return fmt::format("was killed by signal {}", completion.signal);
  return fmt::format("exited with status {}", completion.exit_status);
}

// Feeds the printer and the joblog. An output error stops the run: nothing more is started,
// running jobs are terminated, and the error is reported at the end.
class Reporter final : public RunObserver {
 public:
  // The printer writes the joblog's lines, each once its job's output is out.
  explicit Reporter(OutputPrinter* printer) : printer_(printer) {}

  // With --fetch: the downloads' report.
  void set_fetch(FetchReport* report) { fetch_report_ = report; }

  // --progress: the display, and where the counts of records read come from.
  void set_progress(ProgressDisplay* display, std::function<std::pair<uint64_t, bool>()> input) {
    progress_ = display;
    input_ = std::move(input);
  }
  // -S: which host each worker belongs to, for the jobs counted per host.
  void set_hosts(std::vector<int> worker_host, size_t hosts) {
    worker_host_ = std::move(worker_host);
    host_jobs_.assign(hosts, 0);
  }
  const std::vector<uint64_t>& host_jobs() const { return host_jobs_; }
  void host_down(const SshLogin& host, const std::string& reason) {
    say(fmt::format("taskpool: {} is down ({}); no more jobs go there\n", host.text, reason));
  }
  // --timeline: where attempts are drawn.
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }

  void on_start(const Job& job, const Attempt& attempt) override {
    ++running_;
    guard([&] {
      if (printer_) printer_->job_started(job, attempt);
    });
  }
  void on_retry(const Job& job, const Attempt& attempt, const Completion& completion,
                Duration delay) override {
    --running_;
    if (fetch_report_) fetch_report_->add_attempt(completion);
    if (timeline_) timeline_->add(completion, true);
    say(fmt::format("taskpool: job {} {} (attempt {}); retrying in {}: {}\n", job.seq,
                    outcome(completion), attempt.number, human_duration(delay),
                    attempt.command.line));
  }
  void on_returned(const Job&, const Attempt&, const Completion&) override { --running_; }
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override {
    --running_;
    ++done_;
    if (!worker_host_.empty()) {
      ++host_jobs_[static_cast<size_t>(worker_host_[static_cast<size_t>(attempt.worker - 1)])];
    }
    if (!completion.succeeded()) ++failed_;
    if (timeline_) timeline_->add(completion, false);
    if (fetch_report_) {
      fetch_report_->add_attempt(completion);
      if (!completion.succeeded()) fetch_report_->add_failure(attempt.command.line, completion);
    }
    if (!completion.succeeded() && !completion.error.empty()) {
      say("taskpool: " + completion.error + "\n");
    } else if (completion.timed_out) {
      say(fmt::format("taskpool: job {} {}: {}\n", job.seq, outcome(completion),
                      attempt.command.line));
    }
    guard([&] {
      if (!printer_) return;
      if (progress_ && printer_->has_output(completion)) progress_->clear();
      printer_->job_ended(job, attempt, completion);
    });
    show_progress(false);
  }
  void on_tick(TimePoint) override { show_progress(false); }
  void on_workers_limited(int from, int to, const Completion& completion) override {
    if (std::exchange(limited_, true)) return;  // once, as the file-descriptor warning
    say(fmt::format("taskpool: warning: no more processes could start ({}); running -j {} instead "
                    "of -j {} (raise the process limit, ulimit -u, to run more)\n",
                    completion.error, to, from));
  }
  void on_skipped(uint64_t seq) override {
    guard([&] {
      if (printer_) printer_->skip(seq);
    });
  }
  // The run is over: -k output still held for jobs that never ended.
  void finish_output() {
    guard([&] {
      if (!printer_ || printer_->held() == 0) return;
      if (progress_) progress_->clear();
      printer_->finish();
    });
  }
  void lines(WorkerId worker, Stream stream, std::string_view data) {
    guard([&] {
      if (progress_) progress_->clear();
      printer_->lines(worker, stream, data);
    });
  }
  // The last progress line, at the end of the run.
  void finish_progress() {
    if (progress_) guard([&] { progress_->finish(counters()); });
  }

  // A message on stderr from elsewhere (warnings while the run goes on).
  void message(const std::string& text) { say(text); }
  void clear_progress() {
    if (progress_) guard([&] { progress_->clear(); });
  }

  // An error found elsewhere that stops the run as an output error does.
  void fail(const std::string& message) {
    if (error_.empty()) error_ = message;
  }
  // Standard output was closed by its reader, seen before any write failed (OutputWatch).
  void output_closed() { broken_pipe_ = true; }
  bool failed() const { return broken_pipe_ || !error_.empty(); }
  bool broken_pipe() const { return broken_pipe_; }
  const std::string& error() const { return error_; }

 private:
  template <typename F>
  void guard(F&& f) {
    if (broken_pipe_) return;
    try {
      f();
    } catch (const BrokenPipe&) {
      broken_pipe_ = true;
    } catch (const Error& e) {
      if (error_.empty()) error_ = e.what();
    }
  }

  ProgressCounters counters() const {
    ProgressCounters c;
    c.done = done_;
    c.failed = failed_;
    c.running = running_;
    if (input_) std::tie(c.read, c.input_complete) = input_();
    c.read = std::max(c.read, done_ + running_);
    c.elapsed = std::chrono::steady_clock::now() - start_;
    return c;
  }
  void show_progress(bool force) {
    if (progress_)
      guard([&] { progress_->update(counters(), std::chrono::steady_clock::now(), force); });
  }
  // A message on stderr, with the progress line out of its way.
  void say(const std::string& message) {
    guard([&] {
      if (progress_) progress_->clear();
      write_all(STDERR_FILENO, message, "standard error");
    });
  }

  OutputPrinter* printer_;
  ProgressDisplay* progress_ = nullptr;
  std::function<std::pair<uint64_t, bool>()> input_;
  Timeline* timeline_ = nullptr;
  uint64_t done_ = 0;
  uint64_t failed_ = 0;
  uint64_t running_ = 0;
  TimePoint start_ = std::chrono::steady_clock::now();
  FetchReport* fetch_report_ = nullptr;
  std::vector<int> worker_host_;
  std::vector<uint64_t> host_jobs_;
  bool broken_pipe_ = false;
  bool limited_ = false;  // the pool shrank for want of processes, and it was said
  std::string error_;
};

StopRequest stop_request(const Reporter& reporter) {
  if (reporter.failed() || g_stop_signals >= 2) return StopRequest::kImmediate;
  if (g_stop_signals == 1) return StopRequest::kGraceful;
  return StopRequest::kNone;
}

int exit_status(const RunStats& stats) {
  if (stats.halt_exit_status) return std::min(*stats.halt_exit_status, 255);
  const uint64_t failed = stats.failed + stats.not_started;
  return failed > kMaxFailedStatus - 1 ? kMaxFailedStatus : static_cast<int>(failed);
}

// Writes the --summary-json document to `path` ("-" is standard output).
void write_json(const std::string& path, const std::string& json) {
  if (path == "-") {
    write_all(STDOUT_FILENO, json + "\n", "standard output");
    return;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw system_error("--summary-json: cannot open '" + path + "'");
  const std::string what = "--summary-json file '" + path + "'";
  try {
    write_all(fd, json + "\n", what.c_str());
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw system_error("--summary-json: cannot write '" + path + "'");
}

void write_summaries(const RunConfig& config, const RunStats& stats, const FetchReport* fetch,
                     const std::vector<HostReport>& hosts) {
  const bool text = config.summary == SummaryWhen::kAlways ||
                    (config.summary == SummaryWhen::kAuto && isatty(STDERR_FILENO));
  if (text) {
    std::string summary = summary_text(stats);
    if (fetch) summary += fetch->text(stats.wall());
    summary += hosts_text(hosts);
    std::fputs(summary.c_str(), stderr);
  }
  if (!config.summary_json) return;
  const std::string mode = config.mode == DispatchMode::kBatch ? "batch" : "pool";
  std::string json = summary_json(stats, mode);
  if (fetch) json.insert(json.size() - 1, ", \"fetch\": " + fetch->json(stats.wall()));
  if (!hosts.empty()) json.insert(json.size() - 1, ", \"hosts\": " + hosts_json(hosts));
  write_json(*config.summary_json, json);
}

// With -S: each host's workers (N/, else -j); without: -j on this machine.
std::vector<int> host_workers(const RunConfig& config) {
  std::vector<int> workers;
  for (const SshLogin& host : config.hosts) {
    workers.push_back(host.workers != 0 ? host.workers : config.jobs);
  }
  return workers;
}

int total_workers(const RunConfig& config) {
  if (config.hosts.empty()) return config.jobs;
  int total = 0;
  for (const int n : host_workers(config)) total += n;
  return total;
}

SchedulerOptions scheduler_options(const RunConfig& config, uint64_t max_keep_order_window) {
  SchedulerOptions options;
  options.workers = total_workers(config);
  if (!config.hosts.empty()) options.worker_groups = interleave_groups(host_workers(config));
  options.mode = config.mode;
  options.retry = config.retry;
  options.timeout = config.timeout;
  options.kill_after = config.kill_after;
  options.rate = config.rate;
  options.burst = config.burst;
  options.deadline = config.deadline;
  options.grace = config.grace;
  options.halt = config.halt;
  // Bounds what -k holds back: a few times the workers, at least 1024 jobs.
  if (config.keep_order) {
    const auto workers = static_cast<uint64_t>(options.workers);
    options.keep_order_window = std::min(std::max<uint64_t>(1024, 4 * workers),
                                         std::max<uint64_t>(max_keep_order_window, workers));
  }
  return options;
}

// File descriptors. A running command holds its two pipes and, once its output passes the memory
// limit, up to two temporary files; a download its socket, its .part file and libcurl's share (a
// cached connection, the resolver's pair). A dry run and --compare (output discarded) need none
// per job. With -k, each job that ended and waits for earlier ones may keep two temporary files.
// taskpool's own (/dev/null, the wake-up, joblog, summary, timeline) and a job being started.
constexpr rlim_t kReservedDescriptors = 16;

rlim_t descriptors_per_job(const RunConfig& config) {
  if (config.dry_run || config.compare) return 0;
  if (config.fetch) return 6;
  return config.feedback ? 5 : 4;  // --feedback: the pipe on descriptor 3 too
}

rlim_t open_descriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 3;
  rlim_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;  // not the directory's own
}

// Raises the soft RLIMIT_NOFILE as far as -j needs, within the hard limit (jobs inherit it).
// When even the hard limit is too low, runs fewer workers and says so on stderr: failing jobs
// with EMFILE mid-run would be worse. Returns the longest -k window whose held output fits.
uint64_t fit_descriptors(RunConfig& config) {
  const rlim_t per_job = descriptors_per_job(config);
  rlimit limit{};
  if (per_job == 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0) return UINT64_MAX;
  const rlim_t files =
      config.arg_files.size() +
      static_cast<rlim_t>(std::count_if(config.sources.begin(), config.sources.end(),
                                        [](const auto& s) { return s.file.has_value(); }));
  const rlim_t base = open_descriptors() + files + kReservedDescriptors;
  // With -S, every host's workers run local processes (ssh clients) too.
  const rlim_t needed = base + per_job * static_cast<rlim_t>(total_workers(config));
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  if (limit.rlim_cur < needed && config.hosts.empty()) {
    const rlim_t room = limit.rlim_cur > base ? (limit.rlim_cur - base) / per_job : 0;
    const int jobs = static_cast<int>(std::max<rlim_t>(1, room));
    std::fputs(fmt::format("taskpool: warning: only enough file descriptors (ulimit -n: {}) for "
                           "{} jobs at once; running -j {} instead of -j {} (raise the hard "
                           "limit, ulimit -Hn, to run more)\n",
                           limit.rlim_cur, jobs, jobs, config.jobs)
                   .c_str(),
               stderr);
    config.jobs = jobs;
  }
  const rlim_t used = base + per_job * static_cast<rlim_t>(total_workers(config));
  return limit.rlim_cur > used ? (limit.rlim_cur - used) / 2 : 0;
}

// The most workers the file-descriptor limit allows (raising the soft limit as far as the hard
// one when `wanted` needs it), for a pool that grows while it runs; `running` jobs hold their
// descriptors now.
int fit_workers(const RunConfig& config, int wanted, size_t running) {
  const rlim_t per_job = descriptors_per_job(config);
  rlimit limit{};
  if (per_job == 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  const rlim_t open = open_descriptors();
  const rlim_t held = per_job * running;
  const rlim_t base = (open > held ? open - held : 0) + kReservedDescriptors;
  const rlim_t needed = base + per_job * static_cast<rlim_t>(wanted);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return wanted;
  // Of the descriptors open now, the running jobs' are counted in `base` already: a rough
  // bound, on the safe side.
  const rlim_t room = limit.rlim_cur > base ? (limit.rlim_cur - base) / per_job : 0;
  return static_cast<int>(std::clamp<rlim_t>(room, 1, static_cast<rlim_t>(wanted)));
}

// What exec accepts, as xargs computes it. The whole line may be one argument (the shell gets it
// so), and Linux takes at most 128 KiB for one argument. All arguments with their pointers, and
// the environment, share ARG_MAX; a margin of 2048 bytes is kept, as xargs keeps.
constexpr size_t kMaxArgument = 128 * 1024 - 1;

size_t max_exec_bytes() {
  const long arg_max = sysconf(_SC_ARG_MAX);
  size_t environment = 0;
  for (char** e = environ; *e != nullptr; ++e) environment += std::strlen(*e) + 1 + sizeof(char*);
  const size_t room = arg_max > 0 ? static_cast<size_t>(arg_max) : 131072;
  return room > environment + 4096 ? room - environment - 2048 : 2048;
}

// Whether several records may make one job (-n, -N, -L, -X, -m).
bool grouped(const RunConfig& config) {
  return config.max_args > 0 || config.fill != RunConfig::Fill::kNone;
}

// The most taskpool keeps of a record that the command line does not show whole ({#}, {/},
// {N}, a --colsep column): no command line bounds its length there, but memory must.
constexpr size_t kMaxKeptRecord = 16 * 1024 * 1024;

// The longest record worth keeping (longer ones are read past, and their jobs fail), and how a
// message says what bounds it.
struct RecordBound {
  RecordLimit limit;
  const char* problem;    // "argument too long"
  const char* more_than;  // "more than the system lets a program take"
};

// A record that is one argument whole (a command's {} or appended record, one of -X, -m or -n,
// a URL, which curl too takes as one argument) binds to the 128 KiB of one argument; one that
// may become several words (with --colsep {} is its columns; a record that is a whole command
// line runs as its words when it needs no shell) to all that exec takes; one the command line
// does not show whole, to kMaxKeptRecord.
RecordBound record_bound(const RunConfig& config, const CommandTemplate& command) {
  using Use = CommandTemplate::RecordUse;
  RecordBound bound{{}, "argument too long", "more than the system lets a program take"};
  if (config.fetch) {
    bound.limit.max_bytes = kMaxArgument;
    bound.problem = "URL too long";
    bound.more_than = "more than a URL may have, as one argument of curl";
  } else if (command.record_use() != Use::kWhole) {
    bound.limit.max_bytes = kMaxKeptRecord;
    bound.problem = "record too long";
    bound.more_than = "more than taskpool keeps of a record the command line does not show whole";
  } else {
    const bool words = config.colsep || command.record_is_command();
    bound.limit.max_bytes = words ? max_exec_bytes() : kMaxArgument;
  }
  bound.limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  return bound;
}

// The command of a job whose record was refused (Record::runnable), made of what was kept of
// the record (for the joblog): it fails without running, with a message as an exec refused
// for E2BIG gives (see ProcessExecutor) or the reason --colsep could not split the record.
Command refused_command(const RunConfig& config, const CommandTemplate& command,
                        const RecordBound& bound, const Job& job, WorkerId worker) {
  Command refused(config.fetch ? job.record.fields.front() + "..."
                               : command.expand(job, worker).line);
  if (!job.record.refused.empty()) {
    refused.refused = job.record.refused;
    return refused;
  }
  refused.refused = fmt::format("{}: {}: the record of job {} is {} bytes, {} ({} bytes)",
                                refused.line.substr(0, refused.line.find_first_of(" \t\n")),
                                bound.problem, job.seq, job.record.too_long, bound.more_than,
                                bound.limit.max_bytes);
  return refused;
}

// How records become jobs: one each, or grouped for -n, -N, -L, -X, -m.
std::optional<RecordGrouper::Options> grouping(const RunConfig& config,
                                               const CommandTemplate& command) {
  if (!grouped(config)) return std::nullopt;
  RecordGrouper::Options options;
  options.max_records = config.max_args;
  options.continue_lines = config.continue_lines;
  if (!config.positional) {
    options.max_length = std::min(kMaxArgument, config.max_chars.value_or(SIZE_MAX));
    options.max_exec_bytes = max_exec_bytes();
    const WorkerId widest = total_workers(config);
    // A copy: the reader thread may outlive run() when it is stuck reading a terminal.
    options.length = [command, widest](const Record& record, bool first) -> RecordGrouper::Measure {
      if (!first) return {command.added_length(record), command.added_words(record)};
      // Measured with a 13-digit {#}, wider than any run's; "+ 1" for the terminating NUL.
      const Command c = command.expand(Job{1'000'000'000'000, record}, widest);
      return {c.line.size() + 1, c.argv.empty() ? 3 : c.argv.size()};
    };
  }
  if (config.fill != RunConfig::Fill::kNone) {
    options.spread_over = static_cast<size_t>(total_workers(config));
  }
  return options;
}

// --resume and --resume-failed know jobs by their numbers. When several records make a job, which
// records make job N depends on -j, -s, the stack limit and the size of the environment, so job
// N of this run may hold other records than job N of the joblog: skipping it, or running it
// again, would leave records out or run them twice. So each job the joblog lists must run the
// command it ran there; the input ends at the first that does not (the jobs before it are the
// joblog's own), and the run fails with a message. Empty when the check is not needed.
std::function<void(uint64_t, const Record&)> resume_check(
    const RunConfig& config, const CommandTemplate& command,
    const std::shared_ptr<const LoggedJobs>& logged) {
  if (!grouped(config)) return {};
  const std::string flag =
      config.resume == RunConfig::Resume::kSucceeded ? "--resume-failed" : "--resume";
  const std::string joblog = *config.joblog;
  // Copies: the reader thread may outlive run() when it is stuck reading a terminal.
  return [command, logged, flag, joblog](uint64_t seq, const Record& record) {
    const auto it = logged->find(seq);
    const Job job{seq, record};
    if (it == logged->end() || same_command(it->second, command, job)) return;
    const std::string line = command.expand(job, 1).line;
    throw UsageError(fmt::format(
        "{}: job {} would run '{}{}', not the command the joblog '{}' lists for job {}: with "
        "-n, -N, -L, -X or -m, which records make a job depends on -j, -s, the stack limit "
        "(ulimit -s) and the size of the environment, besides the input and the command; run "
        "with the same ones as the run that wrote the joblog, or start a new joblog",
        flag, seq, line.substr(0, 60), line.size() > 60 ? "..." : "", joblog, seq));
  };
}

int run_compare(const RunConfig& config, const CommandTemplate& command, const sigset_t& mask,
                uint64_t max_keep_order_window, Guardian* guardian) {
  std::vector<Record> records;
  const RecordBound bound = record_bound(config, command);
  auto stream = open_records(config, bound.limit);
  std::optional<RecordGrouper> grouper;
  if (auto options = grouping(config, command)) grouper.emplace(*stream, std::move(*options));
  while (auto record = grouper ? grouper->next() : stream->next()) {
    records.push_back(std::move(*record));
  }

  SteadyClock clock;
  auto build = [&](const Job& job, WorkerId worker) {
    if (!job.record.runnable()) {
      return refused_command(config, command, bound, job, worker);
    }
    return command.expand(job, worker);
  };
  RunStats results[2];
  const DispatchMode modes[2] = {DispatchMode::kBatch, DispatchMode::kPool};
  std::vector<Timeline> timelines;
  timelines.reserve(2);
  for (int i = 0; i < 2; ++i) {
    Reporter reporter(nullptr);
    if (config.timeline) {
      timelines.emplace_back(i == 0 ? "batch mode" : "pool mode", total_workers(config),
                             clock.now());
      reporter.set_timeline(&timelines.back());
    }
    ProcessExecutorOptions exec_options;
    exec_options.output = OutputMode::kDiscard;
    exec_options.wake_fd = g_signal_wake_fd;
    exec_options.keep_background = config.keep_background;
    exec_options.kill_after = config.kill_after;
    exec_options.guardian = guardian;
    RefusingExecutor executor(std::make_unique<ProcessExecutor>(exec_options, mask), clock);
    MemoryJobSource source(records);
    SchedulerOptions options = scheduler_options(config, max_keep_order_window);
    options.mode = modes[i];
    LiveControl::Options live;
    live.jobs_file = config.jobs_file;
    live.fit = [&config](int wanted, size_t running) {
      return fit_workers(config, wanted, running);
    };
    live.say = [&reporter](const std::string& message) { reporter.message(message); };
    live.stop_self = [] { raise(SIGSTOP); };
    LiveControl live_control(std::move(live));
    options.live = [&live_control](Scheduler& s, TimePoint now) {
      return live_control.poll(s, now);
    };
    Scheduler scheduler(options, clock, executor, source, build, reporter,
                        [&] { return stop_request(reporter); });
    results[i] = scheduler.run();
    if (config.timeline) {
      timelines.back().finish(results[i].end);
      timelines.back().set_worker_changes(results[i].worker_changes);
    }
    if (g_stop_signals > 0) break;
  }
  if (config.timeline) {
    std::vector<const Timeline*> runs;
    runs.reserve(timelines.size());
    for (const Timeline& t : timelines) runs.push_back(&t);
    write_timeline(*config.timeline, runs);
  }
  std::string text = comparison_text(results[0], results[1]);
  write_all(STDOUT_FILENO, text, "standard output");
  if (config.summary_json) {
    write_json(*config.summary_json, comparison_json(results[0], results[1]));
  }
  return std::max(exit_status(results[0]), exit_status(results[1]));
}

// --priority-col: column `col` (from 1) of the record as a number; a missing or empty column is
// 0. nullopt when it is not a number.
std::optional<double> record_priority(const Record& record, size_t col) {
  if (col > record.fields.size()) return 0.0;
  std::string_view text = record.fields[col - 1];
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return 0.0;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || std::isnan(value)) {
    return std::nullopt;
  }
  return value;
}

// Reading the input: on a thread of its own (run()), or for input all in memory on the
// scheduler's thread (InlineJobSource). Shared, because a reader thread blocked on a terminal or
// a never-ending pipe cannot be joined at exit: it is then left behind, and the process exit
// ends it.
struct Reader {
  BoundedQueue<Record> queue;
  std::unique_ptr<RecordStream> stream;
  std::unique_ptr<RecordGrouper> grouper;  // set when several records make one job
  std::atomic<bool> done{false};
  std::atomic<uint64_t> seen{0};  // records read so far
  std::string error;              // written by the reader before done
  // Called with each job's number and record as it is read (see resume_check); throws Error to
  // end the input there.
  std::function<void(uint64_t, const Record&)> check;

  Reader(size_t capacity, Executor* executor, std::unique_ptr<RecordStream> records,
         std::optional<RecordGrouper::Options> grouping, size_t priority_col)
      : queue(capacity, [this] { wake(); }),
        stream(std::move(records)),
        priority_col_(priority_col),
        executor_(executor) {
    if (grouping) grouper = std::make_unique<RecordGrouper>(*stream, std::move(*grouping));
  }

  // Before the executor goes: a reader left behind must not wake it any more.
  void forget_executor() {
    const std::lock_guard lock(executor_mu_);
    executor_ = nullptr;
  }

  // The next record (or group of records), counted; nullopt at the end. Throws Error for input
  // that ends the run.
  std::optional<Record> next() {
    std::optional<Record> record = grouper ? grouper->next() : stream->next();
    if (!record) return record;
    const uint64_t number = seen.fetch_add(1, std::memory_order_relaxed) + 1;
    if (priority_col_ != 0 && record->runnable() && !record_priority(*record, priority_col_)) {
      // Ends the input here: the records before it run, the run then fails.
      throw UsageError(fmt::format("record {}: column {} is '{}', not a number (--priority-col)",
                                   number, priority_col_,
                                   record->fields[priority_col_ - 1].substr(0, 40)));
    }
    if (check) check(number, *record);
    return record;
  }

  // next(), with the end of the input marked: nullopt (and `done` set) at its end or at input
  // that ends the run (its error kept for the caller).
  std::optional<Record> read() {
    try {
      if (auto record = next()) return record;
    } catch (const Error& e) {
      error = e.what();
    }
    done = true;
    return std::nullopt;
  }

  // The reader thread: fills the queue until the input ends or the queue is cancelled.
  void run() {
    while (auto record = read()) {
      if (!queue.push(std::move(*record))) break;
    }
    done = true;
    queue.close();
  }

 private:
  void wake() {
    const std::lock_guard lock(executor_mu_);
    if (executor_ != nullptr) executor_->wake();
  }

  size_t priority_col_;
  std::mutex executor_mu_;
  Executor* executor_;  // guarded by executor_mu_
};

// Jobs read on the scheduler's thread, as it asks for them: for input that is all in memory
// (::: lists), which no read can block on, no reader thread needs starting (a third of a
// millisecond of a one-job run). It reads as far ahead as the queue would hold, so that the
// records seen (for --halt percentages and the count of jobs not started) are the same.
class InlineJobSource final : public JobSource {
 public:
  InlineJobSource(Reader& reader, size_t read_ahead) : reader_(reader), read_ahead_(read_ahead) {}
  uint64_t records_seen() const override { return reader_.seen.load(std::memory_order_relaxed); }
  State poll(Record& out) override {
    while (!reader_.done && ahead_.size() < read_ahead_) {
      auto record = reader_.read();  // after an error, the records before it run, then it fails
      if (!record) break;
      ahead_.push_back(std::move(*record));
    }
    if (ahead_.empty()) return State::kEnd;
    out = std::move(ahead_.front());
    ahead_.pop_front();
    return State::kReady;
  }

 private:
  Reader& reader_;
  const size_t read_ahead_;
  std::deque<Record> ahead_;
};

// Lets the reader thread go when the run ends, also by an exception (a joinable std::thread
// would end the program): the queue is cancelled, a finished reader is joined, and one blocked
// in read() is left behind, no longer able to wake the executor.
class ReaderStop {
 public:
  ReaderStop(Reader& reader, std::thread& thread) : reader_(reader), thread_(thread) {}
  ~ReaderStop() { stop(); }
  ReaderStop(const ReaderStop&) = delete;
  ReaderStop& operator=(const ReaderStop&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    reader_.queue.cancel();
    reader_.forget_executor();
    if (reader_.done) {
      thread_.join();
    } else {
      thread_.detach();  // blocked in read(); the Reader outlives us through its shared_ptr
    }
  }

 private:
  Reader& reader_;
  std::thread& thread_;
};

// The guardian that ends the jobs if taskpool is killed (see tasks/guardian.h), for runs whose
// jobs are processes. Call before any thread starts.
std::unique_ptr<Guardian> start_guardian(const RunConfig& config) {
  if (config.fetch || config.dry_run) return nullptr;
  std::string error;
  std::unique_ptr<Guardian> guardian = Guardian::start(config.kill_after, error);
  if (!guardian) {
    std::fputs(fmt::format("taskpool: warning: cannot start the guardian process ({}): jobs "
                           "would outlive a taskpool that is killed\n",
                           error)
                   .c_str(),
               stderr);
  }
  return guardian;
}

int run(const RunConfig& config, uint64_t max_keep_order_window) {
  const CommandTemplate command(config.command, config.replace,
                                config.fill == RunConfig::Fill::kContext);
  const std::unique_ptr<Guardian> guardian = start_guardian(config);
  const sigset_t mask = setup_signals();
  // What a job leaves running after it, out of its process group (setsid, a daemon's double
  // fork), comes back to taskpool when its parent ends: reaped, and ended with the run.
  if (!config.keep_background && !config.fetch && !config.dry_run) become_child_subreaper();
  if (config.compare) {
    return run_compare(config, command, mask, max_keep_order_window, guardian.get());
  }

  SchedulerOptions options = scheduler_options(config, max_keep_order_window);
  std::unique_ptr<JobLog> joblog;
  std::shared_ptr<const LoggedJobs> logged;  // --resume: what the joblog lists
  if (config.joblog) {
    if (config.resume != RunConfig::Resume::kNo) {
      logged = std::make_shared<const LoggedJobs>(
          read_joblog(*config.joblog, grouped(config) && command.uses_worker()));
      const bool only_succeeded = config.resume == RunConfig::Resume::kSucceeded;
      options.skip = [logged, only_succeeded](uint64_t seq) {
        const auto it = logged->find(seq);
        return it != logged->end() && (it->second.succeeded || !only_succeeded);
      };
    }
    // As in GNU parallel, a dry run reads the joblog for --resume but leaves it as it is: lines
    // for jobs that never ran would make a later --resume skip them.
    if (!config.dry_run) {
      joblog = std::make_unique<JobLog>(*config.joblog, config.resume != RunConfig::Resume::kNo);
    }
  }
  OutputPrinter printer({config.keep_order, config.tag, config.dry_run});
  printer.set_joblog(joblog.get());
  Reporter reporter(&printer);

  SteadyClock clock;
  Scheduler* scheduler_ptr = nullptr;  // for the executor's callbacks, set once it exists
  std::unique_ptr<Executor> executor;
  const ProcessExecutor* processes = nullptr;  // when jobs are commands
  HostExecutor* remote_executor = nullptr;     // set when jobs run on other machines
  const bool remote = std::ranges::any_of(config.hosts, [](const SshLogin& h) { return !h.local; });
  if (!config.hosts.empty()) {
    std::vector<std::string> host_of_worker;
    for (const int host : options.worker_groups) {
      host_of_worker.push_back(config.hosts[static_cast<size_t>(host)].text);
    }
    reporter.set_hosts(options.worker_groups, config.hosts.size());
    if (joblog) joblog->set_hosts(host_of_worker);
  }
  FetchReport fetch_report;
  if (config.fetch) reporter.set_fetch(&fetch_report);
  if (config.dry_run) {
    executor = std::make_unique<DryRunExecutor>(clock, g_signal_wake_fd, !config.fetch);
  } else if (config.fetch) {
    FetchOptions fetch;
    fetch.output_dir = config.output_dir;
    fetch.overwrite = config.overwrite;
    fetch.resume = config.resume_downloads;
    // A transfer's own timeout, so that it ends as curl's timeout (28) and can be retried.
    fetch.timeout = config.timeout;
    options.timeout = Duration::zero();
    fetch.connect_timeout = config.connect_timeout;
    if (config.stall_timeout) fetch.stall_timeout = *config.stall_timeout;
    fetch.ca_file = config.ca_file;
    fetch.max_per_host = config.max_per_host;
    fetch.limit_rate = config.limit_rate;
    fetch.user_agent = std::string("taskpool/") + TASKPOOL_VERSION;
    fetch.wake_fd = g_signal_wake_fd;
    executor = std::make_unique<FetchExecutor>(std::move(fetch), mask);
  } else {
    ProcessExecutorOptions process;
    process.wake_fd = g_signal_wake_fd;
    process.keep_background = config.keep_background;
    process.kill_after = config.kill_after;
    process.guardian = guardian.get();
    if (config.feedback) {
      std::optional<ColumnSplitter> columns;
      if (config.colsep) columns.emplace(*config.colsep);
      process.on_feed = [&scheduler_ptr, columns](WorkerId worker, std::string line) {
        scheduler_ptr->feed(split_record(std::move(line), columns,
                                         fmt::format("a record fed by worker {}", worker)));
      };
      process.feed_room = [&scheduler_ptr] { return scheduler_ptr->feed_room(); };
      process.feed_closed = [&scheduler_ptr] { return scheduler_ptr->feed_closed(); };
      process.feed_delimiter = config.delimiter;
    }
    if (config.line_buffer) {
      process.output = OutputMode::kLines;
      process.on_output = [&](WorkerId worker, Stream stream, std::string_view data) {
        reporter.lines(worker, stream, data);
      };
    }
    if (remote) {
      HostExecutorOptions hosts;
      hosts.hosts = config.hosts;
      hosts.worker_host = options.worker_groups;
      hosts.ssh = config.ssh;
      hosts.process = std::move(process);
      hosts.on_host_down = [&](const SshLogin& host, const std::string& reason) {
        reporter.host_down(host, reason);
      };
      auto host_executor = std::make_unique<HostExecutor>(std::move(hosts), mask);
      remote_executor = host_executor.get();
      processes = &host_executor->processes();
      executor = std::move(host_executor);
    } else {
      auto process_executor = std::make_unique<ProcessExecutor>(std::move(process), mask);
      processes = process_executor.get();
      executor = std::move(process_executor);
    }
  }
  executor = std::make_unique<RefusingExecutor>(std::move(executor), clock);
  // Output that cannot be kept (no room for a temporary file) stops the run as an output error.
  const auto check_output = [&] {
    if (processes != nullptr && !processes->output_error().empty()) {
      reporter.fail(processes->output_error());
    }
  };

  // The queue holds jobs; with -X and friends one job may hold thousands of records (up to 128
  // KiB of command line, half a MiB in memory), so one job per worker, and one more, is enough
  // read-ahead there: the reader makes one far faster than a process starts. With priorities the
  // scheduler holds the window it orders, and the queue only keeps it filled.
  size_t capacity = grouped(config) ? static_cast<size_t>(config.jobs) + 1
                                    : std::max<size_t>(1024, 2 * static_cast<size_t>(config.jobs));
  if (config.queue_size) capacity = *config.queue_size;
  options.window = config.queue_size.value_or(1024);
  if (config.priority_col != 0) {
    const size_t col = config.priority_col;
    options.priority = [col](const Job& job) {
      return record_priority(job.record, col).value_or(0);
    };
    capacity = std::min<size_t>(capacity, 64);
  }
  options.max_records = config.max_records;

  // The control socket comes before the reader thread: it sets the umask for a moment.
  std::unique_ptr<ControlServer> control;
  if (config.control) {
    control = std::make_unique<ControlServer>(*config.control, [] {
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(g_signal_wake_fd, &one, sizeof one);
    });
  }
  LiveControl::Options live;
  live.jobs_file = config.jobs_file;
  live.resizable = config.hosts.empty();
  live.fit = [&config](int wanted, size_t running) { return fit_workers(config, wanted, running); };
  live.control = control.get();
  live.say = [&reporter](const std::string& message) { reporter.message(message); };
  live.stop_self = [&reporter] {
    reporter.clear_progress();
    raise(SIGSTOP);  // as the default action of Ctrl-Z would; returns on SIGCONT (fg, bg)
  };
  LiveControl live_control(std::move(live));
  options.live = [&live_control](Scheduler& s, TimePoint now) { return live_control.poll(s, now); };

  const RecordBound bound = record_bound(config, command);
  auto reader = std::make_shared<Reader>(capacity, executor.get(), open_records(config, bound.limit),
                                         grouping(config, command), config.priority_col);
  if (logged) reader->check = resume_check(config, command, logged);
  const bool in_memory = config.arg_files.empty() && !config.sources.empty() &&
                         std::ranges::none_of(config.sources, [](const auto& source) {
                           return source.file.has_value();
                         });
  std::thread reader_thread;
  if (!in_memory) {
    try {
      reader_thread = std::thread([reader] { reader->run(); });
    } catch (const std::system_error& e) {
      // Under ulimit -u a thread is one more process: none may be left.
      throw Error(std::string("cannot start the thread that reads the input: ") + e.what());
    }
  }
  ReaderStop reader_stop(*reader, reader_thread);

  QueueJobSource queued(reader->queue, reader->seen);
  InlineJobSource inline_source(*reader, capacity);
  JobSource* source = &queued;
  if (in_memory) source = &inline_source;
  // Downloads are named as their records are taken, whichever of their jobs run.
  std::optional<FetchNamer> fetch_names;
  if (config.fetch) {
    FetchNamer::Options naming;
    naming.output_dir = config.output_dir;
    naming.keep_existing = config.resume_downloads;
    fetch_names.emplace(*source, std::move(naming));
    source = &*fetch_names;
  }
  std::optional<ProgressDisplay> progress;
  if (config.progress) {
    const bool terminal = is_smart_terminal(STDERR_FILENO);
    const bool color = terminal && std::getenv("NO_COLOR") == nullptr;
    progress.emplace(STDERR_FILENO, terminal, config.progress_interval, config.eta, color);
    progress->set_bar(config.bar);
    options.tick_interval = terminal ? std::chrono::milliseconds(100) : config.progress_interval;
    reporter.set_progress(&*progress, [r = reader.get()] {
      return std::make_pair(r->seen.load(std::memory_order_relaxed), r->done.load());
    });
  }
  std::optional<Timeline> timeline;
  if (config.timeline) {
    timeline.emplace(config.mode == DispatchMode::kBatch ? "batch mode" : "pool mode",
                     total_workers(config), clock.now());
    reporter.set_timeline(&*timeline);
  }
  auto build = [&](const Job& job, WorkerId worker) {
    if (!job.record.runnable()) {
      return refused_command(config, command, bound, job, worker);
    }
    return config.fetch ? FetchNamer::command(job) : command.expand(job, worker);
  };
  // A closed stdout stops the run as a failed write to it would, even while no job prints.
  const OutputWatch output_watch(STDOUT_FILENO, g_signal_wake_fd);
  Scheduler scheduler(std::move(options), clock, *executor, *source, build, reporter, [&] {
    check_output();
    if (output_watch.closed()) reporter.output_closed();
    return stop_request(reporter);
  });
  scheduler_ptr = &scheduler;
  RunStats stats = scheduler.run();
  scheduler_ptr = nullptr;
  control.reset();  // commands from now on find no socket
  reporter.finish_output();
  const bool input_read = reader->done;
  // A record that never ended (`-a /dev/zero`) was being read past when the run stopped.
  const uint64_t unfinished = input_read ? 0 : bound.limit.reading_past->load();
  check_output();
  reporter.finish_progress();

  reader_stop.stop();
  std::vector<HostReport> host_reports;
  if (remote_executor != nullptr) {
    const std::vector<int> workers = host_workers(config);
    for (size_t h = 0; h < config.hosts.size(); ++h) {
      HostReport& report = host_reports.emplace_back();
      report.host = config.hosts[h].text;
      report.workers = workers[h];
      report.jobs = reporter.host_jobs()[h];
      for (const auto& down : remote_executor->down_hosts()) {
        if (down.host != report.host) continue;
        report.down = true;
        report.reason = down.reason;
      }
    }
  }
  executor.reset();

  if (reporter.broken_pipe()) {
    // Behave like a program killed by SIGPIPE, as `yes | head -1` expects: quietly.
    signal(SIGPIPE, SIG_DFL);
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe_only, nullptr);
    raise(SIGPIPE);
  }
  if (timeline) {
    timeline->finish(stats.end);
    timeline->set_worker_changes(stats.worker_changes);
    write_timeline(*config.timeline, {&*timeline});
  }
  if (stats.stop_cause == StopCause::kNoWorkers) {
    std::fprintf(stderr, "taskpool: every host is down; %llu jobs were not run\n",
                 static_cast<unsigned long long>(stats.not_started));
  }
  if (stats.stop_cause == StopCause::kMaxRecords) {
    std::fprintf(stderr,
                 "taskpool: --max-records %llu reached: stopped taking records; %llu more "
                 "were not run\n",
                 static_cast<unsigned long long>(config.max_records),
                 static_cast<unsigned long long>(stats.not_started));
  }
  if (!config.dry_run) {
    write_summaries(config, stats, config.fetch ? &fetch_report : nullptr, host_reports);
  }
  if (reader->done && !reader->error.empty()) {
    std::fprintf(stderr, "taskpool: %s\n", reader->error.c_str());
    return kUsageStatus;
  }
  if (!reporter.error().empty()) {
    std::fprintf(stderr, "taskpool: %s\n", reporter.error().c_str());
    return kUsageStatus;
  }
  int status = exit_status(stats);
  if (unfinished > 0) {
    std::fputs(fmt::format("taskpool: {}: the record being read when the run stopped was {} "
                           "bytes so far, {} ({} bytes); it did not run\n",
                           bound.problem, unfinished, bound.more_than, bound.limit.max_bytes)
                   .c_str(),
               stderr);
    status = std::min(status + 1, kMaxFailedStatus);  // failed, as its job would have
  }
  // Stopped by a signal or the deadline before the input was read to its end: records may be
  // left that no count shows, so even a run that read none has not succeeded.
  const bool cut_short =
      stats.stop_cause == StopCause::kSignal || stats.stop_cause == StopCause::kDeadline;
  return status == 0 && cut_short && !input_read ? 1 : status;
}

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

}  // namespace
}  // namespace taskpool

int main(int argc, char** argv) {
  if (!taskpool::fill_closed_standard_descriptors()) {
    std::fprintf(stderr, "taskpool: cannot open /dev/null for a closed standard stream: %s\n",
                 std::strerror(errno));
    return taskpool::kUsageStatus;
  }
  // `taskpool ctl SOCKET COMMAND`: a client of a running taskpool's --control socket.
  if (argc >= 2 && std::strcmp(argv[1], "ctl") == 0) return taskpool::control_client(argc, argv);
  const taskpool::ParseOutcome parsed = taskpool::parse_command_line(argc, argv);
  if (!parsed.config) return parsed.exit_status;
  taskpool::RunConfig config = *parsed.config;
  const uint64_t max_keep_order_window = taskpool::fit_descriptors(config);
  try {
    return taskpool::run(config, max_keep_order_window);
  } catch (const taskpool::Error& e) {
    std::fprintf(stderr, "taskpool: %s\n", e.what());
    return taskpool::kUsageStatus;
  }
}
