#include "cli/option_rules.h"

#include <array>

#include "core/error.h"

namespace taskpool {
namespace {

constexpr std::string_view kCountsExclude = "-n, -N and -L exclude each other";

// Ordered as the checks were before they were a table, so that a command line that breaks
// several rules gets the same message as before.
constexpr std::array kRules = [] {
  using enum Fact;  // here, not at namespace scope: the unity build shares that with other files
  return std::array{
      FlagRule{
          kPriorityCol, kGrouping,
          "--priority-col orders single records; -n, -N, -L, -X and -m put several in one job"},
      FlagRule{kControl, kCompare,
               "--compare runs the input twice on its own; leave out --control"},
      FlagRule{kFeedback, kFetch, "--feedback and --fetch exclude each other"},
      FlagRule{kFeedback, kCompare, "--feedback and --compare exclude each other"},
      FlagRule{kFeedback, kGrouping, "--feedback and -n, -N, -L, -X and -m exclude each other"},
      FlagRule{kFeedback, kResume, "--feedback and --resume exclude each other"},
      FlagRule{kFeedback, kHosts, "--feedback runs jobs on this machine; leave out -S/--sshlogin"},
      FlagRule{kFeedback, kLongDelimiter,
               "--feedback reads what jobs write up to a delimiter of one byte; give -d one "
               "character"},
      FlagRule{kJobsFile, kHosts,
               "-j FILE resizes the pool on this machine; with -S give each host its workers as "
               "N/host"},
      FlagRule{kFetchOnly, kNoFetch,
               "-o, --overwrite, --continue, --connect-timeout, --limit-rate, --stall-timeout and "
               "--cacert are for --fetch"},
      FlagRule{kFetch, kCommand,
               "--fetch downloads its records and runs no command; drop '{command}'"},
      FlagRule{kFetch, kCompare, "--fetch and --compare exclude each other"},
      FlagRule{kFetch, kGrouping,
               "--fetch downloads one URL per job; -n, -N, -L, -X and -m do not apply"},
      FlagRule{kOnAll, kNoHosts,
               "--onall and --nonall run on the hosts of -S/--sshlogin: give them"},
      FlagRule{kOnAll, kCompare, "--compare runs on this machine; leave out --onall and --nonall"},
      FlagRule{kOnAll, kResume,
               "--resume and --onall/--nonall exclude each other (the joblog has a job per host)"},
      FlagRule{kOnAll, kControl, "--control and --onall/--nonall exclude each other"},
      FlagRule{
          kOnAll, kRunFiles,
          "--summary-json and --timeline describe one run; --onall and --nonall make one a host"},
      FlagRule{kSsh, kNoHosts, "--ssh is for -S/--sshlogin or --sshloginfile"},
      FlagRule{kHosts, kFetch,
               "--fetch downloads on this machine; -S/--sshlogin and --sshloginfile do not apply"},
      FlagRule{kHosts, kCompare, "--compare runs on this machine; leave out -S/--sshlogin"},
      FlagRule{kMaxArgs, kMaxReplaceArgs, kCountsExclude},
      FlagRule{kMaxArgs, kMaxLines, kCountsExclude},
      FlagRule{kMaxReplaceArgs, kMaxLines, kCountsExclude},
      FlagRule{kContextFill, kMultiFill, "-X and -m exclude each other"},
      FlagRule{kQuote, kGrouping,
               "-q quotes the words of one record's command; it excludes -n, -N, -L, -X and -m"},
      FlagRule{kExactCount, kFill, "-N and -L give an exact count; they exclude -X and -m"},
      FlagRule{kZeroCount, kFill,
               "-n 0, -N 0 and -L 0 give each record a job with no argument; they exclude -X and "
               "-m"},
      FlagRule{kResumeDone, kResumeFailed, "--resume and --resume-failed exclude each other"},
      FlagRule{kResume, kJoblogStdout, "--resume needs a joblog file to read, not standard output"},
      FlagRule{kResumeDone, kNoJoblog,
               "--resume needs --joblog FILE (the joblog of the run to resume)"},
      FlagRule{kResumeFailed, kNoJoblog,
               "--resume-failed needs --joblog FILE (the joblog of the run to resume)"},
      FlagRule{kNull, kDelimiter, "-0/--null and -d/--delimiter exclude each other"},
      FlagRule{kSummary, kNoSummary, "--summary and --no-summary exclude each other"},
      FlagRule{kCompare, kBatchMode, "--compare runs both modes; leave out --mode"},
      FlagRule{kCompare, kDryRun, "--compare and --dry-run exclude each other"},
      FlagRule{kUngroup, kGroupedOutput,
               "-u passes output through as it comes; it excludes -k, --tag, --tagstring and "
               "--line-buffer"},
      FlagRule{kUngroup, kResults, "-u passes output through; --results cannot keep it"},
      FlagRule{kUngroup, kFiles, "-u passes output through; --files cannot keep it"},
      FlagRule{kResults, kFiles, "--results and --files exclude each other"},
      FlagRule{kResults, kFetch, "--fetch saves its downloads; --results does not apply"},
      FlagRule{kFiles, kFetch, "--fetch saves its downloads; --files does not apply"},
      FlagRule{kResults, kLineBuffer,
               "--results keeps whole output in files; leave out --line-buffer"},
      FlagRule{kFiles, kLineBuffer, "--files keeps whole output in files; leave out --line-buffer"},
      FlagRule{kShuffle, kResume,
               "--shuf numbers the jobs in a new random order each run; --resume cannot find "
               "them again"},
      FlagRule{kShuffle, kCompare, "--shuf and --compare exclude each other"},
      FlagRule{kShuffle, kFeedback, "--shuf and --feedback exclude each other"},
  };
}();

// The flags only --fetch takes, by the names OptionFlags::given holds.
constexpr std::array<std::string_view, 7> kFetchOnlyFlags{
    "--output-dir", "--overwrite",     "--continue", "--connect-timeout",
    "--limit-rate", "--stall-timeout", "--cacert"};

}  // namespace

std::span<const FlagRule> flag_rules() { return kRules; }

Facts facts_of(const OptionFlags& flags, const RunConfig& config) {
  using enum Fact;
  const GroupingFlags& grouping = flags.grouping;
  const bool exact = !grouping.max_replace_args.empty() || !grouping.max_lines.empty();
  const bool fill = grouping.context_fill || grouping.multi_fill;
  const bool hosts = !flags.hosts.sshlogins.empty() || !flags.hosts.sshloginfiles.empty();
  const ResilienceFlags& resilience = flags.resilience;
  bool fetch_only = false;
  for (const std::string_view name : kFetchOnlyFlags) fetch_only |= flags.was_given(name);
  Facts facts;
  const auto set = [&facts](Fact fact, bool holds) { facts.set(static_cast<size_t>(fact), holds); };
  set(kPriorityCol, !flags.pool.priority_col.empty());
  set(kGrouping, !grouping.max_args.empty() || exact || fill);
  set(kMaxArgs, !grouping.max_args.empty());
  set(kMaxReplaceArgs, !grouping.max_replace_args.empty());
  set(kMaxLines, !grouping.max_lines.empty());
  set(kExactCount, exact);
  set(kZeroCount, config.no_args);
  set(kContextFill, grouping.context_fill);
  set(kMultiFill, grouping.multi_fill);
  set(kFill, fill);
  set(kControl, config.control.has_value());
  set(kCompare, config.compare);
  set(kFeedback, config.feedback);
  set(kFetch, config.fetch);
  set(kNoFetch, !config.fetch);
  set(kFetchOnly, fetch_only);
  set(kCommand, !config.command.empty());
  set(kResume, resilience.resume || resilience.resume_failed);
  set(kResumeDone, resilience.resume);
  set(kResumeFailed, resilience.resume_failed);
  set(kJoblogStdout, config.joblog == "-");
  set(kNoJoblog, !config.joblog.has_value());
  set(kHosts, hosts);
  set(kNoHosts, !hosts);
  set(kSsh, flags.was_given("--ssh"));
  set(kJobsFile, config.jobs_file.has_value());
  set(kNull, flags.input.null);
  set(kDelimiter, !flags.input.delimiter.empty());
  set(kLongDelimiter, config.delimiter.size() > 1);
  set(kSummary, flags.reporting.summary);
  set(kNoSummary, flags.reporting.no_summary);
  set(kBatchMode, flags.was_given("--mode") && config.mode == DispatchMode::kBatch);
  set(kDryRun, config.dry_run);
  set(kQuote, config.quote);
  set(kUngroup, config.ungroup);
  set(kGroupedOutput,
      config.keep_order || config.tag || config.tagstring.has_value() || config.line_buffer);
  set(kResults, config.results.has_value());
  set(kFiles, config.files);
  set(kLineBuffer, config.line_buffer);
  set(kShuffle, config.shuffle);
  set(kOnAll, flags.hosts.onall || flags.hosts.nonall);
  set(kRunFiles, config.summary_json.has_value() || config.timeline.has_value());
  return facts;
}

void check_flag_rules(const Facts& facts, const RunConfig& config) {
  for (const FlagRule& rule : kRules) {
    if (!facts.test(static_cast<size_t>(rule.flag)) ||
        !facts.test(static_cast<size_t>(rule.other))) {
      continue;
    }
    std::string message(rule.message);
    constexpr std::string_view kCommandWord = "{command}";
    if (const size_t at = message.find(kCommandWord); at != std::string::npos) {
      message.replace(at, kCommandWord.size(), config.command.front());
    }
    throw UsageError(message);
  }
}

}  // namespace taskpool
