// A child's stdout or stderr, as the process executor reads it: captured, passed on line by
// line, or counted only.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "core/job.h"
#include "core/output_buffer.h"
#include "core/unique_fd.h"
#include "tasks/process_executor.h"

namespace taskpool {

struct ChildOutput {
  explicit ChildOutput(Stream s) : stream(s) {}

  // The pipe is the job's own: it ends when the job and its processes are done with it.
  void take(UniqueFd pipe) {
    fd = pipe.get();
    own = std::move(pipe);
  }
  // The pipe is its worker's, kept from job to job (ProcessExecutorOptions::kept_pipes): it
  // never reaches its end, and stays open when the job is done.
  void borrow(int pipe) { fd = pipe; }
  void close() {
    own.reset();
    fd = -1;
  }

  Stream stream;
  int fd = -1;   // what is read: -1 at end of file, for kDiscard, and once the child has ended
  UniqueFd own;  // fd when the pipe is the job's own
  // kLines: the start of a line whose end has not come yet. A line longer than the memory limit
  // waits in a temporary file, as captured output does.
  OutputBuffer partial;
  bool lost = false;  // what came could not be kept (no room for a temporary file): count only
};

// Reads what is there, up to `limit` bytes, without waiting; closes the stream at end of file.
// Output that cannot be kept is counted and dropped from then on; the first such error goes to
// `error`.
void read_output(const ProcessExecutorOptions& options, Completion& completion, ChildOutput& output,
                 std::span<char> buffer, size_t limit, std::string& error);

// After the child has ended: takes only what is in the pipe now. Its own children may keep the
// pipe open long after (`sleep 100 &`), and the attempt must not wait for them.
void finish_output(const ProcessExecutorOptions& options, Completion& completion,
                   ChildOutput& output, std::span<char> buffer, std::string& error);

}  // namespace taskpool
