// The command line: every usage error of a flag's value (its message and status 255), and what
// RunConfig holds for the good command lines of each area. The rules between flags are
// option_rules_test.cc's.
#include "cli/options.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cli/help_text.h"
#include "cli/live.h"
#include "tests/cli/option_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::Args;
using testing::check_usage_errors;
using testing::config_of;
using testing::OptionFiles;
using testing::usage_error_of;

constexpr char kNotADuration[] =
    "' is not 0 or a duration from 1ms to 3650d (ten years), like 500ms, 2s, 1.5m, 1h, 1d or "
    "seconds";

// The message of a duration flag's bad value.
std::string not_a_duration(const std::string& flag, const std::string& value) {
  return flag + ": '" + value + kNotADuration;
}

TEST_CASE("bad values of the pool flags and the live pool's") {
  const OptionFiles files;
  const std::string garbage = files.write("garbage", "many\n");
  const std::string forms = "(N, 0, +N, -N or N% of the CPUs)";
  check_usage_errors({
      {{"-j", "lots", "echo"},
       "-j/--jobs: 'lots' is not a number of workers " + forms + " nor a file that holds one"},
      {{"-j", "", "echo"},
       "-j/--jobs: '' is not a number of workers " + forms + " nor a file that holds one"},
      {{"-j", "100001", "echo"}, "-j/--jobs: 100001 is more than 100000"},
      {{"-j", garbage, "echo"},
       "-j/--jobs: file '" + garbage + "' holds 'many', not a number of workers " + forms},
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
  });
}

TEST_CASE("bad values of the input and grouping flags") {
  check_usage_errors({
      {{"-d", "\\xZZ", "echo"}, "-d/--delimiter: '\\xZZ': \\x needs two hexadecimal digits"},
      {{"-d", "a\\x1", "echo"}, "-d/--delimiter: 'a\\x1': \\x needs two hexadecimal digits"},
      {{"--colsep", "", "echo"}, "--colsep: the pattern is empty"},
      {{"-n", "x", "echo"}, "-n/--max-args: 'x' is not a whole number up to 1000000"},
      {{"-N", "1000001", "echo"},
       "-N/--max-replace-args: '1000001' is not a whole number up to 1000000"},
      {{"-L", "-1", "echo"}, "-L/--max-lines: '-1' is not a whole number up to 1000000"},
      {{"-s", "1073741825", "echo"},
       "-s/--max-chars: '1073741825' is not a whole number up to 1073741824"},
      {{"-s", "0", "echo"}, "-s/--max-chars: 0 leaves no room for a command"},
      {{"-I", "", "echo"}, "-I: the replacement string is empty"},
      {{"-E", "", "echo"}, "-E: the end-of-input string is empty"},
  });
}

TEST_CASE("bad values of the resilience flags") {
  check_usage_errors({
      {{"--retries", "1000001", "echo"},
       "--retries: '1000001' is not a whole number up to 1000000"},
      {{"--backoff", "10x", "echo"}, not_a_duration("--backoff", "10x")},
      {{"--backoff-max", "-1", "echo"}, not_a_duration("--backoff-max", "-1")},
      {{"--timeout", "1.5.2", "echo"}, not_a_duration("--timeout", "1.5.2")},
      {{"--timeout", "0", "echo"}, "--timeout: '0' is not a duration above zero"},
      {{"--kill-after", "ms", "echo"}, not_a_duration("--kill-after", "ms")},
      {{"--rate", "0", "echo"},
       "--rate: '0' is not a rate from 1/d (one a day) to 1000000/s, like 10/s, 600/m, 3600/h, "
       "2/d or a number per second"},
      {{"--burst", "0", "echo"}, "--burst: '0' is not a count of at least 1"},
      {{"--burst", "x", "echo"}, "--burst: 'x' is not a whole number up to 1000000"},
      {{"--deadline", "0", "echo"}, "--deadline: '0' is not a duration above zero"},
      {{"--deadline", "3651d", "echo"}, not_a_duration("--deadline", "3651d")},
      {{"--grace", "inf", "echo"}, not_a_duration("--grace", "inf")},
      {{"--halt", "bogus", "echo"},
       "--halt: 'bogus' is not a halt condition (never, or soon|now,fail|success|done=N or N%)"},
  });
}

TEST_CASE("bad values of the reporting flags") {
  check_usage_errors({
      {{"--progress-interval", "50ms", "echo"},
       "--progress-interval: '50ms' is shorter than 100ms"},
      {{"--progress-interval", "x", "echo"}, not_a_duration("--progress-interval", "x")},
      {{"--timeline", "", "echo"}, "--timeline: the file name is empty"},
      {{"--joblog", "", "echo"}, "--joblog: the file name is empty"},
      {{"--joblog", "+", "echo"}, "--joblog: the file name is empty"},
      {{"--tagstring", "", "echo"}, "--tagstring: the tag is empty (--tag tags with the record)"},
      {{"--summary-json", "", "echo"}, "--summary-json: the file name is empty (use - for stdout)"},
  });
}

TEST_CASE("bad values of the fetch flags, and a --cacert that cannot be read") {
  const OptionFiles files;
  check_usage_errors({
      {{"--fetch", "--connect-timeout", "x"}, not_a_duration("--connect-timeout", "x")},
      {{"--fetch", "--max-per-host", "100001"},
       "--max-per-host: '100001' is not a whole number up to 100000"},
      {{"--fetch", "--limit-rate", "1025G"},
       "--limit-rate: '1025G' is not a number of bytes from 1 to 1024G (k, M, G: KiB, MiB, GiB)"},
      {{"--fetch", "--stall-timeout", "x"}, not_a_duration("--stall-timeout", "x")},
      {{"--fetch", "--cacert", files.path("none.pem")},
       "--cacert: cannot read '" + files.path("none.pem") + "': No such file or directory"},
      {{"--fetch", "-o", ""}, "-o/--output-dir: the directory is empty"},
  });
}

TEST_CASE("bad --limit specs, and a --limit-file that cannot be read or is wrong") {
  const OptionFiles files;
  const std::string two_words = files.write("two", "# hosts\n\napi.example.com 2\n");
  const std::string three_words = files.write("three", "{host} api.example.com 2\n");
  const std::string bad_rule = files.write("bad", "api.example.com x\n");
  check_usage_errors({
      {{"--limit", "4", "echo"},
       "--limit: '4' is not TEMPLATE=N or TEMPLATE=N/s (as in '{host}=4' or '{1}=10/s')"},
      {{"--limit", "=4", "echo"}, "--limit: '=4' has no template before '='"},
      {{"--limit", "host=4", "echo"},
       "--limit: 'host=4': the template 'host' holds nothing of the record ({host}, {}, {1}, "
       "{//}...), so every job would have the same key (-j and --rate limit the whole run)"},
      {{"--limit", "{host}=0", "echo"},
       "--limit: '0' allows no job at all (give 1 or more, or N/s)"},
      {{"--limit", "{host}=x", "echo"}, "--limit: 'x' is not a whole number up to 100000"},
      {{"--limit", "{host}=100001", "echo"},
       "--limit: '100001' is not a whole number up to 100000"},
      {{"--fetch", "--max-per-host", "100001"},
       "--max-per-host: '100001' is not a whole number up to 100000"},
      {{"--limit-file", two_words, "echo"},
       "--limit-file: gives values of --limit; give --limit too"},
      {{"--limit", "{host}=1", "--limit-file", files.path("none"), "echo"},
       "--limit-file: cannot read '" + files.path("none") + "': No such file or directory"},
      {{"--limit", "{host}=1", "--limit", "{1}=2", "--limit-file", two_words, "echo"},
       "--limit-file " + two_words +
           ":3: 'api.example.com 2' is not TEMPLATE VALUE N or TEMPLATE VALUE N/s (there are "
           "several --limit; say which)"},
      {{"--limit", "{1}=1", "--limit-file", three_words, "echo"},
       "--limit-file " + three_words + ":1: '{host}' is no --limit's template"},
      {{"--limit", "{host}=1", "--limit-file", bad_rule, "echo"},
       "--limit-file " + bad_rule + ":1: 'x' is not a whole number up to 100000"},
  });
}

TEST_CASE("--limit: per key concurrency or rate, repeatable, with --limit-file overrides") {
  const OptionFiles files;
  const std::string overrides =
      files.write("limits", "{host} api.example.com 2\n{1} big 10/m\n  # a comment\n");
  const RunConfig config =
      config_of({"--limit", "{host}=4", "--limit", "{1}=5/s", "--limit-file", overrides, "echo"});
  REQUIRE(config.limits.size() == 2);
  CHECK(config.limits[0].name == "{host}");
  CHECK(config.limits[0].rule == LimitRule{4, 0});
  CHECK(config.limits[0].pauses_on_retry_after);
  CHECK(config.limits[0].overrides ==
        std::map<std::string, LimitRule>{{"api.example.com", {2, 0}}});
  CHECK(config.limits[1].name == "{1}");
  CHECK(config.limits[1].rule == LimitRule{0, 5.0});
  CHECK_FALSE(config.limits[1].pauses_on_retry_after);
  REQUIRE(config.limits[1].overrides.size() == 1);
  CHECK(config.limits[1].overrides.at("big").concurrency == 0);
  CHECK(config.limits[1].overrides.at("big").rate == doctest::Approx(10.0 / 60));
  // With one limit, a line is VALUE RULE; -I's string is the record's in the template.
  const std::string one = files.write("one", "a 3\n");
  const RunConfig single = config_of({"-I", "@", "--limit", "@=1", "--limit-file", one, "echo"});
  REQUIRE(single.limits.size() == 1);
  CHECK(single.limits[0].overrides == std::map<std::string, LimitRule>{{"a", {3, 0}}});
  // --max-per-host works for commands too (their records' URL hosts).
  CHECK(config_of({"--max-per-host", "2", "curl"}).limits.size() == 1);
}

TEST_CASE("bad values of the host flags, and an --sshloginfile that cannot be read") {
  const OptionFiles files;
  const std::string not_plain =
      "' is not a plain command with options (no shell syntax; a wrapper script or "
      "~/.ssh/config can do more)";
  check_usage_errors({
      {{"-S", "", "echo"}, "-S/--sshlogin: the list of hosts is empty"},
      {{"-S", "a,,b", "echo"}, "-S/--sshlogin: an empty sshlogin"},
      {{"--sshloginfile", files.path("none"), "echo"},
       "--sshloginfile: cannot read '" + files.path("none") + "': No such file or directory"},
      {{"--sshloginfile", files.write("empty", "# none\n"), "echo"},
       "--sshloginfile: '" + files.path("empty") + "' lists no host"},
      {{"-S", "alpha", "--ssh", "ssh | tee", "echo"}, "--ssh: 'ssh | tee" + not_plain},
      {{"-S", "alpha", "--ssh", "", "echo"}, "--ssh: '" + not_plain},
  });
}

TEST_CASE("a command line CLI11 cannot parse is a usage error in our words that points to --help") {
  const std::string hint = "\nRun 'taskpool --help' for the options.";
  CHECK(usage_error_of({"-j"}) == "--jobs needs a value (N|FILE)" + hint);
  CHECK(usage_error_of({"--mode"}) == "--mode needs a value (pool|batch)" + hint);
  CHECK(usage_error_of({"--summary=foo", "echo"}) ==
        "--summary: 'foo' is not a value it takes" + hint);
  CHECK(reword_parse_error("--jobs: At Most 1 required but received 2") ==
        "--jobs takes one value, given 2 times");
  CHECK(reword_parse_error("--tag was given a disallowed flag override") == "--tag takes no value");
  CHECK(reword_parse_error("something else") == "something else");
}

TEST_CASE("a word that looks like an option where the command starts is a usage error") {
  CHECK(usage_error_of({"--frobnicate", "echo"}) ==
        "unknown option '--frobnicate' (put -- before a command that starts with '-')");
  CHECK(usage_error_of({"-j", "2", "-x", "echo"}) ==
        "unknown option '-x' (put -- before a command that starts with '-')");
  // A flag a few letters off is named.
  CHECK(usage_error_of({"--jbos", "2", "echo"}) ==
        "unknown option '--jbos' (did you mean --jobs?)");
  CHECK(usage_error_of({"--fecth", "echo"}) == "unknown option '--fecth' (did you mean --fetch?)");
  CHECK(usage_error_of({"--joblgo=x", "echo"}) ==
        "unknown option '--joblgo=x' (did you mean --joblog?)");
  CHECK(config_of({"--", "-x", "a"}).command == Args{"-x", "a"});
  CHECK(config_of({"echo", "-x"}).command == Args{"echo", "-x"});
}

TEST_CASE("closest_flag: a few edits away, a swap of two letters as one, the nearest first") {
  const std::vector<std::string> flags = {"--jobs", "--joblog", "-j", "--tag", "--timeout"};
  CHECK(closest_flag("--jbos", flags) == "--jobs");
  CHECK(closest_flag("--job", flags) == "--jobs");
  CHECK(closest_flag("--joblogs", flags) == "--joblog");
  CHECK(closest_flag("--timeuot", flags) == "--timeout");
  CHECK(closest_flag("--frobnicate", flags) == std::nullopt);
  CHECK(closest_flag("-x", flags) == std::nullopt);      // one letter off a one-letter flag is far
  CHECK(closest_flag("--jobs", flags) == std::nullopt);  // not a typo: not this question
}

TEST_CASE("--help fits 80 columns, keeps its areas, and ends with five examples") {
  const ParsedArguments help = parse_arguments({"--help"});
  REQUIRE(help.exit_status == 0);
  size_t lines = 0;
  size_t start = 0;
  while (start < help.output.size()) {
    const size_t end = std::min(help.output.find('\n', start), help.output.size());
    CHECK_MESSAGE(end - start <= kHelpWidth, help.output.substr(start, end - start));
    start = end + 1;
    ++lines;
  }
  CHECK(lines > 60);
  CHECK(help.output.find("\nInput:\n") != std::string::npos);
  const size_t examples = help.output.find("\nExamples:\n");
  REQUIRE(examples != std::string::npos);
  const std::string tail = help.output.substr(examples + 11);
  size_t examples_shown = 0;
  for (size_t at = tail.find("\n  "); at != std::string::npos; at = tail.find("\n  ", at + 1)) {
    ++examples_shown;
  }
  CHECK(examples_shown + 1 == 5);  // the first follows the heading's own newline
  CHECK(tail.find("taskpool --fetch") != std::string::npos);
}

TEST_CASE("help_entry wraps a description under its column, at word boundaries") {
  CHECK(help_entry("  -x", "short", 8) == "  -x    short\n");
  const std::string long_text(30, 'a');
  const std::string wrapped =
      help_entry("  --flag", long_text + " " + long_text + " " + long_text, 20);
  // 20 + 30 + 1 + 30 would be 81 columns: each word on a line of its own.
  const std::string indent(20, ' ');
  CHECK(wrapped == "  --flag            " + long_text + "\n" + indent + long_text + "\n" + indent +
                       long_text + "\n");
  CHECK(help_entry("  --flag", "aa bb", 20) == "  --flag            aa bb\n");
  CHECK(help_entry("  --a-very-long-name VALUE", "d", 10) ==
        "  --a-very-long-name VALUE\n          d\n");
  CHECK(wrap_paragraphs("a b\nc\n\n  kept  as is\n") == "a b c\n\n  kept  as is\n");
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
  // ::::+ links every file it names; a linked source may come first.
  const RunConfig all_linked = config_of({"echo", "::::+", "f1", "f2", "::::", "f3", "f4"});
  REQUIRE(all_linked.sources.size() == 4);
  CHECK(all_linked.sources[0].linked);
  CHECK(all_linked.sources[1].linked);
  CHECK_FALSE(all_linked.sources[2].linked);
  CHECK_FALSE(all_linked.sources[3].linked);
  CHECK(config_of({"echo", ":::+", "a"}).sources.at(0).values == Args{"a"});
  // The first separator ends the options: a flag after it is a value.
  CHECK(config_of({"echo", ":::", "-j", "3"}).sources[0].values == Args{"-j", "3"});
}

TEST_CASE("bad input sources are usage errors that name the separator") {
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
  CHECK(config.delimiter == "\n");
  CHECK_FALSE(config.split_lists);
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
  CHECK(config.delimiter == "\t");
  CHECK(config.split_lists);
  CHECK(config.colsep == ",");
  CHECK(config_of({"-0", "echo"}).delimiter == std::string(1, '\0'));
  CHECK_FALSE(config_of({"-0", "echo"}).split_lists);
  CHECK(config_of({"-d", "\\x1f", "echo"}).delimiter == "\x1f");
  CHECK(config_of({"-d", ";", "echo"}).delimiter == ";");
  CHECK(config_of({"-d", "\\r\\n", "echo"}).delimiter == "\r\n");
  CHECK(parse_delimiter("\\\\") == "\\");
  // GNU parallel's escapes: \n \t \r, octal \NNN, and \0 (one digit when fewer than three).
  CHECK(parse_delimiter("ab") == "ab");
  CHECK(parse_delimiter("\\012x") == "\nx");
  CHECK(parse_delimiter("\\0") == std::string(1, '\0'));
  CHECK(parse_delimiter("\\01") == std::string("\0"
                                               "1",
                                               2));
  CHECK(parse_delimiter("\\001") == "\x01");
  CHECK(parse_delimiter("<\\t>") == "<\t>");
  // Any other backslash is itself, as in GNU parallel.
  CHECK(parse_delimiter("\\q\\") == "\\q\\");
  CHECK(parse_delimiter("\\9") == "\\9");
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
  for (const char* count : {"-n", "-N", "-L"}) {
    CAPTURE(count);
    const RunConfig zero = config_of({count, "0", "echo"});
    CHECK(zero.no_args);
    CHECK(zero.max_args == 0);
    CHECK_FALSE(zero.positional);
    CHECK_FALSE(zero.continue_lines);
  }
  CHECK_FALSE(big_n.no_args);
  CHECK(config_of({"-r", "echo"}).max_args == 0);
  CHECK(config_of({"-r", "echo"}).skip_blank);
  CHECK(config_of({"--no-run-if-empty", "echo"}).skip_blank);
  CHECK_FALSE(config_of({"echo"}).skip_blank);
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
  REQUIRE(config.limits.size() == 1);  // --max-per-host N is --limit '{host}=N'
  CHECK(config.limits[0].name == "{host}");
  CHECK(config.limits[0].rule == LimitRule{4, 0});
  CHECK(config.limits[0].pauses_on_retry_after);
  CHECK(config.limit_rate == 500 * 1024);
  CHECK(config.stall_timeout == Duration::zero());
  CHECK(config.ca_file == cacert);
  CHECK(config_of({"--fetch", "--limit-rate", "1024G"}).limit_rate == (1LL << 40));
  // An empty --max-per-host leaves the default, as before (a flag given all the same).
  CHECK(config_of({"--fetch", "--max-per-host", ""}).limits.empty());
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
  CHECK_FALSE(config.joblog_append);
  CHECK_FALSE(config.quote);
  CHECK_FALSE(config.trace);
  CHECK_FALSE(config.print_command);
  CHECK_FALSE(config.tagstring);
  const RunConfig shown = config_of({"-q", "-t", "-v", "--tagstring", "{#}:", "echo"});
  CHECK(shown.quote);
  CHECK(shown.trace);
  CHECK(shown.print_command);
  CHECK(shown.tagstring == "{#}:");
  CHECK(shown.tag);  // --tagstring tags
  CHECK(config_of({"--quote", "--verbose", "echo"}).trace);
  CHECK(config_of({"--quote", "--verbose", "echo"}).quote);
  const RunConfig append = config_of({"--joblog", "+dir/log", "echo"});
  CHECK(append.joblog == "dir/log");
  CHECK(append.joblog_append);
  CHECK(config.summary == SummaryWhen::kAlways);
  CHECK(config.eta);
  CHECK(config.progress);  // --eta shows progress
  CHECK(config.progress_interval == 100ms);
  CHECK(config.timeline == "t.svg");
  CHECK(config.summary_json == "-");
  CHECK(config_of({"--no-summary", "echo"}).summary == SummaryWhen::kNever);
  CHECK(config_of({"--bar", "echo"}).progress);
}

TEST_CASE("a flag given twice takes its last value, as in GNU parallel; -a and -S keep all") {
  const RunConfig config = config_of(
      {"-j",     "2",          "-j",       "4",     "-n",        "2",     "--max-args", "3",
       "-I",     "@",          "-I",       "%",     "-E",        "x",     "-E",         "y",
       "-d",     ",",          "-d",       ";",     "--timeout", "1",     "--timeout",  "5",
       "--halt", "now,fail=1", "--halt",   "never", "-a",        "one",   "-a",         "two",
       "-k",     "-k",         "--joblog", "a.log", "--joblog",  "b.log", "echo"});
  CHECK(config.jobs == 4);
  CHECK(config.max_args == 3);
  CHECK(config.replace == "%");
  CHECK(config.eof_string == "y");
  CHECK(config.delimiter == ";");
  CHECK(config.timeout == 5s);
  CHECK(config.halt.when == HaltPolicy::When::kNever);
  CHECK(config.arg_files == Args{"one", "two"});
  CHECK(config.keep_order);
  CHECK(config.joblog == "b.log");
  // The last value is the one checked: an earlier bad one is overridden, a later one is not.
  CHECK(config_of({"-j", "lots", "-j", "3", "echo"}).jobs == 3);
  CHECK(usage_error_of({"-j", "3", "-j", "lots", "echo"}).starts_with("-j/--jobs: 'lots'"));
}

TEST_CASE("GNU parallel's other spellings: -P, -C, --jl, --dryrun, --linebuffer, --halt-on-error") {
  const RunConfig config =
      config_of({"-P", "3", "-C", ",", "--jl", "log", "--dryrun", "--linebuffer", "--halt-on-error",
                 "now,fail=1", "--xapply", "echo"});
  CHECK(config.jobs == 3);
  CHECK(config.colsep == ",");
  CHECK(config.joblog == "log");
  CHECK(config.dry_run);
  CHECK(config.line_buffer);
  CHECK(config.halt.when == HaltPolicy::When::kNow);
  CHECK(config.link_all);
  CHECK(config_of({"--link", "echo"}).link_all);
  CHECK_FALSE(config_of({"echo"}).link_all);
}

TEST_CASE("-i [STR], -e [STR] and -l [N] take the next word as Perl's Getopt::Long gives it") {
  CHECK(config_of({"-i", "--", "echo"}).replace == "{}");
  CHECK(config_of({"-i@@", "echo"}).replace == "@@");
  const RunConfig next = config_of({"-i", "@", "echo", "@"});
  CHECK(next.replace == "@");
  CHECK(next.command == Args{"echo", "@"});
  CHECK(config_of({"-i", "echo", "x"}).command == Args{"x"});  // as GNU parallel: echo is STR
  CHECK(config_of({"-e", "-k", "echo"}).eof_string == std::nullopt);
  CHECK(config_of({"-eEND", "echo"}).eof_string == "END");
  CHECK(config_of({"-E", "x", "-e", "echo"}).eof_string == "echo");
  const RunConfig lines = config_of({"-l", "echo", "x"});
  CHECK(lines.max_args == 1);
  CHECK(lines.continue_lines);
  CHECK(lines.command == Args{"echo", "x"});  // not a number: the command's first word
  CHECK(config_of({"-l", "3", "echo"}).max_args == 3);
  CHECK(config_of({"-l4", "echo"}).max_args == 4);
  CHECK(config_of({"-l0", "echo"}).no_args);
  CHECK(usage_error_of({"-l", "2", "-n", "2", "echo"}) == "-n, -N and -L exclude each other");
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

namespace taskpool {
namespace {

TEST_CASE("--load, --memfree and --timeout N%, as GNU parallel takes them") {
  const double cpus = cpu_count();
  CHECK(*config_of({"--load", "3", "echo"}).max_load == 3.0);
  CHECK(*config_of({"--load", "2.5", "echo"}).max_load == 2.5);
  CHECK(*config_of({"--load", "0", "echo"}).max_load == doctest::Approx(0.01));
  CHECK(*config_of({"--load", "+2", "echo"}).max_load == cpus + 2);
  CHECK(*config_of({"--load", "-1", "echo"}).max_load == std::max(0.01, cpus - 1));
  CHECK(*config_of({"--load", "50%", "echo"}).max_load == doctest::Approx(cpus / 2));
  CHECK_FALSE(config_of({"echo"}).max_load);
  CHECK(config_of({"--memfree", "2M", "echo"}).memfree == 2u << 20);
  const RunConfig percent = config_of({"--timeout", "150%", "echo"});
  CHECK(percent.timeout_percent == 150);
  CHECK(percent.timeout == Duration::zero());
  CHECK(config_of({"--timeout", "2.5%", "echo"}).timeout_percent == 2.5);
  CHECK(usage_error_of({"--load", "1x", "echo"}).starts_with("--load: '1x' is not a number"));
  CHECK(usage_error_of({"--load", "+1.5", "echo"}).starts_with("--load: '+1.5'"));
  CHECK(usage_error_of({"--memfree", "0", "echo"}).starts_with("--memfree: '0'"));
  CHECK(usage_error_of({"--timeout", "x%", "echo"}).starts_with("--timeout: 'x%' is not a"));
  CHECK(usage_error_of({"--load", "2", "-S", "h", "echo"}).find("not with -S") !=
        std::string::npos);
}

TEST_CASE("--header with --pipe: lines before every block, not column names; --fifo") {
  const RunConfig colon = config_of({"--pipe", "--header", ":", "cat"});
  CHECK(colon.blocks.header_lines == 1);
  CHECK_FALSE(colon.header);  // nothing is read as column names
  CHECK(config_of({"--pipepart", "-a", "f", "--header", "3", "cat"}).blocks.header_lines == 3);
  CHECK(config_of({"--header", ":", "cat"}).blocks.header_lines == 0);
  CHECK(
      usage_error_of({"--pipe", "--header", "x.*", "cat"}).starts_with("--pipe takes --header :"));
  CHECK(config_of({"--pipe", "--fifo", "cat"}).pipe_fifo);
  CHECK(usage_error_of({"--fifo", "cat"}) == "--fifo needs --pipe or --pipepart");
  CHECK(usage_error_of({"--pipe", "--fifo", "--cat", "cat"}) ==
        "--cat and --fifo exclude each other: give one");
}

}  // namespace
}  // namespace taskpool
