// The flags, declared to CLI11 area by area, and the parse that runs them: the one file that
// includes CLI11 (slow to compile). What the values mean is cli/option_areas.cc's.
#include "cli/options.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/env_options.h"
#include "cli/flag_words.h"
#include "cli/help_text.h"
#include "cli/option_areas.h"
#include "cli/option_flags.h"
#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {
namespace {

// CLI11's usage line knows nothing of the command and the ::: lists, and its entries run past
// 80 columns.
class UsageFormatter final : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override {
    return "\nUsage: taskpool [OPTIONS] [--] [COMMAND [ARG...]] [::: VALUES...]...\n"
           "       taskpool --fetch [OPTIONS] [-o DIR] [-a FILE | ::: URL...]\n";
  }
  // An area's flags under their heading, as the program's own are (not CLI11's group title).
  std::string make_expanded(const CLI::App* area) const override {
    return make_groups(area, CLI::AppFormatMode::Sub);
  }
  std::string make_option(const CLI::Option* option, bool positional) const override {
    return help_entry("  " + make_option_name(option, positional) + make_option_opts(option),
                      make_option_desc(option), get_column_width());
  }
};

// Every flag's spellings ("--jobs", "-j"), for a suggestion when one is mistyped.
// Every flag, in the order declared: the program's own (--help, --version), then each area's.
std::vector<const CLI::Option*> all_flags(const CLI::App& app) {
  std::vector<const CLI::Option*> options = app.get_options();
  for (const CLI::App* area : app.get_subcommands({})) {
    const std::vector<const CLI::Option*> own = area->get_options();
    options.insert(options.end(), own.begin(), own.end());
  }
  return options;
}

std::vector<std::string> flag_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : all_flags(app)) {
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

// Where the flags are declared: the program, and which of its flags to declare (FlagWords).
struct Declaration {
  CLI::App& app;
  const FlagWords& words;
};

// The flags of one area, under its heading in --help. Each area is a CLI11 option group, made
// when its first flag is declared: CLI11 checks a new flag's names against every flag of its
// group, so declaring them all in one group cost a time quadratic in their number.
class Area {
 public:
  Area(const Declaration& declaration, const char* heading)
      : declaration_(declaration), heading_(heading) {}

  // A flag that takes a value, shown as TYPE.
  template <typename T>
  void value(const std::string& names, T& target, const char* type,
             const std::string& description) {
    if (!wanted(names)) return;
    group().add_option(names, target, description)->type_name(type)->group(heading_);
  }

  // A flag that takes one value and may be given again, each value kept (-a, -S).
  void values(const std::string& names, std::vector<std::string>& targets, const char* type,
              const std::string& description) {
    if (!wanted(names)) return;
    group()
        .add_option(names, targets, description)
        ->type_name(type)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->group(heading_);
  }

  // A flag that may take one value (GNU parallel's -i [STR]): the next word, unless it looks
  // like an option, as Perl's Getopt::Long takes it. `targets` holds it, if any.
  void optional_value(const std::string& names, std::vector<std::string>& targets, const char* type,
                      const std::string& description) {
    if (!wanted(names)) return;
    group()
        .add_option(names, targets, description)
        ->type_name(type)
        ->expected(0, 1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->group(heading_);
  }

  void flag(const std::string& names, bool& target, const std::string& description) {
    if (!wanted(names)) return;
    group().add_flag(names, target, description)->group(heading_);
  }

 private:
  bool wanted(const std::string& names) const { return declaration_.words.may_name(names); }
  CLI::App& group() {
    if (group_ == nullptr) group_ = declaration_.app.add_option_group(heading_);
    return *group_;
  }

  const Declaration& declaration_;
  const char* heading_;
  CLI::App* group_ = nullptr;
};

void declare_input(const Declaration& app, InputFlags& flags, RunConfig& config) {
  Area input(app, "Input");
  input.values("-a,--arg-file", config.arg_files, "FILE", "Read records from FILE (repeatable)");
  input.flag("-0,--null", flags.null, "Records end at NUL, not newline");
  input.value("-d,--delimiter", flags.delimiter, "STR",
              "Records (and ::: values) end at STR (\\r\\n, \\t, \\0, \\NNN, \\xHH too)");
  input.value("-C,--colsep", config.colsep, "REGEX",
              "Split records into columns {1} {2}... at REGEX");
  input.value("--header", config.header, "REGEX",
              "The first value of each input source names its columns: {name} is {N}");
  input.flag("--shuf", config.shuffle,
             "Run the jobs in a random order (the whole input is read into memory first)");
  input.flag("--link,--xapply", flags.link,
             "Take the input sources side by side, the shorter ones starting over, not every "
             "combination");
}

void declare_pipe(const Declaration& app, PipeFlags& flags) {
  Area pipe(app, "Blocks of input on the jobs' stdin");
  pipe.flag("--pipe,--spreadstdin", flags.pipe,
            "Cut stdin (or -a FILE) into blocks of whole records, one job's stdin each");
  pipe.flag("--pipepart,--pipe-part", flags.part,
            "As --pipe, reading the file -a FILE in place (no copy through taskpool's memory)");
  pipe.value("--block,--block-size", flags.block, "SIZE",
             "Blocks of about SIZE bytes (k, M, G: KiB, MiB, GiB; default 1M)");
  pipe.flag("--cat", flags.cat,
            "Each block in a temporary file instead, {} its name (removed after the job)");
  pipe.flag("--fifo", flags.fifo,
            "Each block through a named pipe instead, {} its name (removed after the job)");
  pipe.value("--recstart", flags.recstart, "STR",
             "Records start with STR (default: anything; alone: --recend '')");
  pipe.value("--recend", flags.recend, "STR", "Records end with STR (default \\n)");
}

void declare_grouping(const Declaration& app, GroupingFlags& flags, RunConfig& config) {
  Area records(app, "Several records per command (xargs habits)");
  records.value("-n,--max-args", flags.max_args, "N", "Up to N records per command");
  records.value("-N,--max-replace-args", flags.max_replace_args, "N",
                "N records per command, as {1}..{N}");
  records.value("-L,--max-lines", flags.max_lines, "N",
                "N lines per command, as -N; a line ending in a blank goes on");
  records.flag("-X,--xargs", flags.context_fill,
               "As many records per command as fit, repeating the word around {}");
  records.flag("-m", flags.multi_fill, "As many records per command as fit, all in place of {}");
  records.value("-s,--max-chars", flags.max_chars, "N",
                "Command lines of at most N bytes (-X, -m, -n fill them); a longer one fails");
  records.value("-I", config.replace, "STR", "Use STR instead of {} for the record");
  records.flag("--plus", config.plus,
               "More replacement strings: {..} {...} {/..} {/...} {+/} {+.} {+..} {+...} "
               "{:-STR} {:N} {:N:M}, bash's {#STR} {%STR} {/STR/NEW} {^STR} {,STR} and their "
               "doubles (STR: plain text)");
  records.flag("-q,--quote", config.quote,
               "Each command word is one word for the shell, its syntax quoted");
  records.value("-E", config.eof_string, "STR", "Stop reading input at a record equal to STR");
  records.optional_value("-i", flags.replace_optional, "[STR]",
                         "-I STR; without STR, -I {} (GNU parallel's, xargs' old spelling)");
  records.optional_value("-e", flags.eof_optional, "[STR]",
                         "-E STR; without STR, no end-of-input string");
  records.optional_value("-l", flags.lines_optional, "[N]",
                         "-L N; without N, -L 1 (N: the next word when it is a number)");
  records.flag("-r,--no-run-if-empty", flags.no_run_if_empty,
               "Skip empty and blank records (no records: nothing runs, always so)");
}

// The pool, and the live pool: what may change while it runs.
void declare_pool(const Declaration& app, PoolFlags& flags, RunConfig& config) {
  Area pool(app, "Pool");
  pool.value("-j,-P,--jobs", flags.jobs, "N|FILE",
             "Workers: N, +N/-N (CPUs plus/minus N), N% of the CPUs, 0 (250), or a FILE "
             "holding one, read again when it changes (default: the CPUs it may run on; "
             "16 with --fetch)");
  pool.value("--mode", flags.mode, "pool|batch",
             "pool: start a job whenever a worker is free (default); "
             "batch: start N, wait for all N, repeat");
  pool.flag("--compare", config.compare,
            "Run the input in batch mode, then pool mode, and compare (input held in memory)");
  pool.value("--load", flags.load, "N",
             "Start a job only while fewer than N processes run on the machine (+N, -N, N%: "
             "of the CPUs)");
  pool.value("--memfree", flags.memfree, "SIZE",
             "Start a job only while SIZE of memory is available; below SIZE/2 end the "
             "youngest job");

  Area live(app, "Live pool");
  live.value("--control", config.control, "SOCKET",
             "Take commands on the Unix socket SOCKET (taskpool ctl SOCKET pause|resume|"
             "jobs N|status)");
  live.value("--priority-col", flags.priority_col, "N",
             "Column N of each record is a number; higher numbers start first");
  live.value("--queue-size", flags.queue_size, "N",
             "Records read ahead of the running jobs, which priorities order (1024)");
  live.flag("--feedback", config.feedback,
            "Lines a job writes to file descriptor 3 become new records");
  live.value("--max-records", flags.max_records, "N",
             "Stop after N records in all, read or fed (a runaway --feedback)");
}

void declare_resilience(const Declaration& app, ResilienceFlags& flags, RunConfig& config) {
  Area resilience(app, "Resilience");
  resilience.value("--retries", flags.retries, "N",
                   "Try a failed job up to N more times (default 0)");
  resilience.value("--backoff", flags.backoff, "DUR",
                   "Delay before the first retry, doubling each time (1s)");
  resilience.value("--backoff-max", flags.backoff_max, "DUR",
                   "Longest delay between retries (60s)");
  resilience.value("--timeout", flags.timeout, "DUR|N%",
                   "End an attempt that runs longer than DUR (N%: than N% of the median "
                   "runtime of the jobs that succeeded)");
  resilience.value("--kill-after", flags.kill_after, "DUR", "SIGKILL this long after SIGTERM (5s)");
  resilience.flag("--keep-background", config.keep_background,
                  "Let what a job leaves running (daemons) live on after it");
  resilience.value("--rate", flags.rate, "R",
                   "Start at most R attempts per second (10/s, 600/m, 3600/h, 2/d)");
  resilience.value("--burst", flags.burst, "B", "With --rate: let B attempts start at once (1)");
  resilience.values("--limit", flags.limits, "TEMPLATE=N",
                    "At most N jobs of one key at once, or N/s per key; the key is TEMPLATE "
                    "expanded ({host}, {1}...)");
  resilience.value("--limit-file", flags.limit_file, "FILE",
                   "Per-value --limit: lines 'VALUE N' (or 'TEMPLATE VALUE N' with several)");
  resilience.value("--delay", flags.delay, "DUR",
                   "Start an attempt at most every DUR (GNU parallel's; --rate 1/DUR)");
  resilience.value("--nice", flags.nice, "N", "Run jobs under nice -n N (-20..19)");
  resilience.value("--deadline", flags.deadline, "DUR",
                   "After DUR start nothing, end running jobs, report");
  resilience.value("--grace", flags.grace, "DUR",
                   "After the deadline, SIGKILL this long after SIGTERM (5s)");
  resilience.value("--halt,--halt-on-error", flags.halt, "WHEN,WHY=N",
                   "Stop early: soon|now,fail|success|done=N or N% (never)");
  resilience.flag("--resume", flags.resume, "With --joblog: skip jobs the joblog lists");
  resilience.flag("--resume-failed", flags.resume_failed,
                  "With --joblog: skip jobs the joblog lists as succeeded, run the rest");
}

void declare_fetch(const Declaration& app, FetchFlags& flags, RunConfig& config) {
  Area fetch(app, "Fetch (downloads)");
  fetch.flag("--fetch", config.fetch, "Records are URLs (or URL<TAB>PATH) to download");
  fetch.value("-o,--output-dir", config.output_dir, "DIR", "Save downloads in DIR (default: .)");
  fetch.flag("--overwrite", config.overwrite, "Replace files that exist");
  fetch.flag("--continue", config.resume_downloads,
             "Resume NAME.part files; count existing files as done");
  fetch.value("--connect-timeout", flags.connect_timeout, "DUR", "Give up connecting after DUR");
  fetch.value("--max-per-host", flags.max_per_host, "N",
              "At most N jobs of one URL host at once: --limit '{host}=N'");
  fetch.value("--limit-rate", flags.limit_rate, "BYTES",
              "At most BYTES per second per transfer (k, M, G)");
  fetch.value("--stall-timeout", flags.stall_timeout, "DUR",
              "Fail a transfer that receives nothing for DUR (default 60s; 0: never)");
  fetch.value("--cacert", config.ca_file, "FILE",
              "Trust the certificates in FILE (PEM) instead of the system's");
}

void declare_hosts(const Declaration& app, HostFlags& flags) {
  Area remote(app, "Many machines (ssh)");
  remote.values("-S,--sshlogin", flags.sshlogins, "HOSTS",
                "Run jobs on these hosts: [N/][user@]host[:port],... (':' is this machine; "
                "N/ its workers, else -j each)");
  remote.values("--sshloginfile,--slf", flags.sshloginfiles, "FILE",
                "Read hosts from FILE, one a line");
  remote.value("--ssh", flags.ssh, "CMD", "The ssh command that reaches the hosts (default: ssh)");
  remote.values("--env", flags.env, "VAR",
                "Copy variable VAR into the remote commands' environment ('_': all but those in "
                "~/.parallel/ignored_vars)");
  remote.values("--transferfile,--tf", flags.transferfiles, "FILE",
                "Send FILE ({} replaced) to the job's host before it runs");
  remote.flag("--transfer", flags.transfer, "Send the record's file: --transferfile {}");
  remote.values("--return", flags.returns, "FILE",
                "Bring FILE ({} replaced) back from the job's host after it ran");
  remote.flag("--cleanup", flags.cleanup, "Remove the files sent and brought back from the hosts");
  remote.values("--trc", flags.trc, "FILE", "--transfer --return FILE --cleanup");
  remote.values("--basefile,--bf", flags.basefiles, "FILE",
                "Send FILE to each host before its first job");
  remote.flag("--onall", flags.onall, "Run every job on every host, one host after another");
  remote.flag("--nonall", flags.nonall, "Run the command once on every host, with no argument");
  Area slurm(app, "A Slurm cluster");
  slurm.flag("--slurm", flags.slurm,
             "Run jobs on the nodes of this Slurm allocation, one srun step per node (workers: "
             "each node's CPUs, or -j)");
  slurm.value("--slurm-alloc", flags.slurm_alloc, "ARGS",
              "Take an allocation with salloc ARGS, run on it as --slurm, release it at the end");
  slurm.value("--heartbeat", flags.heartbeat, "DUR",
              "How often each node's agent says it is alive (default 0.5s); a node silent 4x "
              "that long is lost and its jobs run elsewhere");
}

// Output, and the reports besides it.
void declare_output(const Declaration& app, ReportingFlags& flags, RunConfig& config) {
  Area output(app, "Output");
  output.flag("-k,--keep-order", config.keep_order, "Print output in input order");
  output.flag("--line-buffer,--lb,--linebuffer", config.line_buffer,
              "Print whole lines as they arrive");
  output.flag("--tag", config.tag, "Prefix output lines with the record and a tab");
  output.value("--tagstring", config.tagstring, "STR",
               "Prefix output lines with STR ({}, {1}, {#}... replaced) and a tab");
  output.flag("-v", config.print_command, "Print each command to stdout before its output");
  output.flag("-t,--verbose", config.trace, "Print each command to stderr as it starts");
  output.flag("--dry-run,--dryrun", config.dry_run, "Print the commands, run nothing");
  output.flag("-u,--ungroup", config.ungroup,
              "Jobs write straight to stdout and stderr as they go (lines may mix)");
  output.value("--results,--res", config.results, "NAME",
               "Keep output in NAME/1/VALUE/.../{stdout,stderr,seq}, or a NAME.csv, .tsv, .json "
               "table, not printed");
  output.flag("--files,--output-as-files", config.files,
              "Each job's stdout to a file in $TMPDIR; print the file's name");

  Area reporting(app, "Reporting");
  reporting.value("--joblog,--jl", config.joblog, "FILE",
                  "Write GNU parallel's job log to FILE (+FILE: add to it)");
  reporting.flag("--summary", flags.summary,
                 "Print the summary to stderr (default: when a terminal)");
  reporting.flag("--no-summary", flags.no_summary, "Never print the summary");
  reporting.flag("--progress", config.progress,
                 "Show progress on stderr (redrawn on a terminal, a line every 30s elsewhere)");
  reporting.flag("--bar", config.bar, "Show progress with a bar (as --progress off a terminal)");
  reporting.value("--progress-interval", flags.progress_interval, "DUR",
                  "Where stderr is no terminal: a progress line every DUR (30s)");
  reporting.flag("--eta", config.eta, "Show progress with an estimate of the time left");
  reporting.value("--timeline", config.timeline, "FILE.svg",
                  "Draw the run as an SVG chart in FILE");
  reporting.value("--summary-json", config.summary_json, "FILE",
                  "Write the summary as JSON to FILE (- stdout)");
}

void declare_flags(const Declaration& declaration, OptionFlags& flags, RunConfig& config) {
  CLI::App& app = declaration.app;
  auto formatter = std::make_shared<UsageFormatter>();
  formatter->column_width(30);
  app.formatter(formatter);
  app.prefix_command();  // the first word that is not an option starts the command
  // A flag given twice takes its last value, as in GNU parallel and xargs (`-j 2 -j 4` is -j 4):
  // an alias or $PARALLEL-like prefix can be overridden on the command line. -a and -S keep all.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("taskpool ") + TASKPOOL_VERSION);
  // Made when --help is shown, not for every run (17 000 instructions). CLI11 puts a line end
  // after what the callback gives, so the text's own last one is taken off.
  app.footer([] {
    std::string text = help_footer();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  });
  declare_input(declaration, flags.input, config);
  declare_pipe(declaration, flags.pipe);
  declare_grouping(declaration, flags.grouping, config);
  declare_pool(declaration, flags.pool, config);
  declare_resilience(declaration, flags.resilience, config);
  declare_fetch(declaration, flags.fetch, config);
  declare_hosts(declaration, flags.hosts);
  declare_output(declaration, flags.reporting, config);
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
std::vector<std::string> command_words(std::vector<std::string> remaining,
                                       const std::vector<std::string>& flags) {
  if (!remaining.empty() && remaining.front() == "--") {
    remaining.erase(remaining.begin());
  } else if (!remaining.empty() && remaining.front().size() > 1 && remaining.front()[0] == '-') {
    // The command starts at the first word that is not an option; one that looks like an
    // option is a typo far more often than a program whose name starts with '-'.
    const std::optional<std::string> meant = closest_flag(remaining.front(), flags);
    throw UsageError("unknown option '" + remaining.front() + "' " +
                     (meant ? "(did you mean " + *meant + "?)"
                            : "(put -- before a command that starts with '-')"));
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

ParsedArguments parse_arguments_with(const std::vector<std::string>& args, const FlagWords& words) {
  RunConfig config;
  OptionFlags flags;
  CLI::App app{"taskpool: run commands in parallel through a pool of workers", "taskpool"};
  declare_flags({app, words}, flags, config);
  try {
    size_t options_end = 0;
    config.sources = split_sources(args, options_end);
    app.parse(cli11_arguments(args, options_end));
    config.command = command_words(app.remaining(), flag_names(app));
    for (const CLI::Option* option : all_flags(app)) {
      if (option->count() > 0) flags.given.insert(option->get_name());
    }
    fill_config(flags, config);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help(), ""};
  } catch (const CLI::CallForVersion&) {
    return {std::nullopt, 0, std::string("taskpool ") + TASKPOOL_VERSION + "\n", ""};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 255, "",
            reword_parse_error(e.what()) + "\nRun 'taskpool --help' for the options."};
  } catch (const UsageError& e) {
    return {std::nullopt, 255, "", e.what()};
  }
  return {std::move(config), 0, "", ""};
}

ParsedArguments parse_arguments(const std::vector<std::string>& args) {
  // Only the flags the words may name are declared (see FlagWords). The outcome is the same as
  // with every flag, since a flag no word names is not given; all but a run (an error, --help,
  // --version) is made again with every flag, for their list and a mistyped flag's suggestion.
  ParsedArguments parsed = parse_arguments_with(args, FlagWords(args));
  if (parsed.config) return parsed;
  return parse_arguments_with(args, FlagWords::all());
}

ParseOutcome parse_command_line(int argc, char** argv) {
  std::vector<std::string> args =
      argc > 1 ? std::vector<std::string>(argv + 1, argv + argc) : std::vector<std::string>();
  // $PARALLEL: default options before the command line's, as GNU parallel takes them.
  std::vector<std::string> defaults;
  const char* variable = std::getenv("PARALLEL");
  const std::string env = variable != nullptr ? variable : "";
  try {
    defaults = shell_words(env);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "taskpool: $PARALLEL ('%s'): %s\n", env.c_str(), e.what());
    return {std::nullopt, 255};
  }
  std::vector<std::string> all = defaults;
  all.insert(all.end(), args.begin(), args.end());
  ParsedArguments parsed = parse_arguments(all);
  // An error that the command line alone does not make is $PARALLEL's.
  if (!parsed.error.empty() && !defaults.empty() && parse_arguments(args).error != parsed.error) {
    parsed.error = fmt::format("$PARALLEL ('{}'): {}", env, parsed.error);
  }
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "taskpool: %s\n", parsed.error.c_str());
    return {std::nullopt, parsed.exit_status};
  }
  if (!parsed.config) return print_and_exit(parsed.output);
  return {std::move(parsed.config), 0};
}

}  // namespace taskpool
