// A command line ready to run, and the analysis that tells whether it needs a shell.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

// A command for one attempt. `line` is always set: it is what the shell would run, what
// --dry-run prints and what the joblog records. `argv` is set when the line uses no shell
// syntax, so running argv directly gives exactly what `/bin/sh -c line` would give.
struct Command {
  std::string line;
  std::vector<std::string> argv;  // empty: run `line` with /bin/sh -c
};

// Splits `line` into words when it is a simple command the shell would run as a plain exec:
// words of ordinary characters, single quotes, double quotes without $ ` \ inside, and
// backslash escapes; no operators, redirections, globs, expansions, comments, assignments or
// keywords; and a first word that is not a shell builtin (except a few builtins whose program
// on PATH behaves identically for these arguments, such as `true` and, without options or
// backslashes, `echo`). Returns nullopt when the shell is needed.
std::optional<std::vector<std::string>> split_simple_command(std::string_view line);

// Makes a Command from a line: argv filled when split_simple_command allows it.
Command make_command(std::string line);

}  // namespace taskpool
