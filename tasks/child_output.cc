#include "tasks/child_output.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "core/error.h"
#include "tasks/pipes.h"

namespace taskpool {

namespace {

// Passes what `output.partial` holds to on_output, in order, and empties it.
void pass_partial(const ProcessExecutorOptions& options, WorkerId worker, ChildOutput& output) {
  if (output.partial.empty()) return;
  if (options.on_output) {
    output.partial.for_each_chunk(
        [&](std::string_view chunk) { options.on_output(worker, output.stream, chunk); });
  }
  output.partial = OutputBuffer(options.memory_limit);
}

void pass_lines(const ProcessExecutorOptions& options, WorkerId worker, ChildOutput& output,
                std::string_view data) {
  const size_t last_newline = data.rfind('\n');
  if (last_newline == std::string_view::npos) {
    output.partial.append(data);
    return;
  }
  const std::string_view lines = data.substr(0, last_newline + 1);
  if (output.partial.empty()) {
    if (options.on_output) options.on_output(worker, output.stream, lines);
  } else if (!output.partial.spilled() &&
             output.partial.size() + lines.size() <= options.memory_limit) {
    output.partial.append(lines);
    pass_partial(options, worker, output);
  } else {
    // A long line: its start goes first, then the rest, one call right after the other.
    pass_partial(options, worker, output);
    if (options.on_output) options.on_output(worker, output.stream, lines);
  }
  output.partial.append(data.substr(last_newline + 1));
}

// Throws Error when output that must be kept finds no room (see OutputBuffer::append).
void deliver(const ProcessExecutorOptions& options, Completion& completion, ChildOutput& output,
             std::string_view data) {
  const bool is_stdout = output.stream == Stream::kStdout;
  (is_stdout ? completion.detail.stdout_bytes : completion.detail.stderr_bytes) += data.size();
  if (output.lost) return;
  switch (options.output) {
    case OutputMode::kCapture: {
      // Made at the first byte: most jobs write nothing on one of their streams.
      auto& buffer = is_stdout ? completion.detail.stdout_data : completion.detail.stderr_data;
      if (buffer == nullptr) buffer = std::make_unique<OutputBuffer>(options.memory_limit);
      buffer->append(data);
      break;
    }
    case OutputMode::kLines:
      pass_lines(options, completion.worker, output, data);
      break;
    case OutputMode::kDiscard:
    case OutputMode::kPassThrough:
      break;
  }
}

}  // namespace

void read_output(const ProcessExecutorOptions& options, Completion& completion, ChildOutput& output,
                 std::span<char> buffer, size_t limit, std::string& error) {
  while (output.fd >= 0 && limit > 0) {
    const ssize_t n = ::read(output.fd, buffer.data(), std::min(buffer.size(), limit));
    if (n > 0) {
      const auto size = static_cast<size_t>(n);
      try {
        deliver(options, completion, output, std::string_view(buffer.data(), size));
      } catch (const Error& e) {
        output.lost = true;
        if (error.empty()) error = e.what();
      }
      limit -= size;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      output.close();  // end of file, or a read error that no retry would mend
    }
  }
}

void finish_output(const ProcessExecutorOptions& options, Completion& completion,
                   ChildOutput& output, std::span<char> buffer, std::string& error) {
  if (const size_t left = available(output.fd); left > 0) {
    read_output(options, completion, output, buffer, left, error);
  }
  output.close();
  try {
    pass_partial(options, completion.worker, output);
  } catch (const Error& e) {
    if (error.empty()) error = e.what();
  }
}

}  // namespace taskpool
