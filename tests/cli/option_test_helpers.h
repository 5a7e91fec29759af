// What the tests of the command line share (tests/cli/options_test.cc, option_rules_test.cc):
// here, not in each file's anonymous namespace, because the test files are compiled in batches
// (CMake's unity build), where two definitions of one name would clash.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/options.h"

namespace taskpool::testing {

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
    std::string file = (dir_ / name).string();
    std::ofstream(file) << text;
    return file;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

// The RunConfig of a command line that must parse.
inline RunConfig config_of(const Args& args) {
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
inline std::string usage_error_of(const Args& args) {
  const ParsedArguments parsed = parse_arguments(args);
  CHECK(parsed.exit_status == 255);
  CHECK_FALSE(parsed.config.has_value());
  CHECK(parsed.output.empty());
  CHECK_FALSE(parsed.error.empty());
  return parsed.error;
}

inline std::string shown(const Args& args) {
  std::string line;
  for (const std::string& arg : args) line += (line.empty() ? "'" : " '") + arg + "'";
  return line;
}

struct UsageCase {
  Args args;
  std::string message;  // the whole message
};

// Each command line is a usage error with exactly its message.
inline void check_usage_errors(const std::vector<UsageCase>& cases) {
  for (const UsageCase& c : cases) {
    CAPTURE(shown(c.args));
    CHECK(usage_error_of(c.args) == c.message);
  }
}

}  // namespace taskpool::testing
