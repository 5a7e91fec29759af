// Runs attempts as child processes, all from one thread: posix_spawn into a new process group,
// stdout and stderr through pipes, one ppoll over every pipe.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/executor.h"
#include "tasks/program_path.h"

namespace taskpool {

enum class OutputMode {
  kCapture,  // collect each attempt's stdout and stderr into OutputBuffers (the completion's)
  kLines,    // pass complete lines to on_output as they arrive (--line-buffer)
  kDiscard,  // the child's stdout and stderr go to /dev/null
};

enum class Stream { kStdout, kStderr };

struct ProcessExecutorOptions {
  OutputMode output = OutputMode::kCapture;
  // kLines: called with one or more complete lines (each ending in '\n'), or the unterminated
  // rest when the attempt ends. On the scheduler's thread, inside wait().
  std::function<void(WorkerId, Stream, std::string_view)> on_output;
  std::string shell = "/bin/sh";
  size_t memory_limit = 256 * 1024;  // per captured stream, before spilling to a file
};

// Signal handling contract: the caller blocks SIGCHLD (and the signals it handles) in every
// thread before constructing the executor, and passes the mask from before that. wait()
// unblocks that mask only inside ppoll, so handlers run there and wait() returns early; children
// get the original mask, default SIGPIPE/SIGINT/SIGTERM/SIGHUP/SIGCHLD/SIGQUIT, stdin from
// /dev/null, and a process group of their own.
// Not thread-safe, except wake().
class ProcessExecutor final : public Executor {
 public:
  ProcessExecutor(ProcessExecutorOptions options, const sigset_t& original_mask);
  ~ProcessExecutor() override;  // kills and reaps anything still running
  ProcessExecutor(const ProcessExecutor&) = delete;
  ProcessExecutor& operator=(const ProcessExecutor&) = delete;

  void start(const Attempt& attempt) override;
  // As start(), with `stdin_fd` as the child's standard input instead of /dev/null (the caller
  // keeps its descriptor; the child gets a copy).
  void start(const Attempt& attempt, int stdin_fd);
  void cancel(WorkerId worker, CancelMode mode) override;
  std::vector<Completion> wait(TimePoint deadline) override;
  void wake() override;

  size_t running() const;

 private:
  struct Child;
  ProcessExecutorOptions options_;
  sigset_t original_mask_;
  ProgramPath programs_;
  int dev_null_fd_ = -1;  // every child's stdin, and its stdout and stderr for kDiscard
  int wake_fd_ = -1;      // eventfd
  std::vector<std::unique_ptr<Child>> children_;  // running ones
  std::vector<Completion> ready_;                 // ended, not yet returned by wait()
};

// Installs the SIGCHLD handler that ProcessExecutor relies on (a no-op handler, so the signal
// interrupts ppoll). Call once, before blocking signals.
void install_child_signal_handler();

}  // namespace taskpool
