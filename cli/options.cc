// The flags, declared to CLI11 area by area, and the parse that runs them: the one file that
// includes CLI11 (slow to compile). What the values mean is cli/option_areas.cc's.
#include "cli/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/option_areas.h"
#include "cli/option_flags.h"
#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {
namespace {

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

// A flag that takes one value and may be given again, each value kept (-a, -S, --sshloginfile).
template <typename Values>
CLI::Option* add_repeatable(CLI::App& app, const std::string& names, Values& values,
                            const std::string& description) {
  return app.add_option(names, values, description)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
}

void declare_input(CLI::App& app, InputFlags& flags, RunConfig& config) {
  const char* input = "Input";
  add_repeatable(app, "-a,--arg-file", config.arg_files, "Read records from FILE (repeatable)")
      ->type_name("FILE")
      ->group(input);
  app.add_flag("-0,--null", flags.null, "Records end at NUL, not newline")->group(input);
  app.add_option("-d,--delimiter", flags.delimiter,
                 "Records end at CHAR (\\n, \\t, \\0, \\xHH too)")
      ->type_name("CHAR")
      ->group(input);
  app.add_option("--colsep", config.colsep, "Split records into columns {1} {2}... at REGEX")
      ->type_name("REGEX")
      ->group(input);
}

void declare_grouping(CLI::App& app, GroupingFlags& flags, RunConfig& config) {
  const char* records = "Several records per command (xargs habits)";
  app.add_option("-n,--max-args", flags.max_args, "Up to N records per command")
      ->type_name("N")
      ->group(records);
  app.add_option("-N,--max-replace-args", flags.max_replace_args,
                 "N records per command, as {1}..{N}")
      ->type_name("N")
      ->group(records);
  app.add_option("-L,--max-lines", flags.max_lines,
                 "N lines per command, as -N; a line ending in a blank goes on")
      ->type_name("N")
      ->group(records);
  app.add_flag("-X,--xargs", flags.context_fill,
               "As many records per command as fit, repeating the word around {}")
      ->group(records);
  app.add_flag("-m", flags.multi_fill, "As many records per command as fit, all in place of {}")
      ->group(records);
  app.add_option("-s,--max-chars", flags.max_chars, "Command lines of at most N bytes (-X, -m, -n)")
      ->type_name("N")
      ->group(records);
  app.add_option("-I", config.replace, "Use STR instead of {} for the record")
      ->type_name("STR")
      ->group(records);
  app.add_option("-E", config.eof_string, "Stop reading input at a record equal to STR")
      ->type_name("STR")
      ->group(records);
  app.add_flag("-r,--no-run-if-empty", flags.no_run_if_empty,
               "Run nothing when there are no records (always so)")
      ->group(records);
}

// The pool, and the live pool: what may change while it runs.
void declare_pool(CLI::App& app, PoolFlags& flags, RunConfig& config) {
  const char* pool = "Pool";
  app.add_option("-j,--jobs", flags.jobs,
                 "Workers: N, +N/-N (CPUs plus/minus N), N% of the CPUs, 0 (250), or a FILE "
                 "holding one, read again when it changes (default: the CPUs it may run on)")
      ->type_name("N|FILE")
      ->group(pool);
  app.add_option("--mode", flags.mode,
                 "pool: start a job whenever a worker is free (default); "
                 "batch: start N, wait for all N, repeat")
      ->type_name("pool|batch")
      ->group(pool);
  app.add_flag("--compare", config.compare,
               "Run the input in batch mode, then pool mode, and compare (input held in memory)")
      ->group(pool);

  const char* live = "Live pool";
  app.add_option("--control", config.control,
                 "Take commands on the Unix socket SOCKET (taskpool ctl SOCKET pause|resume|"
                 "jobs N|status)")
      ->type_name("SOCKET")
      ->group(live);
  app.add_option("--priority-col", flags.priority_col,
                 "Column N of each record is a number; higher numbers start first")
      ->type_name("N")
      ->group(live);
  app.add_option("--queue-size", flags.queue_size,
                 "Records read ahead of the running jobs, which priorities order (1024)")
      ->type_name("N")
      ->group(live);
  app.add_flag("--feedback", config.feedback,
               "Lines a job writes to file descriptor 3 become new records")
      ->group(live);
  app.add_option("--max-records", flags.max_records,
                 "Stop after N records in all, read or fed (a runaway --feedback)")
      ->type_name("N")
      ->group(live);
}

void declare_resilience(CLI::App& app, ResilienceFlags& flags, RunConfig& config) {
  const char* resilience = "Resilience";
  const auto option = [&app, resilience](const std::string& names, std::string& value,
                                         const std::string& description, const std::string& type) {
    app.add_option(names, value, description)->type_name(type)->group(resilience);
  };
  option("--retries", flags.retries, "Try a failed job up to N more times (default 0)", "N");
  option("--backoff", flags.backoff, "Delay before the first retry, doubling each time (1s)",
         "DUR");
  option("--backoff-max", flags.backoff_max, "Longest delay between retries (60s)", "DUR");
  option("--timeout", flags.timeout, "End an attempt that runs longer than DUR", "DUR");
  option("--kill-after", flags.kill_after, "SIGKILL this long after SIGTERM (5s)", "DUR");
  app.add_flag("--keep-background", config.keep_background,
               "Let what a job leaves running (daemons) live on after it")
      ->group(resilience);
  option("--rate", flags.rate, "Start at most R attempts per second (10/s, 600/m, 3600/h, 2/d)",
         "R");
  option("--burst", flags.burst, "With --rate: let B attempts start at once (1)", "B");
  option("--deadline", flags.deadline, "After DUR start nothing, end running jobs, report", "DUR");
  option("--grace", flags.grace, "After the deadline, SIGKILL this long after SIGTERM (5s)", "DUR");
  option("--halt", flags.halt, "Stop early: soon|now,fail|success|done=N or N% (never)",
         "WHEN,WHY=N");
  app.add_flag("--resume", flags.resume, "With --joblog: skip jobs the joblog lists")
      ->group(resilience);
  app.add_flag("--resume-failed", flags.resume_failed,
               "With --joblog: skip jobs the joblog lists as succeeded, run the rest")
      ->group(resilience);
}

void declare_fetch(CLI::App& app, FetchFlags& flags, RunConfig& config) {
  const char* fetch = "Fetch (downloads)";
  app.add_flag("--fetch", config.fetch, "Records are URLs (or URL<TAB>PATH) to download")
      ->group(fetch);
  app.add_option("-o,--output-dir", config.output_dir, "Save downloads in DIR (default: .)")
      ->type_name("DIR")
      ->group(fetch);
  app.add_flag("--overwrite", config.overwrite, "Replace files that exist")->group(fetch);
  app.add_flag("--continue", config.resume_downloads,
               "Resume NAME.part files; count existing files as done")
      ->group(fetch);
  app.add_option("--connect-timeout", flags.connect_timeout, "Give up connecting after DUR")
      ->type_name("DUR")
      ->group(fetch);
  app.add_option("--max-per-host", flags.max_per_host, "At most N transfers to one host at once")
      ->type_name("N")
      ->group(fetch);
  app.add_option("--limit-rate", flags.limit_rate,
                 "At most BYTES per second per transfer (k, M, G)")
      ->type_name("BYTES")
      ->group(fetch);
  app.add_option("--stall-timeout", flags.stall_timeout,
                 "Fail a transfer that receives nothing for DUR (default 60s; 0: never)")
      ->type_name("DUR")
      ->group(fetch);
  app.add_option("--cacert", config.ca_file,
                 "Trust the certificates in FILE (PEM) instead of the system's")
      ->type_name("FILE")
      ->group(fetch);
}

void declare_hosts(CLI::App& app, HostFlags& flags) {
  const char* remote = "Many machines (ssh)";
  add_repeatable(app, "-S,--sshlogin", flags.sshlogins,
                 "Run jobs on these hosts: [N/][user@]host[:port],... (':' is this machine; "
                 "N/ its workers, else -j each)")
      ->type_name("HOSTS")
      ->group(remote);
  add_repeatable(app, "--sshloginfile,--slf", flags.sshloginfiles,
                 "Read hosts from FILE, one a line")
      ->type_name("FILE")
      ->group(remote);
  app.add_option("--ssh", flags.ssh, "The ssh command that reaches the hosts (default: ssh)")
      ->type_name("CMD")
      ->group(remote);
}

// Output, and the reports besides it.
void declare_output(CLI::App& app, ReportingFlags& flags, RunConfig& config) {
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
  app.add_flag("--summary", flags.summary, "Print the summary to stderr (default: when a terminal)")
      ->group(reporting);
  app.add_flag("--no-summary", flags.no_summary, "Never print the summary")->group(reporting);
  app.add_flag("--progress,--bar", config.progress,
               "Show progress on stderr (redrawn on a terminal, a line every 30s elsewhere)")
      ->group(reporting);
  app.add_option("--progress-interval", flags.progress_interval,
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
}

void declare_flags(CLI::App& app, OptionFlags& flags, RunConfig& config) {
  auto formatter = std::make_shared<UsageFormatter>();
  formatter->column_width(30);
  app.formatter(formatter);
  app.prefix_command();  // the first word that is not an option starts the command
  app.set_version_flag("--version", std::string("taskpool ") + TASKPOOL_VERSION);
  app.footer(help_footer());
  declare_input(app, flags.input, config);
  declare_grouping(app, flags.grouping, config);
  declare_pool(app, flags.pool, config);
  declare_resilience(app, flags.resilience, config);
  declare_fetch(app, flags.fetch, config);
  declare_hosts(app, flags.hosts);
  declare_output(app, flags.reporting, config);
}

// The arguments before the first input source, last first, as CLI11 takes them.
std::vector<std::string> cli11_arguments(const std::vector<std::string>& args, size_t options_end) {
  std::vector<std::string> reversed;
  for (size_t i = options_end; i-- > 0;) {
    const std::string_view arg = args[i];
    // CLI11 would take the next word as the value of "--flag=": a script's empty variable
    // must not turn the command into an option value.
    if (arg.starts_with("--") && arg.ends_with('=') && arg.find('=') == arg.size() - 1) {
      throw UsageError(std::string(arg.substr(0, arg.size() - 1)) + ": the value is empty");
    }
    reversed.emplace_back(arg);
  }
  return reversed;
}

// What CLI11 left after the options: the command.
std::vector<std::string> command_words(std::vector<std::string> remaining) {
  if (!remaining.empty() && remaining.front() == "--") {
    remaining.erase(remaining.begin());
  } else if (!remaining.empty() && remaining.front().size() > 1 && remaining.front()[0] == '-') {
    // The command starts at the first word that is not an option; one that looks like an
    // option is a typo far more often than a program whose name starts with '-'.
    throw UsageError("unknown option '" + remaining.front() +
                     "' (put -- before a command that starts with '-')");
  }
  return remaining;
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

ParsedArguments parse_arguments(const std::vector<std::string>& args) {
  RunConfig config;
  OptionFlags flags;
  CLI::App app{"taskpool: run commands in parallel through a pool of workers", "taskpool"};
  declare_flags(app, flags, config);
  try {
    size_t options_end = 0;
    config.sources = split_sources(args, options_end);
    app.parse(cli11_arguments(args, options_end));
    config.command = command_words(app.remaining());
    for (const CLI::Option* option : app.get_options()) {
      if (option->count() > 0) flags.given.insert(option->get_name());
    }
    fill_config(flags, config);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help(), ""};
  } catch (const CLI::CallForVersion&) {
    return {std::nullopt, 0, std::string("taskpool ") + TASKPOOL_VERSION + "\n", ""};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 255, "",
            std::string(e.what()) + "\nRun 'taskpool --help' for the options."};
  } catch (const UsageError& e) {
    return {std::nullopt, 255, "", e.what()};
  }
  return {std::move(config), 0, "", ""};
}

ParseOutcome parse_command_line(int argc, char** argv) {
  ParsedArguments parsed = parse_arguments(
      argc > 1 ? std::vector<std::string>(argv + 1, argv + argc) : std::vector<std::string>());
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "taskpool: %s\n", parsed.error.c_str());
    return {std::nullopt, parsed.exit_status};
  }
  if (!parsed.config) return print_and_exit(parsed.output);
  return {std::move(parsed.config), 0};
}

}  // namespace taskpool
