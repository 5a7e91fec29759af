#include "cli/flag_words.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/options.h"

namespace taskpool {
namespace {

TEST_CASE("flag words: the flags a command line's words may name") {
  const FlagWords words({"-kj4", "--halt=now,fail=1", "--tag", "echo", "--", "-", "x-y"});
  CHECK(words.may_name("-k,--keep-order"));
  CHECK(words.may_name("-j,-P,--jobs"));  // -j of -kj4
  CHECK(words.may_name("-4"));            // the 4 of -kj4 too: a superset is harmless
  CHECK(words.may_name("--halt"));        // --NAME=VALUE
  CHECK(words.may_name("-x,--tag"));      // one of its names
  CHECK_FALSE(words.may_name("--halt-on-error"));
  CHECK_FALSE(words.may_name("-a,--arg-file"));
  CHECK_FALSE(words.may_name("--jobs"));  // -j is not --jobs: CLI11 matches names exactly
  CHECK_FALSE(words.may_name("-e"));      // "echo" and "x-y" are no options
  CHECK(FlagWords::all().may_name("-a,--arg-file"));
  CHECK(FlagWords(std::vector<std::string>{}).may_name("weird"));  // another kind: declared
}

// Declaring only the flags a command line's words may name parses it as declaring them all.
TEST_CASE("flag words: a command line parses as with every flag declared") {
  const std::vector<std::vector<std::string>> lines = {
      {"true", ":::", "1"},
      {"-j4", "-k", "echo", ":::", "a", "b"},
      {"-kj", "2", "--tag", "echo", ":::", "-a", "--b"},
      {"--jobs=3", "--halt", "now,fail=1", "grep", "-v", "x", ":::", "f"},
      {"-n", "2", "-X", "echo", "a{}b", ":::", "1", "2", "3"},
      {"-0", "-r", "-d", "\\t", "--colsep", "-", "echo", "{1}"},
      {"--pipe", "--block", "10k", "--recend", "-", "wc", "-l"},
      {"--retries", "3", "--backoff", "10ms", "--timeout", "5s", "--deadline", "1m", "sh", "-c",
       "exit 1", ":::", "1"},
      {"--fetch", "-o", "dl", "--continue", ":::", "http://127.0.0.1:1/a"},
      {"-S", "2/host", "--ssh", "ssh -p 22", "hostname", ":::", "1"},
      {"--joblog", "+log", "--summary", "always", "-v", "-t", "echo", ":::", "1"},
      {"-I", "%", "--plus", "--tagstring", "{#}", "echo", "%", ":::", "a"},
      {"--", "-weird", ":::", "1"},
      {"--limit", "{1}=2", "--rate", "5", "echo", ":::", "a"},
  };
  for (const std::vector<std::string>& line : lines) {
    CAPTURE(line);
    const ParsedArguments some = parse_arguments_with(line, FlagWords(line));
    const ParsedArguments every = parse_arguments_with(line, FlagWords::all());
    CHECK(some.error == every.error);
    CHECK(some.exit_status == every.exit_status);
    REQUIRE(some.config.has_value() == every.config.has_value());
    if (some.config) CHECK(*some.config == *every.config);
  }
  // A flag that is given changes the configuration: the comparison can tell.
  const std::vector<std::string> keep = {"-k", "echo"};
  const std::vector<std::string> plain = {"echo"};
  CHECK_FALSE(*parse_arguments_with(keep, FlagWords::all()).config ==
              *parse_arguments_with(plain, FlagWords::all()).config);
}

TEST_CASE("flag words: --help and a mistyped flag still see every flag") {
  const ParsedArguments help = parse_arguments({"--help"});
  CHECK(help.output.find("--arg-file") != std::string::npos);
  CHECK(help.output.find("--summary-json") != std::string::npos);
  const ParsedArguments typo = parse_arguments({"--summary-jsn", "x", "echo"});
  CHECK(typo.error.find("--summary-json") != std::string::npos);
}

}  // namespace
}  // namespace taskpool
