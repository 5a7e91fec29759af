// A command line ready to run, and the analysis that tells whether it needs a shell.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/unique_fd.h"

namespace taskpool {

// What a job reads on its standard input (--pipe, --pipepart), shared by its attempts: `header`
// (--pipepart's --header lines), then `bytes`, or, with `file` set, `length` bytes of that file
// from `offset` (the file stays open while a job may read it).
struct JobInput {
  std::string bytes;
  std::shared_ptr<const UniqueFd> file;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const std::string> header;

  uint64_t size() const { return (header ? header->size() : 0) + (file ? length : bytes.size()); }
};

// A command for one attempt. `line` is always set: it is what the shell would run, what
// --dry-run prints and what the joblog records. `argv` is set when the line uses no shell
// syntax, so running argv directly gives exactly what `/bin/sh -c line` would give.
struct Command {
  Command() = default;
  explicit Command(std::string l, std::vector<std::string> a = {})
      : line(std::move(l)), argv(std::move(a)) {}

  std::string line;
  std::vector<std::string> argv;  // empty: run `line` with /bin/sh -c
  // Set when the command must not run (its record was refused: Record::runnable): the attempt
  // fails without starting, with status 126 and this message (see tasks/refusing_executor.h).
  std::string refused;
  // Its standard input; null: /dev/null.
  std::shared_ptr<const JobInput> input;
  // --cat: `input` goes to this file (named in `line`) before the command starts, not to its
  // standard input; the file is removed when the attempt ends.
  std::string input_file;
  // Files the command needs where it runs and files it makes there, as given (their
  // replacement strings replaced): with -S, sent to its host before it runs (--transferfile)
  // and brought back after (--return). Ignored where commands run on this machine.
  std::vector<std::string> send_files;
  std::vector<std::string> return_files;
  // --fifo: `input` goes to the command through this named pipe (named in `line`), which a shell
  // around the command makes and fills from its standard input; the command's own standard input
  // is /dev/null. Removed when the attempt ends.
  std::string input_fifo;
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

// Why `command` cannot be given to a program, naming the program; nullopt when it can. An
// argument ends at its first NUL byte, so running a line that holds one would silently pass a
// shorter argument than the record holds. The process executor refuses such a command, and
// --dry-run says it would.
std::optional<std::string> nul_byte_error(const Command& command);

}  // namespace taskpool
