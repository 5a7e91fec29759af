// The rules between flags (cli/option_rules.h): each one broken alone, every row of the table
// covered, the first in the table's order winning, and flags that go together accepted.
#include "cli/option_rules.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/cli/option_test_helpers.h"

namespace taskpool {
namespace {

using testing::Args;
using testing::config_of;
using testing::OptionFiles;
using testing::usage_error_of;
using testing::UsageCase;

constexpr char kFetchOnly[] =
    "-o, --overwrite, --continue, --connect-timeout, --limit-rate, --stall-timeout and "
    "--cacert are for --fetch";
constexpr char kFetchGrouping[] =
    "--fetch downloads one URL per job; -n, -N, -L, -X and -m do not apply";
constexpr char kFetchHosts[] =
    "--fetch downloads on this machine; -S/--sshlogin and --sshloginfile do not apply";
constexpr char kFeedbackGrouping[] = "--feedback and -n, -N, -L, -X and -m exclude each other";
constexpr char kFeedbackHosts[] = "--feedback runs jobs on this machine; leave out -S/--sshlogin";
constexpr char kPriorityGrouping[] =
    "--priority-col orders single records; -n, -N, -L, -X and -m put several in one job";

// The rules of the live pool, --feedback, hosts and --fetch: one command line per rule,
// breaking that rule alone (several for a rule whose fact more than one flag makes).
std::vector<UsageCase> pool_and_fetch_rule_cases(const OptionFiles& files) {
  const std::string hosts_file = files.write("hosts", "alpha\n");
  return {
      {{"--priority-col", "2", "-n", "2", "echo"}, kPriorityGrouping},
      {{"--priority-col", "2", "-X", "echo"}, kPriorityGrouping},
      {{"--priority-col", "2", "-L", "1", "echo"}, kPriorityGrouping},
      {{"--control", "sock", "--compare", "echo"},
       "--compare runs the input twice on its own; leave out --control"},
      {{"--feedback", "--fetch"}, "--feedback and --fetch exclude each other"},
      {{"--feedback", "--compare", "echo"}, "--feedback and --compare exclude each other"},
      {{"--feedback", "-N", "2", "echo"}, kFeedbackGrouping},
      {{"--feedback", "-m", "echo"}, kFeedbackGrouping},
      {{"--feedback", "--resume", "--joblog", "log", "echo"},
       "--feedback and --resume exclude each other"},
      {{"--feedback", "--resume-failed", "--joblog", "log", "echo"},
       "--feedback and --resume exclude each other"},
      {{"--feedback", "-S", "alpha", "echo"}, kFeedbackHosts},
      {{"--feedback", "-d", "\\r\\n", "echo"},
       "--feedback reads what jobs write up to a delimiter of one byte; give -d one character"},
      {{"--feedback", "--sshloginfile", hosts_file, "echo"}, kFeedbackHosts},
      {{"-j", files.write("workers", "2\n"), "-S", "alpha", "echo"},
       "-j FILE resizes the pool on this machine; with -S give each host its workers as N/host"},
      {{"-o", "downloads", "echo"}, kFetchOnly},
      {{"--overwrite", "echo"}, kFetchOnly},
      {{"--continue", "echo"}, kFetchOnly},
      {{"--connect-timeout", "5s", "echo"}, kFetchOnly},
      {{"--limit-rate", "1M", "echo"}, kFetchOnly},
      {{"--stall-timeout", "10s", "echo"}, kFetchOnly},
      {{"--cacert", files.write("ca.pem", ""), "echo"}, kFetchOnly},
      {{"--fetch", "wget", "-q"}, "--fetch downloads its records and runs no command; drop 'wget'"},
      {{"--fetch", "--compare"}, "--fetch and --compare exclude each other"},
      {{"--fetch", "-n", "2"}, kFetchGrouping},
      {{"--fetch", "-N", "2"}, kFetchGrouping},
      {{"--fetch", "-L", "2"}, kFetchGrouping},
      {{"--fetch", "-X"}, kFetchGrouping},
      {{"--fetch", "-m"}, kFetchGrouping},
      {{"--ssh", "ssh -p 2222", "echo"}, "--ssh is for -S/--sshlogin or --sshloginfile"},
      {{"--fetch", "-S", "alpha"}, kFetchHosts},
      {{"--fetch", "--sshloginfile", hosts_file}, kFetchHosts},
      {{"--compare", "-S", "alpha", "echo"},
       "--compare runs on this machine; leave out -S/--sshlogin"},
  };
}

// The rules of grouping, --resume, input, output and --compare.
std::vector<UsageCase> grouping_and_output_rule_cases() {
  const std::string counts = "-n, -N and -L exclude each other";
  const std::string exact = "-N and -L give an exact count; they exclude -X and -m";
  const std::string stdout_joblog = "--resume needs a joblog file to read, not standard output";
  return {
      {{"-n", "2", "-N", "2", "echo"}, counts},
      {{"-n", "2", "-L", "2", "echo"}, counts},
      {{"-N", "2", "-L", "2", "echo"}, counts},
      {{"-X", "-m", "echo"}, "-X and -m exclude each other"},
      {{"-q", "-n", "2", "echo"},
       "-q quotes the words of one record's command; it excludes -n, -N, -L, -X and -m"},
      {{"-N", "2", "-X", "echo"}, exact},
      {{"-L", "2", "-m", "echo"}, exact},
      {{"-n", "0", "-X", "echo"},
       "-n 0, -N 0 and -L 0 give each record a job with no argument; they exclude -X and -m"},
      {{"--resume", "--resume-failed", "--joblog", "log", "echo"},
       "--resume and --resume-failed exclude each other"},
      {{"--resume", "--joblog", "-", "echo"}, stdout_joblog},
      {{"--resume-failed", "--joblog", "-", "echo"}, stdout_joblog},
      {{"--resume", "echo"}, "--resume needs --joblog FILE (the joblog of the run to resume)"},
      {{"--resume-failed", "echo"},
       "--resume-failed needs --joblog FILE (the joblog of the run to resume)"},
      {{"-0", "-d", ",", "echo"}, "-0/--null and -d/--delimiter exclude each other"},
      {{"--summary", "--no-summary", "echo"}, "--summary and --no-summary exclude each other"},
      {{"--compare", "--mode", "batch", "echo"}, "--compare runs both modes; leave out --mode"},
      {{"--compare", "--dry-run", "echo"}, "--compare and --dry-run exclude each other"},
  };
}

// The rules of -u, --results and --files.
std::vector<UsageCase> kept_output_rule_cases() {
  const std::string ungrouped =
      "-u passes output through as it comes; it excludes -k, --tag, --tagstring and "
      "--line-buffer";
  return {
      {{"-u", "-k", "echo"}, ungrouped},
      {{"-u", "--tag", "echo"}, ungrouped},
      {{"-u", "--tagstring", "x", "echo"}, ungrouped},
      {{"-u", "--lb", "echo"}, ungrouped},
      {{"-u", "--results", "out", "echo"}, "-u passes output through; --results cannot keep it"},
      {{"-u", "--files", "echo"}, "-u passes output through; --files cannot keep it"},
      {{"--results", "out", "--files", "echo"}, "--results and --files exclude each other"},
      {{"--results", "out", "--fetch"}, "--fetch saves its downloads; --results does not apply"},
      {{"--files", "--fetch"}, "--fetch saves its downloads; --files does not apply"},
      {{"--results", "out", "--line-buffer", "echo"},
       "--results keeps whole output in files; leave out --line-buffer"},
      {{"--files", "--line-buffer", "echo"},
       "--files keeps whole output in files; leave out --line-buffer"},
      {{"--results", "", "echo"}, "--results: the name is empty"},
      {{"--shuf", "--resume", "--joblog", "log", "echo"},
       "--shuf numbers the jobs in a new random order each run; --resume cannot find them again"},
      {{"--shuf", "--compare", "echo"}, "--shuf and --compare exclude each other"},
      {{"--shuf", "--feedback", "echo"}, "--shuf and --feedback exclude each other"},
      {{"--delay", "1", "--rate", "2/s", "echo"},
       "--delay and --rate exclude each other (--delay DUR is --rate 1/DUR)"},
      {{"--delay", "0", "echo"}, "--delay: '0' is not a duration above zero"},
      {{"--nice", "20", "echo"}, "--nice: '20' is not a niceness from -20 to 19"},
      {{"--nice", "x", "echo"}, "--nice: 'x' is not a niceness from -20 to 19"},
      {{"--onall", "echo"}, "--onall and --nonall run on the hosts of -S/--sshlogin: give them"},
      {{"--nonall", "-S", "h", "--compare", "echo"},
       "--compare runs on this machine; leave out --onall and --nonall"},
      {{"--onall", "-S", "h", "--resume", "--joblog", "log", "echo"},
       "--resume and --onall/--nonall exclude each other (the joblog has a job per host)"},
      {{"--onall", "-S", "h", "--control", "sock", "echo"},
       "--control and --onall/--nonall exclude each other"},
      {{"--onall", "-S", "h", "--summary-json", "s.json", "echo"},
       "--summary-json and --timeline describe one run; --onall and --nonall make one a host"},
  };
}

std::vector<UsageCase> rule_cases(const OptionFiles& files) {
  std::vector<UsageCase> cases = pool_and_fetch_rule_cases(files);
  for (UsageCase& c : grouping_and_output_rule_cases()) cases.push_back(std::move(c));
  for (UsageCase& c : kept_output_rule_cases()) cases.push_back(std::move(c));
  return cases;
}

TEST_CASE("each rule between flags is a usage error with its own message") {
  const OptionFiles files;
  check_usage_errors(rule_cases(files));
}

TEST_CASE("every rule of the table has a command line above that breaks it") {
  const OptionFiles files;
  std::set<std::string> messages;
  for (const UsageCase& c : rule_cases(files)) messages.insert(c.message);
  for (const FlagRule& rule : flag_rules()) {
    std::string message(rule.message);
    if (const size_t at = message.find("{command}"); at != std::string::npos) {
      message.replace(at, 9, "wget");
    }
    CAPTURE(message);
    CHECK(messages.contains(message));
  }
}

TEST_CASE("the first rule in the table's order is the error when several are broken") {
  CHECK(usage_error_of({"--feedback", "--fetch", "--compare"}) ==
        "--feedback and --fetch exclude each other");
  CHECK(usage_error_of({"--fetch", "--compare", "wget"}) ==
        "--fetch downloads its records and runs no command; drop 'wget'");
  CHECK(usage_error_of({"--resume", "--resume-failed", "echo"}) ==
        "--resume and --resume-failed exclude each other");
}

TEST_CASE("flags that go together are no usage error") {
  const OptionFiles files;
  const RunConfig both_fills = config_of({"-n", "3", "-X", "echo"});
  CHECK(both_fills.max_args == 3);
  CHECK(both_fills.fill == RunConfig::Fill::kContext);
  // Only batch mode is --compare's business; pool is its second run anyway.
  CHECK(config_of({"--compare", "--mode", "pool", "echo"}).compare);
  CHECK(config_of({"--priority-col", "1", "--queue-size", "10", "--feedback", "echo"}).feedback);
  CHECK(config_of({"-S", "alpha", "--ssh", "ssh -p 2", "-j", "3", "echo"}).jobs == 3);
  CHECK(config_of({"--resume", "--joblog", files.path("log"), "echo"}).resume ==
        RunConfig::Resume::kDone);
  CHECK(config_of({"--fetch", "-o", files.path("d"), "--overwrite", "--continue",
                   "--connect-timeout", "1s", "--max-per-host", "2", "--limit-rate", "1k",
                   "--stall-timeout", "0", "--cacert", files.write("ca.pem", "")})
            .fetch);
  CHECK(config_of({"-0", "--summary", "--dry-run", "echo"}).delimiter == std::string(1, '\0'));
}

}  // namespace
}  // namespace taskpool
