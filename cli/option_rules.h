// The rules between flags ("--feedback and --fetch exclude each other", "--resume needs
// --joblog"), as one table: a rule is broken when both of its facts hold. Checked in one loop,
// once every area's values are parsed (a fact such as "-j names a file" needs them) and before
// the files the other flags name are read.
#pragma once

#include <bitset>
#include <span>
#include <string>
#include <string_view>

#include "cli/option_flags.h"
#include "cli/options.h"

namespace taskpool {

// What a rule looks at: a flag given, or a condition on the command line.
enum class Fact {
  kPriorityCol,     // --priority-col
  kGrouping,        // any of -n, -N, -L, -X, -m
  kMaxArgs,         // -n
  kMaxReplaceArgs,  // -N
  kMaxLines,        // -L
  kExactCount,      // -N or -L
  kZeroCount,       // -n 0, -N 0 or -L 0
  kContextFill,     // -X
  kMultiFill,       // -m
  kFill,            // -X or -m
  kControl,         // --control
  kCompare,         // --compare
  kFeedback,        // --feedback
  kFetch,           // --fetch
  kNoFetch,         // no --fetch
  kFetchOnly,       // a flag that only --fetch takes (-o, --continue, ...)
  kCommand,         // a command is given
  kResume,          // --resume or --resume-failed
  kResumeDone,      // --resume
  kResumeFailed,    // --resume-failed
  kJoblogStdout,    // --joblog -
  kNoJoblog,        // no --joblog
  kHosts,           // -S or --sshloginfile
  kNoHosts,         // neither
  kSsh,             // --ssh
  kJobsFile,        // -j names a file
  kNull,            // -0
  kDelimiter,       // -d
  kLongDelimiter,   // -d of several bytes
  kSummary,         // --summary
  kNoSummary,       // --no-summary
  kBatchMode,       // --mode batch
  kDryRun,          // --dry-run
  kQuote,           // -q
  kUngroup,         // -u
  kGroupedOutput,   // -k, --tag, --tagstring, --line-buffer
  kResults,         // --results
  kFiles,           // --files
  kLineBuffer,      // --line-buffer
  kShuffle,         // --shuf
  kOnAll,           // --onall or --nonall
  kRunFiles,        // --summary-json or --timeline
  kCount
};

using Facts = std::bitset<static_cast<size_t>(Fact::kCount)>;

struct FlagRule {
  Fact flag;
  Fact other;  // a flag or a condition that does not go with `flag`
  // The usage error; "{command}" stands for the first word of the command.
  std::string_view message;
};

// Every rule, in the order they are checked: the first broken one is the error.
std::span<const FlagRule> flag_rules();

// The facts of a parsed command line.
Facts facts_of(const OptionFlags& flags, const RunConfig& config);

// Throws UsageError with the message of the first rule `facts` break.
void check_flag_rules(const Facts& facts, const RunConfig& config);

}  // namespace taskpool
