// --pipe and --pipepart: the run's input as blocks of whole records, each the standard input of
// one job.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cli/options.h"
#include "core/command.h"
#include "core/input.h"

namespace taskpool {

struct BlockStream {
  std::unique_ptr<RecordStream> stream;  // a record per block (its one field, for `input`)
  // The job input of the record just read, made of its field.
  std::function<std::shared_ptr<const JobInput>(std::string&&)> input;
};

// The blocks of `config`'s input: stdin, -a FILE or :::: FILE. `stop_fd`: see RecordLimit.
// Throws Error naming the file when it cannot be opened, or, for --pipepart, is no regular file.
BlockStream open_blocks(const RunConfig& config, int stop_fd);

}  // namespace taskpool
