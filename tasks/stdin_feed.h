// A job's standard input written by taskpool (--pipe, --pipepart): a pipe whose write end is
// filled as the job drains it, from the scheduler's thread, without blocking.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/command.h"
#include "core/unique_fd.h"

namespace taskpool {

// Writes all of `input` to the new file `path` (--cat). Returns 0 or the errno of the failure (the
// file is removed then).
int write_input_file(const JobInput& input, const std::string& path);

// --fifo: the argv that runs `command.line` in `shell` with the named pipe command.input_fifo
// made and filled from the standard input (as GNU parallel's --fifo, the command's exit status;
// a command that never opens the pipe does not hang it).
std::vector<std::string> fifo_argv(const std::string& shell, const Command& command);

struct StdinFeed {
  // Makes the pipe for `input`: the child's end goes to `child_end`. Returns 0, or make_pipe's
  // errno.
  int open(std::shared_ptr<const JobInput> input, UniqueFd& child_end);

  // Writes what the pipe takes now, up to a few MiB (one job must not keep the others waiting).
  // Closes the pipe once everything is written, or when the job has closed its end (it read
  // what it wanted: as `head` does, that is not an error).
  void write_some();

  UniqueFd fd;  // the write end, non-blocking; invalid once done
  std::shared_ptr<const JobInput> input;
  uint64_t written = 0;
};

}  // namespace taskpool
