#include "cli/option_areas.h"

#include <fmt/format.h>

#include <charconv>
#include <string_view>
#include <utility>

#include "cli/live.h"
#include "cli/option_files.h"
#include "cli/option_limits.h"
#include "cli/option_rules.h"
#include "cli/option_values.h"
#include "cli/remote_env.h"
#include "cli/timeline.h"
#include "core/command.h"
#include "core/error.h"
#include "core/parse.h"

namespace taskpool {
namespace {

// --nice N: the niceness nice(1) takes, -20 (only for root) to 19.
int parse_nice(const std::string& value) {
  int nice = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), nice);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || nice < -20 ||
      nice > 19) {
    throw UsageError("--nice: '" + value + "' is not a niceness from -20 to 19");
  }
  return nice;
}

void fill_input(const InputFlags& flags, RunConfig& config) {
  if (flags.null) config.delimiter = std::string(1, '\0');
  if (!flags.delimiter.empty()) {
    config.delimiter = parse_delimiter(flags.delimiter);
    config.split_lists = true;
  }
  config.link_all = flags.link;
  if (config.colsep && config.colsep->empty()) throw UsageError("--colsep: the pattern is empty");
}

// GNU parallel's -i [STR], -e [STR] and -l [N], as -I, -E and -L. Perl's Getopt::Long gives
// -l only a number: a word after it that is none (CLI11 took it) starts the command.
OptionFlags with_gnu_spellings(const OptionFlags& given, RunConfig& config) {
  OptionFlags flags = given;
  GroupingFlags& grouping = flags.grouping;
  const auto value = [](const std::vector<std::string>& values) {
    return values.empty() ? std::string() : values.back();
  };
  if (flags.was_given("-i")) {
    const std::string replace = value(grouping.replace_optional);
    config.replace = replace.empty() ? "{}" : replace;
  }
  if (flags.was_given("-e")) {
    const std::string end = value(grouping.eof_optional);
    config.eof_string = end.empty() ? std::nullopt : std::optional<std::string>(end);
  }
  if (flags.was_given("-l")) {
    const std::string lines = value(grouping.lines_optional);
    grouping.max_lines = "1";
    if (parse_whole_number(lines)) {
      grouping.max_lines = lines;
    } else if (!lines.empty()) {
      config.command.insert(config.command.begin(), lines);
    }
  }
  return flags;
}

void fill_grouping(const GroupingFlags& flags, RunConfig& config) {
  if (!flags.max_args.empty())
    config.max_args = parse_count("-n/--max-args", flags.max_args, 1000000);
  if (!flags.max_replace_args.empty()) {
    config.max_args = parse_count("-N/--max-replace-args", flags.max_replace_args, 1000000);
    config.positional = true;
  }
  if (!flags.max_lines.empty()) {
    config.max_args = parse_count("-L/--max-lines", flags.max_lines, 1000000);
    config.positional = true;
    config.continue_lines = true;
  }
  const bool counted =
      !flags.max_args.empty() || !flags.max_replace_args.empty() || !flags.max_lines.empty();
  if (counted && config.max_args == 0) {
    // GNU parallel's and xargs' -n 0: a command per record, which the record gives no argument.
    config.no_args = true;
    config.positional = false;
    config.continue_lines = false;
  }
  config.skip_blank = flags.no_run_if_empty;
  if (flags.context_fill) config.fill = RunConfig::Fill::kContext;
  if (flags.multi_fill) config.fill = RunConfig::Fill::kMulti;
  if (!flags.max_chars.empty()) {
    config.max_chars = parse_count("-s/--max-chars", flags.max_chars, 1u << 30);
    if (*config.max_chars == 0) throw UsageError("-s/--max-chars: 0 leaves no room for a command");
  }
  if (config.replace.empty()) throw UsageError("-I: the replacement string is empty");
  if (config.eof_string && config.eof_string->empty()) {
    throw UsageError("-E: the end-of-input string is empty");
  }
}

// -j and --mode, and the live pool's --priority-col, --queue-size, --max-records, --control.
void fill_pool(const OptionFlags& flags, RunConfig& config) {
  const PoolFlags& pool = flags.pool;
  if (flags.was_given("--jobs")) {
    config.jobs_given = true;
    resolve_jobs(pool.jobs, config);
  } else {
    config.jobs = config.fetch ? kFetchDefaultJobs : cpu_count();
  }
  config.mode = parse_mode(pool.mode);
  if (!pool.priority_col.empty()) {
    config.priority_col = parse_count("--priority-col", pool.priority_col, 1000000);
    if (config.priority_col == 0) throw UsageError("--priority-col: columns count from 1");
  }
  if (!pool.queue_size.empty()) {
    config.queue_size = parse_count("--queue-size", pool.queue_size, 10000000);
    if (*config.queue_size == 0) throw UsageError("--queue-size: the queue needs room for 1");
  }
  if (!pool.max_records.empty()) {
    config.max_records = parse_count("--max-records", pool.max_records, UINT64_MAX - 1);
    if (config.max_records == 0) throw UsageError("--max-records: 0 leaves nothing to run");
  }
  if (flags.was_given("--load")) config.max_load = parse_load(pool.load, cpu_count());
  if (flags.was_given("--memfree")) {
    config.memfree = static_cast<uint64_t>(parse_bytes("--memfree", pool.memfree));
  }
  if (config.control && config.control->empty()) {
    throw UsageError("--control: the socket path is empty");
  }
}

void fill_resilience(const OptionFlags& flags, RunConfig& config) {
  const ResilienceFlags& given = flags.resilience;
  config.retry.retries = static_cast<int>(parse_count("--retries", given.retries, 1000000));
  config.retry.backoff = parse_duration("--backoff", given.backoff);
  config.retry.backoff_max = parse_duration("--backoff-max", given.backoff_max);
  if (flags.was_given("--timeout")) {
    const std::optional<double> percent = parse_timeout_percent(given.timeout);
    if (percent) {
      config.timeout_percent = *percent;
    } else {
      config.timeout = parse_duration_above_zero("--timeout", given.timeout);
    }
  }
  config.kill_after = parse_duration("--kill-after", given.kill_after);
  if (flags.was_given("--rate")) config.rate = parse_rate("--rate", given.rate);
  if (flags.was_given("--delay")) {
    if (flags.was_given("--rate")) {
      throw UsageError("--delay and --rate exclude each other (--delay DUR is --rate 1/DUR)");
    }
    config.rate = 1.0 / to_seconds(parse_duration_above_zero("--delay", given.delay));
  }
  if (flags.was_given("--nice")) config.nice = parse_nice(given.nice);
  config.burst = static_cast<int>(parse_count("--burst", given.burst, 1000000));
  if (config.burst < 1) {
    throw UsageError("--burst: '" + given.burst + "' is not a count of at least 1");
  }
  if (flags.was_given("--deadline")) {
    config.deadline = parse_duration_above_zero("--deadline", given.deadline);
  }
  config.grace = parse_duration("--grace", given.grace);
  for (const std::string& text : given.limits) {
    config.limits.push_back(parse_limit("--limit", text, config.replace));
  }
  config.halt = parse_halt(given.halt);
  if (given.resume) config.resume = RunConfig::Resume::kDone;
  if (given.resume_failed) config.resume = RunConfig::Resume::kSucceeded;
}

// Progress, --timeline, --joblog, the summary.
void fill_reporting(const OptionFlags& flags, RunConfig& config) {
  const ReportingFlags& reporting = flags.reporting;
  if (config.eta || config.bar) config.progress = true;
  if (flags.was_given("--progress-interval")) {
    config.progress_interval = parse_duration("--progress-interval", reporting.progress_interval);
    if (config.progress_interval < std::chrono::milliseconds(100)) {
      throw UsageError("--progress-interval: '" + reporting.progress_interval +
                       "' is shorter than 100ms");
    }
  }
  if (config.tagstring && config.tagstring->empty()) {
    throw UsageError("--tagstring: the tag is empty (--tag tags with the record)");
  }
  if (config.tagstring) config.tag = true;
  if (config.results && config.results->empty()) {
    throw UsageError("--results: the name is empty");
  }
  if (config.timeline && config.timeline->empty()) {
    throw UsageError("--timeline: the file name is empty");
  }
  if (config.timeline) check_timeline_path(*config.timeline);
  if (reporting.summary) config.summary = SummaryWhen::kAlways;
  if (reporting.no_summary) config.summary = SummaryWhen::kNever;
  if (config.joblog && config.joblog->starts_with('+')) {
    config.joblog->erase(0, 1);  // GNU parallel's spelling for appending (./+FILE is a name)
    config.joblog_append = true;
  }
  if (config.joblog && config.joblog->empty()) throw UsageError("--joblog: the file name is empty");
  if (config.summary_json && config.summary_json->empty()) {
    throw UsageError("--summary-json: the file name is empty (use - for stdout)");
  }
}

void fill_fetch(const OptionFlags& flags, RunConfig& config) {
  const FetchFlags& fetch = flags.fetch;
  if (flags.was_given("--connect-timeout")) {
    config.connect_timeout = parse_duration("--connect-timeout", fetch.connect_timeout);
  }
  if (!fetch.max_per_host.empty()) {
    config.limits.push_back(parse_limit("--max-per-host", "{host}=" + fetch.max_per_host, "{}"));
  }
  if (flags.was_given("--limit-rate")) {
    config.limit_rate = parse_bytes("--limit-rate", fetch.limit_rate);
  }
  if (flags.was_given("--stall-timeout")) {
    config.stall_timeout = parse_duration("--stall-timeout", fetch.stall_timeout);
  }
  if (config.fetch && config.output_dir.empty()) {
    throw UsageError("-o/--output-dir: the directory is empty");
  }
}

// --header with --pipe: ':' is the first line, N the first N lines, put before every block.
size_t pipe_header_lines(const std::string& header, std::string_view name) {
  if (header == ":") return 1;
  const std::optional<uint64_t> lines = parse_whole_number(header);
  if (!lines || *lines > 1000000) {
    throw UsageError(fmt::format(
        "{} takes --header : (the first line) or --header N (the first N lines), not '{}'", name,
        header));
  }
  return *lines;
}

// --pipe, --pipepart and their flags; -N gives a block's records there.
void fill_pipe(const OptionFlags& flags, RunConfig& config) {
  const PipeFlags& pipe = flags.pipe;
  if (!pipe.pipe && !pipe.part) {
    for (const char* flag : {"--block", "--recstart", "--recend", "--cat", "--fifo"}) {
      if (flags.was_given(flag))
        throw UsageError(std::string(flag) + " needs --pipe or --pipepart");
    }
    return;
  }
  config.pipe = pipe.part ? RunConfig::Pipe::kPart : RunConfig::Pipe::kStdin;
  config.pipe_cat = pipe.cat;
  config.pipe_fifo = pipe.fifo;
  if (pipe.cat && pipe.fifo) throw UsageError("--cat and --fifo exclude each other: give one");
  BlockOptions& blocks = config.blocks;
  if (flags.was_given("--block")) {
    blocks.block_size = static_cast<size_t>(parse_bytes("--block", pipe.block));
  }
  // As GNU parallel: --recstart alone splits before every STR (no end needed), --recend alone
  // after every STR, both where the one is followed by the other.
  if (flags.was_given("--recstart")) {
    blocks.boundary.start = parse_delimiter(pipe.recstart);
    blocks.boundary.end.clear();
  }
  if (flags.was_given("--recend")) blocks.boundary.end = parse_delimiter(pipe.recend);
  if (blocks.boundary.start.empty() && blocks.boundary.end.empty()) {
    throw UsageError("--recstart and --recend are both empty: records could end anywhere");
  }
  const std::string_view name = pipe.part ? "--pipepart" : "--pipe";
  if (config.header) {
    // Not column names: the lines that go before every block (read with the blocks).
    blocks.header_lines = pipe_header_lines(*config.header, name);
    config.header.reset();
  }
  const auto refuse = [name](bool broken, std::string_view why) {
    if (broken) throw UsageError(fmt::format("{} {}", name, why));
  };
  refuse(!flags.grouping.max_args.empty() || !flags.grouping.max_lines.empty() ||
             config.fill != RunConfig::Fill::kNone || config.no_args,
         "gives jobs blocks, not arguments (-N N: N records a block)");
  if (config.max_args > 0) {
    refuse(pipe.part, "cuts by size: -N does not apply");
    blocks.records = config.max_args;
    config.max_args = 0;
    config.positional = false;
  }
  const size_t files = config.arg_files.size() + config.sources.size();
  refuse(files > 1 || (files == 1 && config.arg_files.empty() && !config.sources.front().file),
         "reads one input: stdin, -a FILE or :::: FILE");
  refuse(config.fetch, "runs commands: not with --fetch");
  refuse(!config.hosts.empty(), "runs its jobs on this machine: not with -S");
  refuse(config.slurm || config.slurm_alloc.has_value(),
         "runs its jobs on this machine: not with --slurm or --slurm-alloc");
  refuse(config.feedback || config.compare || config.colsep.has_value() || config.skip_blank,
         "does not go with --feedback, --compare, --colsep or -r");
}

// --slurm, --slurm-alloc, --heartbeat.
void fill_slurm(const OptionFlags& flags, RunConfig& config) {
  const HostFlags& hosts = flags.hosts;
  config.slurm = hosts.slurm;
  if (flags.was_given("--slurm-alloc")) {
    std::optional<std::vector<std::string>> words = split_simple_command(hosts.slurm_alloc);
    if (!words) {
      throw UsageError("--slurm-alloc: '" + hosts.slurm_alloc +
                       "' is not a plain list of salloc options (no shell syntax)");
    }
    config.slurm_alloc = std::move(*words);
  }
  if (flags.was_given("--heartbeat")) {
    config.heartbeat = parse_duration("--heartbeat", hosts.heartbeat);
    if (config.heartbeat == Duration::zero()) throw UsageError("--heartbeat: 0 is no interval");
  }
  const bool slurm = config.slurm || config.slurm_alloc;
  if (config.slurm && config.slurm_alloc) {
    throw UsageError(
        "--slurm runs in the allocation taskpool is in, --slurm-alloc takes one: "
        "give one of them");
  }
  if (!slurm && flags.was_given("--heartbeat")) {
    throw UsageError("--heartbeat is for --slurm and --slurm-alloc");
  }
  if (!slurm) return;
  const char* other = !hosts.sshlogins.empty() || !hosts.sshloginfiles.empty() ? "-S/--sshlogin"
                      : config.fetch                                           ? "--fetch"
                      : config.compare                                         ? "--compare"
                      : config.feedback                                        ? "--feedback"
                      : config.jobs_file                                       ? "-j FILE"
                                                                               : nullptr;
  if (other != nullptr) {
    throw UsageError(
        fmt::format("--slurm and --slurm-alloc run jobs on the allocation's nodes; "
                    "leave out {}",
                    other));
  }
}

// --env, --transferfile, --return, --cleanup, --basefile and their shorthands.
void fill_remote_files(const HostFlags& flags, RunConfig& config) {
  config.remote_env = remote_env(flags.env);
  config.transfer_files = flags.transferfiles;
  config.return_files = flags.returns;
  config.basefiles = flags.basefiles;
  config.cleanup = flags.cleanup || !flags.trc.empty();
  config.onall = flags.onall;
  config.nonall = flags.nonall;
  if (flags.transfer || !flags.trc.empty()) config.transfer_files.emplace_back("{}");
  for (const std::string& file : flags.trc) config.return_files.push_back(file);
  for (const auto* list : {&config.transfer_files, &config.return_files, &config.basefiles}) {
    for (const std::string& file : *list) {
      if (file.empty())
        throw UsageError("--transferfile, --return, --basefile: a file name is empty");
    }
  }
}

// -S and --ssh (--sshloginfile: read_flag_files).
void fill_hosts(const OptionFlags& flags, RunConfig& config) {
  for (const std::string& list : flags.hosts.sshlogins) {
    for (SshLogin& login : parse_sshlogins("-S/--sshlogin", list)) {
      config.hosts.push_back(std::move(login));
    }
  }
  if (flags.was_given("--ssh")) {
    std::optional<std::vector<std::string>> words = split_simple_command(flags.hosts.ssh);
    if (!words || words->empty()) {
      throw UsageError("--ssh: '" + flags.hosts.ssh +
                       "' is not a plain command with options (no shell syntax; a wrapper "
                       "script or ~/.ssh/config can do more)");
    }
    config.ssh = std::move(*words);
  }
  fill_remote_files(flags.hosts, config);
  fill_slurm(flags, config);
}

// The files flags name, but -j's (read with its value): read once the command line is known to
// hold together, so that one which breaks a rule reads nothing.
void read_flag_files(const OptionFlags& flags, RunConfig& config) {
  if (flags.was_given("--cacert")) check_readable("--cacert", config.ca_file);
  add_host_files(flags.hosts.sshloginfiles, config.hosts);
  if (flags.was_given("--limit-file")) read_limit_file(flags.resilience.limit_file, config.limits);
}

}  // namespace

std::vector<RunConfig::Source> split_sources(const std::vector<std::string>& args,
                                             size_t& options_end) {
  std::vector<RunConfig::Source> sources;
  options_end = args.size();
  bool file_source = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == ":::" || arg == ":::+" || arg == "::::" || arg == "::::+") {
      if (options_end == args.size()) options_end = i;
      if (file_source && !sources.back().file) {
        throw UsageError(args[i - 1] + " needs a file name after it");
      }
      // The first source may be linked too (to nothing before it), as in GNU parallel.
      RunConfig::Source& source = sources.emplace_back();
      source.linked = arg.back() == '+';
      file_source = arg.starts_with("::::");
    } else if (sources.empty()) {
      continue;
    } else if (file_source) {
      // :::: takes any number of files, each a source of its own; ::::+ links each of them to
      // the source before it, as GNU parallel does.
      if (sources.back().file) {
        const bool linked = sources.back().linked;
        sources.emplace_back().linked = linked;
      }
      sources.back().file = std::string(arg);
    } else {
      sources.back().values.emplace_back(arg);
    }
  }
  if (file_source && !sources.back().file) throw UsageError(":::: needs a file name after it");
  return sources;
}

void fill_config(const OptionFlags& given, RunConfig& config) {
  const OptionFlags flags = with_gnu_spellings(given, config);
  // -j is read first: whether it names a file decides a rule (-j FILE excludes -S).
  fill_pool(flags, config);
  fill_input(flags.input, config);
  fill_grouping(flags.grouping, config);
  fill_resilience(flags, config);
  fill_reporting(flags, config);
  fill_fetch(flags, config);
  fill_hosts(flags, config);
  if ((config.max_load || config.memfree != 0) &&
      (!config.hosts.empty() || config.slurm || config.slurm_alloc)) {
    throw UsageError(
        "--load and --memfree read this machine: not with -S, --slurm or --slurm-alloc");
  }
  fill_pipe(flags, config);
  check_flag_rules(facts_of(flags, config), config);
  read_flag_files(flags, config);
}

}  // namespace taskpool
