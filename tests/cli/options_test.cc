// The command line: every usage error (its message and status 255), each rule between flags, and
// what RunConfig holds for the good command lines of each area.
#include "cli/options.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "cli/live.h"
#include "cli/option_rules.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using Args = std::vector<std::string>;

// A directory of files for flags that name one (-j FILE, --sshloginfile, --cacert), removed
// with its content at the end of the test.
class OptionFiles {
 public:
  OptionFiles() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "taskpool-options-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
  }
  ~OptionFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  OptionFiles(const OptionFiles&) = delete;
  OptionFiles& operator=(const OptionFiles&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

// The RunConfig of a command line that must parse.
RunConfig config_of(const Args& args) {
  ParsedArguments parsed = parse_arguments(args);
  INFO("error: ", parsed.error);
  REQUIRE(parsed.config.has_value());
  CHECK(parsed.exit_status == 0);
  CHECK(parsed.error.empty());
  CHECK(parsed.output.empty());
  return std::move(*parsed.config);
}

// The message of a command line that must be a usage error: exit status 255, nothing to run,
// nothing for standard output.
std::string usage_error_of(const Args& args) {
  const ParsedArguments parsed = parse_arguments(args);
  CHECK(parsed.exit_status == 255);
  CHECK_FALSE(parsed.config.has_value());
  CHECK(parsed.output.empty());
  CHECK_FALSE(parsed.error.empty());
  return parsed.error;
}

std::string shown(const Args& args) {
  std::string line;
  for (const std::string& arg : args) line += (line.empty() ? "'" : " '") + arg + "'";
  return line;
}

struct UsageCase {
  Args args;
  std::string message;  // the whole message
};

// One command line per rule of the table, breaking that rule alone (several for a rule whose
// fact more than one flag makes).
std::vector<UsageCase> rule_cases(const OptionFiles& files) {
  const std::string jobs_file = files.write("workers", "2\n");
  const std::string hosts_file = files.write("hosts", "alpha\n");
  const std::string cacert = files.write("ca.pem", "");
  const std::string priority =
      "--priority-col orders single records; -n, -N, -L, -X and -m put "
      "several in one job";
  const std::string feedback_grouping = "--feedback and -n, -N, -L, -X and -m exclude each other";
  const std::string fetch_only =
      "-o, --overwrite, --continue, --connect-timeout, --max-per-host, --limit-rate, "
      "--stall-timeout and --cacert are for --fetch";
  const std::string fetch_grouping =
      "--fetch downloads one URL per job; -n, -N, -L, -X and -m do not apply";
  const std::string fetch_hosts =
      "--fetch downloads on this machine; -S/--sshlogin and --sshloginfile do not apply";
  const std::string counts = "-n, -N and -L exclude each other";
  const std::string exact = "-N and -L give an exact count; they exclude -X and -m";
  const std::string stdout_joblog = "--resume needs a joblog file to read, not standard output";
  return {
      {{"--priority-col", "2", "-n", "2", "echo"}, priority},
      {{"--priority-col", "2", "-X", "echo"}, priority},
      {{"--priority-col", "2", "-L", "1", "echo"}, priority},
      {{"--control", "sock", "--compare", "echo"},
       "--compare runs the input twice on its own; leave out --control"},
      {{"--feedback", "--fetch"}, "--feedback and --fetch exclude each other"},
      {{"--feedback", "--compare", "echo"}, "--feedback and --compare exclude each other"},
      {{"--feedback", "-N", "2", "echo"}, feedback_grouping},
      {{"--feedback", "-m", "echo"}, feedback_grouping},
      {{"--feedback", "--resume", "--joblog", "log", "echo"},
       "--feedback and --resume exclude each other"},
      {{"--feedback", "--resume-failed", "--joblog", "log", "echo"},
       "--feedback and --resume exclude each other"},
      {{"--feedback", "-S", "alpha", "echo"},
       "--feedback runs jobs on this machine; leave out -S/--sshlogin"},
      {{"--feedback", "--sshloginfile", hosts_file, "echo"},
       "--feedback runs jobs on this machine; leave out -S/--sshlogin"},
      {{"-j", jobs_file, "-S", "alpha", "echo"},
       "-j FILE resizes the pool on this machine; with -S give each host its workers as N/host"},
      {{"-o", "downloads", "echo"}, fetch_only},
      {{"--overwrite", "echo"}, fetch_only},
      {{"--continue", "echo"}, fetch_only},
      {{"--connect-timeout", "5s", "echo"}, fetch_only},
      {{"--max-per-host", "2", "echo"}, fetch_only},
      {{"--limit-rate", "1M", "echo"}, fetch_only},
      {{"--stall-timeout", "10s", "echo"}, fetch_only},
      {{"--cacert", cacert, "echo"}, fetch_only},
      {{"--fetch", "wget", "-q"}, "--fetch downloads its records and runs no command; drop 'wget'"},
      {{"--fetch", "--compare"}, "--fetch and --compare exclude each other"},
      {{"--fetch", "-n", "2"}, fetch_grouping},
      {{"--fetch", "-N", "2"}, fetch_grouping},
      {{"--fetch", "-L", "2"}, fetch_grouping},
      {{"--fetch", "-X"}, fetch_grouping},
      {{"--fetch", "-m"}, fetch_grouping},
      {{"--ssh", "ssh -p 2222", "echo"}, "--ssh is for -S/--sshlogin or --sshloginfile"},
      {{"--fetch", "-S", "alpha"}, fetch_hosts},
      {{"--fetch", "--sshloginfile", hosts_file}, fetch_hosts},
      {{"--compare", "-S", "alpha", "echo"},
       "--compare runs on this machine; leave out -S/--sshlogin"},
      {{"-n", "2", "-N", "2", "echo"}, counts},
      {{"-n", "2", "-L", "2", "echo"}, counts},
      {{"-N", "2", "-L", "2", "echo"}, counts},
      {{"-X", "-m", "echo"}, "-X and -m exclude each other"},
      {{"-N", "2", "-X", "echo"}, exact},
      {{"-L", "2", "-m", "echo"}, exact},
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

TEST_CASE("each rule between flags is a usage error with its own message") {
  const OptionFiles files;
  for (const UsageCase& c : rule_cases(files)) {
    CAPTURE(shown(c.args));
    CHECK(usage_error_of(c.args) == c.message);
  }
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
  CHECK(config_of({"-0", "--summary", "--dry-run", "echo"}).delimiter == '\0');
}

TEST_CASE("a bad value is a usage error that names the flag and the value") {
  const OptionFiles files;
  const std::string garbage = files.write("garbage", "many\n");
  const std::string duration =
      "' is not 0 or a duration from 1ms to 3650d (ten years), like 500ms, 2s, 1.5m, 1h, 1d or "
      "seconds";
  const std::vector<UsageCase> cases = {
      {{"-j", "lots", "echo"},
       "-j/--jobs: 'lots' is not a number of workers (N, 0, +N, -N or N% of the CPUs) nor a file "
       "that holds one"},
      {{"-j", "", "echo"},
       "-j/--jobs: '' is not a number of workers (N, 0, +N, -N or N% of the CPUs) nor a file "
       "that holds one"},
      {{"-j", "100001", "echo"}, "-j/--jobs: 100001 is more than 100000"},
      {{"-j", garbage, "echo"},
       "-j/--jobs: file '" + garbage +
           "' holds 'many', not a number of workers (N, 0, +N, -N or N% of the CPUs)"},
      {{"-j", files.path(""), "echo"},
       "-j/--jobs: '" + files.path("") +
           "' is a directory, not a regular file that holds a number of workers"},
      {{"--mode", "fast", "echo"}, "--mode: 'fast' is not a mode (use pool or batch)"},
      {{"--priority-col", "x", "echo"}, "--priority-col: 'x' is not a whole number up to 1000000"},
      {{"--priority-col", "0", "echo"}, "--priority-col: columns count from 1"},
      {{"--queue-size", "10000001", "echo"},
       "--queue-size: '10000001' is not a whole number up to 10000000"},
      {{"--queue-size", "0", "echo"}, "--queue-size: the queue needs room for 1"},
      {{"--max-records", "-3", "echo"},
       "--max-records: '-3' is not a whole number up to 18446744073709551614"},
      {{"--max-records", "0", "echo"}, "--max-records: 0 leaves nothing to run"},
      {{"--control", "", "echo"}, "--control: the socket path is empty"},
      {{"-d", "ab", "echo"},
       "-d/--delimiter: 'ab' is not one character (or \\n, \\t, \\r, \\0, \\\\, \\xHH)"},
      {{"-d", "\\xZZ", "echo"},
       "-d/--delimiter: '\\xZZ' is not one character (or \\n, \\t, \\r, \\0, \\\\, \\xHH)"},
      {{"--colsep", "", "echo"}, "--colsep: the pattern is empty"},
      {{"-n", "x", "echo"}, "-n/--max-args: 'x' is not a whole number up to 1000000"},
      {{"-N", "1000001", "echo"},
       "-N/--max-replace-args: '1000001' is not a whole number up to 1000000"},
      {{"-L", "-1", "echo"}, "-L/--max-lines: '-1' is not a whole number up to 1000000"},
      {{"-n", "0", "echo"}, "-n, -N and -L need at least 1 record per command"},
      {{"-N", "0", "echo"}, "-n, -N and -L need at least 1 record per command"},
      {{"-L", "0", "echo"}, "-n, -N and -L need at least 1 record per command"},
      {{"-s", "1073741825", "echo"},
       "-s/--max-chars: '1073741825' is not a whole number up to 1073741824"},
      {{"-s", "0", "echo"}, "-s/--max-chars: 0 leaves no room for a command"},
      {{"-I", "", "echo"}, "-I: the replacement string is empty"},
      {{"-E", "", "echo"}, "-E: the end-of-input string is empty"},
      {{"--retries", "1000001", "echo"},
       "--retries: '1000001' is not a whole number up to 1000000"},
      {{"--backoff", "10x", "echo"}, "--backoff: '10x" + duration},
      {{"--backoff-max", "-1", "echo"}, "--backoff-max: '-1" + duration},
      {{"--timeout", "1.5.2", "echo"}, "--timeout: '1.5.2" + duration},
      {{"--timeout", "0", "echo"}, "--timeout: '0' is not a duration above zero"},
      {{"--kill-after", "ms", "echo"}, "--kill-after: 'ms" + duration},
      {{"--rate", "0", "echo"},
       "--rate: '0' is not a rate from 1/d (one a day) to 1000000/s, like 10/s, 600/m, 3600/h, "
       "2/d or a number per second"},
      {{"--burst", "0", "echo"}, "--burst: '0' is not a count of at least 1"},
      {{"--burst", "x", "echo"}, "--burst: 'x' is not a whole number up to 1000000"},
      {{"--deadline", "0", "echo"}, "--deadline: '0' is not a duration above zero"},
      {{"--deadline", "3651d", "echo"}, "--deadline: '3651d" + duration},
      {{"--grace", "inf", "echo"}, "--grace: 'inf" + duration},
      {{"--halt", "bogus", "echo"},
       "--halt: 'bogus' is not a halt condition (never, or soon|now,fail|success|done=N or N%)"},
      {{"--progress-interval", "50ms", "echo"},
       "--progress-interval: '50ms' is shorter than 100ms"},
      {{"--progress-interval", "x", "echo"}, "--progress-interval: 'x" + duration},
      {{"--timeline", "", "echo"}, "--timeline: the file name is empty"},
      {{"--joblog", "", "echo"}, "--joblog: the file name is empty"},
      {{"--summary-json", "", "echo"}, "--summary-json: the file name is empty (use - for stdout)"},
      {{"--fetch", "--connect-timeout", "x"}, "--connect-timeout: 'x" + duration},
      {{"--fetch", "--max-per-host", "100001"},
       "--max-per-host: '100001' is not a whole number up to 100000"},
      {{"--fetch", "--limit-rate", "1025G"},
       "--limit-rate: '1025G' is not a number of bytes from 1 to 1024G (k, M, G: KiB, MiB, GiB)"},
      {{"--fetch", "--stall-timeout", "x"}, "--stall-timeout: 'x" + duration},
      {{"--fetch", "--cacert", files.path("none.pem")},
       "--cacert: cannot read '" + files.path("none.pem") + "': No such file or directory"},
      {{"--fetch", "-o", ""}, "-o/--output-dir: the directory is empty"},
      {{"-S", "", "echo"}, "-S/--sshlogin: the list of hosts is empty"},
      {{"-S", "a,,b", "echo"}, "-S/--sshlogin: an empty sshlogin"},
      {{"--sshloginfile", files.path("none"), "echo"},
       "--sshloginfile: cannot read '" + files.path("none") + "': No such file or directory"},
      {{"--sshloginfile", files.write("empty", "# none\n"), "echo"},
       "--sshloginfile: '" + files.path("empty") + "' lists no host"},
      {{"-S", "alpha", "--ssh", "ssh | tee", "echo"},
       "--ssh: 'ssh | tee' is not a plain command with options (no shell syntax; a wrapper script "
       "or ~/.ssh/config can do more)"},
      {{"-S", "alpha", "--ssh", "", "echo"},
       "--ssh: '' is not a plain command with options (no shell syntax; a wrapper script or "
       "~/.ssh/config can do more)"},
  };
  for (const UsageCase& c : cases) {
    CAPTURE(shown(c.args));
    CHECK(usage_error_of(c.args) == c.message);
  }
}

TEST_CASE("a command line CLI11 cannot parse is a usage error that points to --help") {
  const std::string hint = "\nRun 'taskpool --help' for the options.";
  CHECK(usage_error_of({"-j"}) == "--jobs: 1 required N|FILE missing" + hint);
  CHECK(usage_error_of({"--mode"}) == "--mode: 1 required pool|batch missing" + hint);
  CHECK(usage_error_of({"--summary=foo", "echo"}) == "Could not convert: --summary = foo" + hint);
}

TEST_CASE("a word that looks like an option where the command starts is a usage error") {
  CHECK(usage_error_of({"--frobnicate", "echo"}) ==
        "unknown option '--frobnicate' (put -- before a command that starts with '-')");
  CHECK(usage_error_of({"-j", "2", "-x", "echo"}) ==
        "unknown option '-x' (put -- before a command that starts with '-')");
  CHECK(config_of({"--", "-x", "a"}).command == Args{"-x", "a"});
  CHECK(config_of({"echo", "-x"}).command == Args{"echo", "-x"});
}

TEST_CASE("--flag= with nothing after the = is a usage error, not a value from the next word") {
  CHECK(usage_error_of({"--timeout=", "2", "echo"}) == "--timeout: the value is empty");
  CHECK(usage_error_of({"-j", "2", "--joblog=", "echo"}) == "--joblog: the value is empty");
  CHECK(config_of({"--timeout=2", "echo"}).timeout == 2s);
}

TEST_CASE("input sources: ::: lists, :::: files, linked with a +") {
  const RunConfig config =
      config_of({"echo", ":::", "a", "b", ":::+", "1", "2", "::::", "f1", "f2", "::::+", "f3"});
  CHECK(config.command == Args{"echo"});
  REQUIRE(config.sources.size() == 5);
  CHECK(config.sources[0].values == Args{"a", "b"});
  CHECK_FALSE(config.sources[0].linked);
  CHECK(config.sources[1].values == Args{"1", "2"});
  CHECK(config.sources[1].linked);
  CHECK(config.sources[2].file == "f1");
  CHECK(config.sources[3].file == "f2");
  CHECK_FALSE(config.sources[3].linked);
  CHECK(config.sources[4].file == "f3");
  CHECK(config.sources[4].linked);
  // The first separator ends the options: a flag after it is a value.
  CHECK(config_of({"echo", ":::", "-j", "3"}).sources[0].values == Args{"-j", "3"});
}

TEST_CASE("bad input sources are usage errors that name the separator") {
  CHECK(usage_error_of({"echo", ":::+", "a"}) ==
        ":::+ links to the input source before it, and there is none");
  CHECK(usage_error_of({"echo", "::::+", "f"}) ==
        "::::+ links to the input source before it, and there is none");
  CHECK(usage_error_of({"echo", "::::"}) == ":::: needs a file name after it");
  CHECK(usage_error_of({"echo", "::::", ":::", "a"}) == ":::: needs a file name after it");
  CHECK(usage_error_of({"echo", ":::", "a", "::::+", ":::", "b"}) ==
        "::::+ needs a file name after it");
}

TEST_CASE("defaults: a command line of a command alone") {
  const RunConfig config = config_of({"echo"});
  CHECK(config.jobs == cpu_count());
  CHECK_FALSE(config.jobs_file);
  CHECK(config.mode == DispatchMode::kPool);
  CHECK(config.delimiter == '\n');
  CHECK(config.replace == "{}");
  CHECK(config.max_args == 0);
  CHECK(config.fill == RunConfig::Fill::kNone);
  CHECK(config.retry.retries == 0);
  CHECK(config.retry.backoff == 1s);
  CHECK(config.retry.backoff_max == 60s);
  CHECK(config.timeout == Duration::zero());
  CHECK(config.kill_after == 5s);
  CHECK_FALSE(config.rate);
  CHECK(config.burst == 1);
  CHECK(config.grace == 5s);
  CHECK(config.halt.when == HaltPolicy::When::kNever);
  CHECK(config.resume == RunConfig::Resume::kNo);
  CHECK(config.summary == SummaryWhen::kAuto);
  CHECK(config.progress_interval == 30s);
  CHECK(config.output_dir == ".");
  CHECK_FALSE(config.stall_timeout);
  CHECK(config.hosts.empty());
  CHECK(config.ssh == Args{"ssh"});
}

TEST_CASE("the input flags") {
  const RunConfig config =
      config_of({"-a", "one", "--arg-file", "two", "-d", "\\t", "--colsep", ",", "echo"});
  CHECK(config.arg_files == Args{"one", "two"});
  CHECK(config.delimiter == '\t');
  CHECK(config.colsep == ",");
  CHECK(config_of({"-0", "echo"}).delimiter == '\0');
  CHECK(config_of({"-d", "\\x1f", "echo"}).delimiter == '\x1f');
  CHECK(config_of({"-d", ";", "echo"}).delimiter == ';');
  CHECK(parse_delimiter("\\\\") == '\\');
}

TEST_CASE("the grouping flags: -n, -N, -L, -X, -m, -s, -I, -E") {
  const RunConfig n = config_of({"-n", "3", "-s", "4096", "-I", "@", "-E", "END", "echo"});
  CHECK(n.max_args == 3);
  CHECK_FALSE(n.positional);
  CHECK(n.max_chars == 4096);
  CHECK(n.replace == "@");
  CHECK(n.eof_string == "END");
  const RunConfig big_n = config_of({"-N", "2", "echo"});
  CHECK(big_n.max_args == 2);
  CHECK(big_n.positional);
  CHECK_FALSE(big_n.continue_lines);
  const RunConfig l = config_of({"-L", "4", "echo"});
  CHECK(l.max_args == 4);
  CHECK(l.positional);
  CHECK(l.continue_lines);
  CHECK(config_of({"-X", "echo"}).fill == RunConfig::Fill::kContext);
  CHECK(config_of({"-m", "echo"}).fill == RunConfig::Fill::kMulti);
  CHECK(config_of({"-r", "echo"}).max_args == 0);
}

TEST_CASE("the pool flags, and the live pool's") {
  const OptionFiles files;
  const RunConfig config =
      config_of({"-j", "7", "--mode", "batch", "--control", "sock", "--priority-col", "2",
                 "--queue-size", "50", "--max-records", "1000", "--feedback", "echo"});
  CHECK(config.jobs == 7);
  CHECK(config.mode == DispatchMode::kBatch);
  CHECK(config.control == "sock");
  CHECK(config.priority_col == 2);
  CHECK(config.queue_size == 50);
  CHECK(config.max_records == 1000);
  CHECK(config.feedback);
  CHECK(config_of({"-j", "0", "echo"}).jobs == 250);
  CHECK(config_of({"--jobs", "100%", "echo"}).jobs == cpu_count());
  const RunConfig from_file = config_of({"-j", files.write("workers", "5\n"), "echo"});
  CHECK(from_file.jobs == 5);
  CHECK(from_file.jobs_file == files.path("workers"));
  CHECK(config_of({"--compare", "echo"}).compare);
}

TEST_CASE("the resilience flags") {
  const RunConfig config = config_of({"--retries",
                                      "3",
                                      "--backoff",
                                      "2s",
                                      "--backoff-max",
                                      "1m",
                                      "--timeout",
                                      "500ms",
                                      "--kill-after",
                                      "1s",
                                      "--keep-background",
                                      "--rate",
                                      "10/s",
                                      "--burst",
                                      "4",
                                      "--deadline",
                                      "1h",
                                      "--grace",
                                      "0",
                                      "--halt",
                                      "now,fail=1",
                                      "echo"});
  CHECK(config.retry.retries == 3);
  CHECK(config.retry.backoff == 2s);
  CHECK(config.retry.backoff_max == 60s);
  CHECK(config.timeout == 500ms);
  CHECK(config.kill_after == 1s);
  CHECK(config.keep_background);
  CHECK(config.rate == 10.0);
  CHECK(config.burst == 4);
  CHECK(config.deadline == 1h);
  CHECK(config.grace == Duration::zero());
  CHECK(config.halt.when == HaltPolicy::When::kNow);
  CHECK(config.halt.count == HaltPolicy::Count::kFail);
  CHECK(config_of({"--resume-failed", "--joblog", "log", "echo"}).resume ==
        RunConfig::Resume::kSucceeded);
}

TEST_CASE("the fetch flags") {
  const OptionFiles files;
  const std::string cacert = files.write("ca.pem", "");
  const RunConfig config = config_of(
      {"--fetch", "-o", "out", "--overwrite", "--continue", "--connect-timeout", "3s",
       "--max-per-host", "4", "--limit-rate", "500k", "--stall-timeout", "0", "--cacert", cacert});
  CHECK(config.fetch);
  CHECK(config.command.empty());
  CHECK(config.output_dir == "out");
  CHECK(config.overwrite);
  CHECK(config.resume_downloads);
  CHECK(config.connect_timeout == 3s);
  CHECK(config.max_per_host == 4);
  CHECK(config.limit_rate == 500 * 1024);
  CHECK(config.stall_timeout == Duration::zero());
  CHECK(config.ca_file == cacert);
  CHECK(config_of({"--fetch", "--limit-rate", "1024G"}).limit_rate == (1LL << 40));
  // An empty --max-per-host leaves the default, as before (a flag given all the same).
  CHECK(config_of({"--fetch", "--max-per-host", ""}).max_per_host == 0);
}

TEST_CASE("the host flags: -S lists and --sshloginfile, each host once, and --ssh") {
  const OptionFiles files;
  const std::string hosts = files.write("hosts", "# farm\nbeta\n2/gamma:2222\nalpha\n");
  const RunConfig config = config_of({"-S", "alpha,carol@beta", "--slf", hosts, "-S", ":", "--ssh",
                                      "ssh -o BatchMode=yes", "echo"});
  Args texts;
  for (const SshLogin& login : config.hosts) texts.push_back(login.text);
  CHECK(texts == Args{"alpha", "carol@beta", ":", "beta", "gamma:2222"});
  CHECK(config.hosts[4].workers == 2);
  CHECK(config.ssh == Args{"ssh", "-o", "BatchMode=yes"});
}

TEST_CASE("the output and reporting flags") {
  const RunConfig config = config_of({"-k", "--lb", "--tag", "--dry-run", "--joblog", "log",
                                      "--summary", "--eta", "--progress-interval", "100ms",
                                      "--timeline", "t.svg", "--summary-json", "-", "echo"});
  CHECK(config.keep_order);
  CHECK(config.line_buffer);
  CHECK(config.tag);
  CHECK(config.dry_run);
  CHECK(config.joblog == "log");
  CHECK(config.summary == SummaryWhen::kAlways);
  CHECK(config.eta);
  CHECK(config.progress);  // --eta shows progress
  CHECK(config.progress_interval == 100ms);
  CHECK(config.timeline == "t.svg");
  CHECK(config.summary_json == "-");
  CHECK(config_of({"--no-summary", "echo"}).summary == SummaryWhen::kNever);
  CHECK(config_of({"--bar", "echo"}).progress);
}

TEST_CASE("--help and --version: the text for standard output, exit status 0, no run") {
  const ParsedArguments help = parse_arguments({"--help"});
  CHECK(help.exit_status == 0);
  CHECK_FALSE(help.config);
  CHECK(help.error.empty());
  CHECK(help.output.find("Usage: taskpool [OPTIONS] [--] [COMMAND [ARG...]]") != std::string::npos);
  for (const char* group :
       {"Input:", "Several records per command (xargs habits):", "Pool:", "Live pool:",
        "Resilience:", "Fetch (downloads):", "Many machines (ssh):", "Output:", "Reporting:"}) {
    CAPTURE(group);
    CHECK(help.output.find(group) != std::string::npos);
  }
  const ParsedArguments version = parse_arguments({"-j", "2", "--version"});
  CHECK(version.exit_status == 0);
  CHECK_FALSE(version.config);
  CHECK(version.output == std::string("taskpool ") + TASKPOOL_VERSION + "\n");
}

}  // namespace
}  // namespace taskpool
