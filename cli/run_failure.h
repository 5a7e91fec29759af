// The first error that fails a run, latched in one place for all its sources.
#pragma once

#include <string>
#include <utility>

#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {

// An output that cannot be written (job output, the joblog, messages on stderr) or kept (the
// executor's temporary files), and standard output closed by its reader, stop the run: nothing
// more starts, running jobs are terminated, and the error is reported at the end. An error of
// the input ends the input instead (the records before it run) and fails the run at its end.
// Not thread-safe: used on the scheduler's thread.
class RunFailure {
 public:
  // Runs `write`, latching the Error it throws (BrokenPipe as a closed standard output). Once
  // standard output is closed, writes nothing more.
  template <typename F>
  void guard(F&& write) {
    if (broken_pipe_) return;
    try {
      std::forward<F>(write)();
    } catch (const BrokenPipe&) {
      broken_pipe_ = true;
    } catch (const Error& e) {
      fail(e.what());
    }
  }
  // An error that stops the run; the first one counts.
  void fail(const std::string& message) {
    if (error_.empty()) error_ = message;
  }
  // Standard output was closed by its reader, seen before any write failed (OutputWatch).
  void output_closed() { broken_pipe_ = true; }
  // The input ended at an error. Reported before any other.
  void input_failed(std::string message) { input_error_ = std::move(message); }

  bool stops_run() const { return broken_pipe_ || !error_.empty(); }
  bool broken_pipe() const { return broken_pipe_; }
  // The error to report at the end, or empty.
  const std::string& message() const { return input_error_.empty() ? error_ : input_error_; }

 private:
  bool broken_pipe_ = false;
  std::string error_;
  std::string input_error_;
};

}  // namespace taskpool
