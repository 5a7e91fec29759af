#include "cli/options.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cli/live.h"
#include "cli/printer.h"
#include "core/command.h"
#include "core/error.h"
#include "core/parse.h"

namespace taskpool {
namespace {

// -j: a number of workers, or a file that holds one (read again while the run goes on).
void parse_jobs(const std::string& value, RunConfig& config) {
  if (std::optional<int> jobs = parse_jobs_value(value, cpu_count())) {
    config.jobs = *jobs;
    return;
  }
  if (value.empty() || access(value.c_str(), F_OK) != 0) {
    throw UsageError("-j/--jobs: '" + value + "' is not a number of workers (" + kJobsForms +
                     ") nor a file that holds one");
  }
  try {
    config.jobs = read_jobs_file(value);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());  // cannot be read: a bad -j value like any other
  }
  config.jobs_file = value;
}

uint64_t parse_count(const char* flag, const std::string& value, uint64_t max) {
  const std::optional<uint64_t> count = parse_whole_number(value);
  if (!count || *count > max) {
    throw UsageError(std::string(flag) + ": '" + value + "' is not a whole number up to " +
                     std::to_string(max));
  }
  return *count;
}

// "500k", "2M", "1G" or a number of bytes, from 1 to 1 TiB (1024G): past it the product of a
// number and its unit would overflow, and no transfer is that fast.
long long parse_bytes(const char* flag, const std::string& value) {
  std::string digits = value;
  long long scale = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        scale = 1024;
        break;
      case 'm':
      case 'M':
        scale = 1024 * 1024;
        break;
      case 'g':
      case 'G':
        scale = 1024LL * 1024 * 1024;
        break;
      default:
        break;
    }
    if (scale != 1) digits.pop_back();
  }
  constexpr uint64_t kMostBytes = 1ULL << 40;
  const std::optional<uint64_t> count = parse_whole_number(digits);
  if (!count || *count == 0 || *count > kMostBytes / static_cast<uint64_t>(scale)) {
    throw UsageError(std::string(flag) + ": '" + value +
                     "' is not a number of bytes from 1 to 1024G (k, M, G: KiB, MiB, GiB)");
  }
  return static_cast<long long>(*count) * scale;
}

DispatchMode parse_mode(const std::string& value) {
  if (value == "pool") return DispatchMode::kPool;
  if (value == "batch") return DispatchMode::kBatch;
  throw UsageError("--mode: '" + value + "' is not a mode (use pool or batch)");
}

// Splits argv at the input-source separators (::: ::::, and :::+ ::::+ to link a source to the
// one before): what comes before goes to CLI11. As in GNU parallel, the first separator ends the
// options and the command.
std::vector<RunConfig::Source> split_sources(int argc, char** argv, int& options_end) {
  std::vector<RunConfig::Source> sources;
  options_end = argc;
  bool file_source = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == ":::" || arg == ":::+" || arg == "::::" || arg == "::::+") {
      if (options_end == argc) options_end = i;
      if (file_source && !sources.back().file) {
        throw UsageError(std::string(argv[i - 1]) + " needs a file name after it");
      }
      RunConfig::Source& source = sources.emplace_back();
      source.linked = arg.back() == '+';
      if (source.linked && sources.size() == 1) {
        throw UsageError(std::string(arg) +
                         " links to the input source before it, and there is none");
      }
      file_source = arg.starts_with("::::");
    } else if (sources.empty()) {
      continue;
    } else if (file_source) {
      // :::: takes any number of files, each a source of its own; only the first is linked.
      if (sources.back().file) sources.emplace_back();
      sources.back().file = std::string(arg);
    } else {
      sources.back().values.emplace_back(arg);
    }
  }
  if (file_source && !sources.back().file) throw UsageError(":::: needs a file name after it");
  return sources;
}

// CLI11's usage line knows nothing of the command and the ::: lists.
class UsageFormatter final : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override {
    return "\nUsage: taskpool [OPTIONS] [--] [COMMAND [ARG...]] [::: VALUES... [::: VALUES...]]\n";
  }
};

std::string help_footer() {
  return R"(
Records come from ::: lists (every combination when there are several), else from -a files,
else from standard input. {} is the record, {.} without extension, {/} basename, {//} dirname,
{/.} basename without extension, {#} the job number, {%} the worker number, {N} the N-th list
or column. A command without any of them gets the record as its last argument; no command
runs each record as a command line.

Exit status: 0 when every job succeeded, else the number of failed jobs (101 for more than
100), 255 for invalid usage.

--compare needs the input twice, so it holds all of it in memory.)";
}

// --help and --version: a failed write (a full disk, an I/O error) is an error, as in a run. A
// closed pipe stays quiet, as it was with stdio: SIGPIPE ends us, or (ignored) the text is lost.
ParseOutcome print_and_exit(const std::string& text) {
  try {
    write_all(STDOUT_FILENO, text, "standard output");
  } catch (const BrokenPipe&) {
  } catch (const Error& e) {
    std::fprintf(stderr, "taskpool: %s\n", e.what());
    return {std::nullopt, 255};
  }
  return {std::nullopt, 0};
}

}  // namespace

char parse_delimiter(const std::string& value) {
  if (value.size() == 1) return value[0];
  if (value == "\\n") return '\n';
  if (value == "\\t") return '\t';
  if (value == "\\r") return '\r';
  if (value == "\\0") return '\0';
  if (value == "\\\\") return '\\';
  if (value.size() == 4 && value[0] == '\\' && value[1] == 'x') {
    unsigned byte = 0;
    const auto [ptr, ec] = std::from_chars(value.data() + 2, value.data() + 4, byte, 16);
    if (ec == std::errc() && ptr == value.data() + 4) return static_cast<char>(byte);
  }
  throw UsageError("-d/--delimiter: '" + value +
                   "' is not one character (or \\n, \\t, \\r, \\0, \\\\, \\xHH)");
}

ParseOutcome parse_command_line(int argc, char** argv) {
  RunConfig config;
  int options_end = argc;
  try {
    config.sources = split_sources(argc, argv, options_end);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "taskpool: %s\n", e.what());
    return {std::nullopt, 255};
  }

  CLI::App app{"taskpool: run commands in parallel through a pool of workers", "taskpool"};
  auto formatter = std::make_shared<UsageFormatter>();
  formatter->column_width(30);
  app.formatter(formatter);
  app.prefix_command();  // the first word that is not an option starts the command
  app.set_version_flag("--version", std::string("taskpool ") + TASKPOOL_VERSION);
  app.footer(help_footer());

  std::string jobs = std::to_string(cpu_count());
  std::string mode = "pool";
  std::string delimiter;
  bool null = false;
  bool summary = false;
  bool no_summary = false;

  const char* input = "Input";
  app.add_option("-a,--arg-file", config.arg_files, "Read records from FILE (repeatable)")
      ->type_name("FILE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->group(input);
  app.add_flag("-0,--null", null, "Records end at NUL, not newline")->group(input);
  app.add_option("-d,--delimiter", delimiter, "Records end at CHAR (\\n, \\t, \\0, \\xHH too)")
      ->type_name("CHAR")
      ->group(input);
  app.add_option("--colsep", config.colsep, "Split records into columns {1} {2}... at REGEX")
      ->type_name("REGEX")
      ->group(input);

  const char* records = "Several records per command (xargs habits)";
  std::string max_args, max_replace_args, max_lines, max_chars;
  bool context_fill = false, multi_fill = false, no_run_if_empty = false;
  app.add_option("-n,--max-args", max_args, "Up to N records per command")
      ->type_name("N")
      ->group(records);
  app.add_option("-N,--max-replace-args", max_replace_args, "N records per command, as {1}..{N}")
      ->type_name("N")
      ->group(records);
  app.add_option("-L,--max-lines", max_lines,
                 "N lines per command, as -N; a line ending in a blank goes on")
      ->type_name("N")
      ->group(records);
  app.add_flag("-X,--xargs", context_fill,
               "As many records per command as fit, repeating the word around {}")
      ->group(records);
  app.add_flag("-m", multi_fill, "As many records per command as fit, all in place of {}")
      ->group(records);
  app.add_option("-s,--max-chars", max_chars, "Command lines of at most N bytes (-X, -m, -n)")
      ->type_name("N")
      ->group(records);
  app.add_option("-I", config.replace, "Use STR instead of {} for the record")
      ->type_name("STR")
      ->group(records);
  app.add_option("-E", config.eof_string, "Stop reading input at a record equal to STR")
      ->type_name("STR")
      ->group(records);
  app.add_flag("-r,--no-run-if-empty", no_run_if_empty,
               "Run nothing when there are no records (always so)")
      ->group(records);

  const char* pool = "Pool";
  app.add_option("-j,--jobs", jobs,
                 "Workers: N, +N/-N (CPUs plus/minus N), N% of the CPUs, 0 (250), or a FILE "
                 "holding one, read again when it changes (default: the CPUs it may run on)")
      ->type_name("N|FILE")
      ->group(pool);
  const CLI::Option* mode_flag =
      app.add_option("--mode", mode,
                     "pool: start a job whenever a worker is free (default); "
                     "batch: start N, wait for all N, repeat")
          ->type_name("pool|batch")
          ->group(pool);
  app.add_flag("--compare", config.compare,
               "Run the input in batch mode, then pool mode, and compare (input held in memory)")
      ->group(pool);

  const char* live = "Live pool";
  std::string priority_col, queue_size, max_records;
  app.add_option("--control", config.control,
                 "Take commands on the Unix socket SOCKET (taskpool ctl SOCKET pause|resume|"
                 "jobs N|status)")
      ->type_name("SOCKET")
      ->group(live);
  app.add_option("--priority-col", priority_col,
                 "Column N of each record is a number; higher numbers start first")
      ->type_name("N")
      ->group(live);
  app.add_option("--queue-size", queue_size,
                 "Records read ahead of the running jobs, which priorities order (1024)")
      ->type_name("N")
      ->group(live);
  app.add_flag("--feedback", config.feedback,
               "Lines a job writes to file descriptor 3 become new records")
      ->group(live);
  app.add_option("--max-records", max_records,
                 "Stop after N records in all, read or fed (a runaway --feedback)")
      ->type_name("N")
      ->group(live);

  const char* resilience = "Resilience";
  std::string retries = "0", backoff = "1s", backoff_max = "60s", timeout, kill_after = "5s";
  std::string rate, burst = "1", deadline, grace = "5s", halt = "never";
  bool resume = false;
  bool resume_failed = false;
  app.add_option("--retries", retries, "Try a failed job up to N more times (default 0)")
      ->type_name("N")
      ->group(resilience);
  app.add_option("--backoff", backoff, "Delay before the first retry, doubling each time (1s)")
      ->type_name("DUR")
      ->group(resilience);
  app.add_option("--backoff-max", backoff_max, "Longest delay between retries (60s)")
      ->type_name("DUR")
      ->group(resilience);
  const CLI::Option* timeout_flag =
      app.add_option("--timeout", timeout, "End an attempt that runs longer than DUR")
          ->type_name("DUR")
          ->group(resilience);
  app.add_option("--kill-after", kill_after, "SIGKILL this long after SIGTERM (5s)")
      ->type_name("DUR")
      ->group(resilience);
  app.add_flag("--keep-background", config.keep_background,
               "Let what a job leaves running (daemons) live on after it")
      ->group(resilience);
  const CLI::Option* rate_flag =
      app.add_option("--rate", rate,
                     "Start at most R attempts per second (10/s, 600/m, 3600/h, 2/d)")
          ->type_name("R")
          ->group(resilience);
  app.add_option("--burst", burst, "With --rate: let B attempts start at once (1)")
      ->type_name("B")
      ->group(resilience);
  const CLI::Option* deadline_flag =
      app.add_option("--deadline", deadline, "After DUR start nothing, end running jobs, report")
          ->type_name("DUR")
          ->group(resilience);
  app.add_option("--grace", grace, "After the deadline, SIGKILL this long after SIGTERM (5s)")
      ->type_name("DUR")
      ->group(resilience);
  app.add_option("--halt", halt, "Stop early: soon|now,fail|success|done=N or N% (never)")
      ->type_name("WHEN,WHY=N")
      ->group(resilience);
  app.add_flag("--resume", resume, "With --joblog: skip jobs the joblog lists")->group(resilience);
  app.add_flag("--resume-failed", resume_failed,
               "With --joblog: skip jobs the joblog lists as succeeded, run the rest")
      ->group(resilience);

  const char* fetch = "Fetch (downloads)";
  std::string connect_timeout, max_per_host, limit_rate, stall_timeout;
  app.add_flag("--fetch", config.fetch, "Records are URLs (or URL<TAB>PATH) to download")
      ->group(fetch);
  const CLI::Option* output_dir_flag =
      app.add_option("-o,--output-dir", config.output_dir, "Save downloads in DIR (default: .)")
          ->type_name("DIR")
          ->group(fetch);
  const CLI::Option* overwrite_flag =
      app.add_flag("--overwrite", config.overwrite, "Replace files that exist")->group(fetch);
  const CLI::Option* continue_flag =
      app.add_flag("--continue", config.resume_downloads,
                   "Resume NAME.part files; count existing files as done")
          ->group(fetch);
  const CLI::Option* connect_timeout_flag =
      app.add_option("--connect-timeout", connect_timeout, "Give up connecting after DUR")
          ->type_name("DUR")
          ->group(fetch);
  const CLI::Option* max_per_host_flag =
      app.add_option("--max-per-host", max_per_host, "At most N transfers to one host at once")
          ->type_name("N")
          ->group(fetch);
  const CLI::Option* limit_rate_flag =
      app.add_option("--limit-rate", limit_rate, "At most BYTES per second per transfer (k, M, G)")
          ->type_name("BYTES")
          ->group(fetch);
  const CLI::Option* stall_timeout_flag =
      app.add_option("--stall-timeout", stall_timeout,
                     "Fail a transfer that receives nothing for DUR (default 60s; 0: never)")
          ->type_name("DUR")
          ->group(fetch);
  const CLI::Option* cacert_flag =
      app.add_option("--cacert", config.ca_file,
                     "Trust the certificates in FILE (PEM) instead of the system's")
          ->type_name("FILE")
          ->group(fetch);

  const char* remote = "Many machines (ssh)";
  std::vector<std::string> sshlogins, sshloginfiles;
  std::string ssh;
  app.add_option("-S,--sshlogin", sshlogins,
                 "Run jobs on these hosts: [N/][user@]host[:port],... (':' is this machine; "
                 "N/ its workers, else -j each)")
      ->type_name("HOSTS")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->group(remote);
  app.add_option("--sshloginfile,--slf", sshloginfiles, "Read hosts from FILE, one a line")
      ->type_name("FILE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->group(remote);
  const CLI::Option* ssh_flag =
      app.add_option("--ssh", ssh, "The ssh command that reaches the hosts (default: ssh)")
          ->type_name("CMD")
          ->group(remote);

  const char* output = "Output";
  app.add_flag("-k,--keep-order", config.keep_order, "Print output in input order")->group(output);
  app.add_flag("--line-buffer,--lb", config.line_buffer, "Print whole lines as they arrive")
      ->group(output);
  app.add_flag("--tag", config.tag, "Prefix output lines with the record and a tab")->group(output);
  app.add_flag("--dry-run", config.dry_run, "Print the commands, run nothing")->group(output);

  const char* reporting = "Reporting";
  app.add_option("--joblog", config.joblog, "Write GNU parallel's job log to FILE")
      ->type_name("FILE")
      ->group(reporting);
  app.add_flag("--summary", summary, "Print the summary to stderr (default: when a terminal)")
      ->group(reporting);
  app.add_flag("--no-summary", no_summary, "Never print the summary")->group(reporting);
  std::string progress_interval;
  app.add_flag("--progress,--bar", config.progress,
               "Show progress on stderr (redrawn on a terminal, a line every 30s elsewhere)")
      ->group(reporting);
  const CLI::Option* progress_interval_flag =
      app.add_option("--progress-interval", progress_interval,
                     "Where stderr is no terminal: a progress line every DUR (30s)")
          ->type_name("DUR")
          ->group(reporting);
  app.add_flag("--eta", config.eta, "Show progress with an estimate of the time left")
      ->group(reporting);
  app.add_option("--timeline", config.timeline, "Draw the run as an SVG chart in FILE")
      ->type_name("FILE.svg")
      ->group(reporting);
  app.add_option("--summary-json", config.summary_json,
                 "Write the summary as JSON to FILE (- stdout)")
      ->type_name("FILE")
      ->group(reporting);

  try {
    std::vector<std::string> args;
    for (int i = options_end - 1; i >= 1; --i) {
      const std::string_view arg = argv[i];
      // CLI11 would take the next word as the value of "--flag=": a script's empty variable
      // must not turn the command into an option value.
      if (arg.starts_with("--") && arg.ends_with('=') && arg.find('=') == arg.size() - 1) {
        throw UsageError(std::string(arg.substr(0, arg.size() - 1)) + ": the value is empty");
      }
      args.emplace_back(arg);
    }
    app.parse(args);
    config.command = app.remaining();
    if (!config.command.empty() && config.command.front() == "--") {
      config.command.erase(config.command.begin());
    } else if (!config.command.empty() && config.command.front().size() > 1 &&
               config.command.front()[0] == '-') {
      // The command starts at the first word that is not an option; one that looks like an
      // option is a typo far more often than a program whose name starts with '-'.
      throw UsageError("unknown option '" + config.command.front() +
                       "' (put -- before a command that starts with '-')");
    }
    parse_jobs(jobs, config);
    const bool grouping = !max_args.empty() || !max_replace_args.empty() || !max_lines.empty() ||
                          context_fill || multi_fill;
    if (!priority_col.empty()) {
      config.priority_col = parse_count("--priority-col", priority_col, 1000000);
      if (config.priority_col == 0) throw UsageError("--priority-col: columns count from 1");
      if (grouping) {
        throw UsageError(
            "--priority-col orders single records; -n, -N, -L, -X and -m put several in one job");
      }
    }
    if (!queue_size.empty()) {
      config.queue_size = parse_count("--queue-size", queue_size, 10000000);
      if (*config.queue_size == 0) throw UsageError("--queue-size: the queue needs room for 1");
    }
    if (!max_records.empty()) {
      config.max_records = parse_count("--max-records", max_records, UINT64_MAX - 1);
      if (config.max_records == 0) throw UsageError("--max-records: 0 leaves nothing to run");
    }
    if (config.control && config.control->empty()) {
      throw UsageError("--control: the socket path is empty");
    }
    if (config.control && config.compare) {
      throw UsageError("--compare runs the input twice on its own; leave out --control");
    }
    if (config.feedback) {
      const char* other = config.fetch       ? "--fetch"
                          : config.compare   ? "--compare"
                          : grouping         ? "-n, -N, -L, -X and -m"
                          : resume || resume_failed ? "--resume"
                                             : nullptr;
      if (other != nullptr) throw UsageError(std::string("--feedback and ") + other +
                                             " exclude each other");
      if (!sshlogins.empty() || !sshloginfiles.empty()) {
        throw UsageError("--feedback runs jobs on this machine; leave out -S/--sshlogin");
      }
    }
    if (config.jobs_file && (!sshlogins.empty() || !sshloginfiles.empty())) {
      throw UsageError("-j FILE resizes the pool on this machine; with -S give each host its "
                       "workers as N/host");
    }
    if (config.eta) config.progress = true;
    if (progress_interval_flag->count() > 0) {
      config.progress_interval = parse_duration("--progress-interval", progress_interval);
      if (config.progress_interval < std::chrono::milliseconds(100)) {
        throw UsageError("--progress-interval: '" + progress_interval + "' is shorter than 100ms");
      }
    }
    if (config.timeline && config.timeline->empty()) {
      throw UsageError("--timeline: the file name is empty");
    }
    if (connect_timeout_flag->count() > 0) {
      config.connect_timeout = parse_duration("--connect-timeout", connect_timeout);
    }
    if (!max_per_host.empty()) {
      config.max_per_host = static_cast<long>(parse_count("--max-per-host", max_per_host, 100000));
    }
    if (limit_rate_flag->count() > 0) config.limit_rate = parse_bytes("--limit-rate", limit_rate);
    if (stall_timeout_flag->count() > 0) {
      config.stall_timeout = parse_duration("--stall-timeout", stall_timeout);
    }
    const bool fetch_flags = output_dir_flag->count() + overwrite_flag->count() +
                                 continue_flag->count() + connect_timeout_flag->count() +
                                 max_per_host_flag->count() + limit_rate_flag->count() +
                                 stall_timeout_flag->count() + cacert_flag->count() >
                             0;
    if (fetch_flags && !config.fetch) {
      throw UsageError(
          "-o, --overwrite, --continue, --connect-timeout, --max-per-host, --limit-rate, "
          "--stall-timeout and --cacert are for --fetch");
    }
    if (cacert_flag->count() > 0 && ::access(config.ca_file.c_str(), R_OK) != 0) {
      throw UsageError("--cacert: cannot read '" + config.ca_file + "': " + std::strerror(errno));
    }
    if (config.fetch) {
      if (!config.command.empty()) {
        throw UsageError("--fetch downloads its records and runs no command; drop '" +
                         config.command.front() + "'");
      }
      if (config.compare) throw UsageError("--fetch and --compare exclude each other");
      if (config.max_args > 0 || config.fill != RunConfig::Fill::kNone) {
        throw UsageError("--fetch downloads one URL per job; -n, -N, -L, -X and -m do not apply");
      }
      if (config.output_dir.empty()) throw UsageError("-o/--output-dir: the directory is empty");
    }
    for (const std::string& list : sshlogins) {
      for (SshLogin& login : parse_sshlogins("-S/--sshlogin", list)) {
        config.hosts.push_back(std::move(login));
      }
    }
    for (const std::string& file : sshloginfiles) {
      for (SshLogin& login : read_sshlogin_file(file)) config.hosts.push_back(std::move(login));
    }
    config.hosts = without_duplicates(std::move(config.hosts));
    if (ssh_flag->count() > 0) {
      if (config.hosts.empty()) throw UsageError("--ssh is for -S/--sshlogin or --sshloginfile");
      auto words = split_simple_command(ssh);
      if (!words || words->empty()) {
        throw UsageError("--ssh: '" + ssh +
                         "' is not a plain command with options (no shell syntax; a wrapper "
                         "script or ~/.ssh/config can do more)");
      }
      config.ssh = std::move(*words);
    }
    if (!config.hosts.empty() && config.fetch) {
      throw UsageError(
          "--fetch downloads on this machine; -S/--sshlogin and --sshloginfile do not apply");
    }
    if (!config.hosts.empty() && config.compare) {
      throw UsageError("--compare runs on this machine; leave out -S/--sshlogin");
    }
    const int counts = (max_args.empty() ? 0 : 1) + (max_replace_args.empty() ? 0 : 1) +
                       (max_lines.empty() ? 0 : 1);
    if (counts > 1) throw UsageError("-n, -N and -L exclude each other");
    if (context_fill && multi_fill) throw UsageError("-X and -m exclude each other");
    if (!max_args.empty()) config.max_args = parse_count("-n/--max-args", max_args, 1000000);
    if (!max_replace_args.empty()) {
      config.max_args = parse_count("-N/--max-replace-args", max_replace_args, 1000000);
      config.positional = true;
    }
    if (!max_lines.empty()) {
      config.max_args = parse_count("-L/--max-lines", max_lines, 1000000);
      config.positional = true;
      config.continue_lines = true;
    }
    if (counts > 0 && config.max_args == 0) {
      throw UsageError("-n, -N and -L need at least 1 record per command");
    }
    if (config.positional && (context_fill || multi_fill)) {
      throw UsageError("-N and -L give an exact count; they exclude -X and -m");
    }
    if (context_fill) config.fill = RunConfig::Fill::kContext;
    if (multi_fill) config.fill = RunConfig::Fill::kMulti;
    if (!max_chars.empty()) {
      config.max_chars = parse_count("-s/--max-chars", max_chars, 1u << 30);
      if (*config.max_chars == 0)
        throw UsageError("-s/--max-chars: 0 leaves no room for a command");
    }
    if (config.replace.empty()) throw UsageError("-I: the replacement string is empty");
    if (config.eof_string && config.eof_string->empty()) {
      throw UsageError("-E: the end-of-input string is empty");
    }
    config.retry.retries = static_cast<int>(parse_count("--retries", retries, 1000000));
    config.retry.backoff = parse_duration("--backoff", backoff);
    config.retry.backoff_max = parse_duration("--backoff-max", backoff_max);
    if (timeout_flag->count() > 0) {
      config.timeout = parse_duration("--timeout", timeout);
      if (config.timeout == Duration::zero()) {
        throw UsageError("--timeout: '" + timeout + "' is not a duration above zero");
      }
    }
    config.kill_after = parse_duration("--kill-after", kill_after);
    if (rate_flag->count() > 0) config.rate = parse_rate("--rate", rate);
    config.burst = static_cast<int>(parse_count("--burst", burst, 1000000));
    if (config.burst < 1) throw UsageError("--burst: '" + burst + "' is not a count of at least 1");
    if (deadline_flag->count() > 0) {
      config.deadline = parse_duration("--deadline", deadline);
      if (config.deadline == Duration::zero()) {
        throw UsageError("--deadline: '" + deadline + "' is not a duration above zero");
      }
    }
    config.grace = parse_duration("--grace", grace);
    config.halt = parse_halt(halt);
    if (resume && resume_failed)
      throw UsageError("--resume and --resume-failed exclude each other");
    if (resume) config.resume = RunConfig::Resume::kDone;
    if (resume_failed) config.resume = RunConfig::Resume::kSucceeded;
    if (config.resume != RunConfig::Resume::kNo && config.joblog == "-") {
      throw UsageError("--resume needs a joblog file to read, not standard output");
    }
    if (config.resume != RunConfig::Resume::kNo && !config.joblog) {
      throw UsageError(std::string(resume ? "--resume" : "--resume-failed") +
                       " needs --joblog FILE (the joblog of the run to resume)");
    }
    config.mode = parse_mode(mode);
    if (null && !delimiter.empty())
      throw UsageError("-0/--null and -d/--delimiter exclude each other");
    if (null) config.delimiter = '\0';
    if (!delimiter.empty()) config.delimiter = parse_delimiter(delimiter);
    if (summary && no_summary) throw UsageError("--summary and --no-summary exclude each other");
    if (summary) config.summary = SummaryWhen::kAlways;
    if (no_summary) config.summary = SummaryWhen::kNever;
    if (config.compare && config.mode == DispatchMode::kBatch && mode_flag->count() > 0) {
      throw UsageError("--compare runs both modes; leave out --mode");
    }
    if (config.compare && config.dry_run) {
      throw UsageError("--compare and --dry-run exclude each other");
    }
    if (config.colsep && config.colsep->empty()) throw UsageError("--colsep: the pattern is empty");
    if (config.joblog && config.joblog->empty())
      throw UsageError("--joblog: the file name is empty");
    if (config.summary_json && config.summary_json->empty()) {
      throw UsageError("--summary-json: the file name is empty (use - for stdout)");
    }
  } catch (const CLI::CallForHelp&) {
    return print_and_exit(app.help());
  } catch (const CLI::CallForVersion&) {
    return print_and_exit(std::string("taskpool ") + TASKPOOL_VERSION + "\n");
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "taskpool: %s\nRun 'taskpool --help' for the options.\n", e.what());
    return {std::nullopt, 255};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "taskpool: %s\n", e.what());
    return {std::nullopt, 255};
  }
  return {std::move(config), 0};
}

}  // namespace taskpool
