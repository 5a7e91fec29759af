// The process's signals: the one place in taskpool with process-wide state. A handler can reach
// nothing but globals, so the counters and the wake-up descriptor live here, behind Signals.
#pragma once

#include <signal.h>

namespace taskpool {

// The live pool's signals received since they were last taken (see Signals::take_live).
struct LiveSignals {
  int more_workers = 0;   // SIGUSR1: one worker more each
  int fewer_workers = 0;  // SIGUSR2: one fewer each
  bool suspend = false;   // SIGTSTP (Ctrl-Z): stop the run with its jobs
};

// Sets up the signal handling of the whole process, once (in main, before any thread starts):
// SIGINT, SIGTERM and SIGHUP are counted (a stop request; the second one stops at once), SIGUSR1,
// SIGUSR2 and SIGTSTP are noted for the live pool, and every one of them writes an eventfd that
// the executors wait on, so that a signal that comes just before their ppoll is not slept
// through. SIGCHLD gets a handler that interrupts ppoll and is blocked (in this thread and every
// thread made after). SIGPIPE is ignored (a closed stdout is an EPIPE that is handled), and so is
// SIGXFSZ (under `ulimit -f`, a write past the limit is an EFBIG that the joblog, the summary,
// the temporary output files and downloads report). Jobs get all of them back at their defaults
// (see ProcessExecutor). The stop signals are not blocked: a blocked signal that comes twice
// before it is handled counts once, and a second Ctrl-C must not be lost.
//
// Every Run of the process shares it. Thread-safe, but take_live() (the scheduler's thread).
class Signals final {
 public:
  // REQUIRES: no other Signals exists, and no thread runs yet.
  Signals();
  // The handlers stay (a signal may still come while the process ends), and so does their
  // descriptor: the process's exit closes it.
  ~Signals() = default;
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // The signal mask from before SIGCHLD was blocked: what children get, and what an executor's
  // ppoll unblocks.
  const sigset_t& original_mask() const { return original_mask_; }
  // The eventfd that the handlers write (ProcessExecutorOptions::wake_fd and friends).
  int wake_fd() const;
  // Makes the executors' current or next wait return, as a signal would (async-signal-safe).
  void wake() const;
  // SIGINT, SIGTERM and SIGHUP received so far.
  int stop_count() const;
  // The first of them received, or 0.
  int first_stop_signal() const;
  // The live signals received since the last call.
  LiveSignals take_live();
  // Stops the whole process, as Ctrl-Z's default action would; returns once it is continued
  // (SIGCONT: fg, bg).
  void stop_process() const;
  // Ends the process as SIGPIPE would, quietly: standard output's reader went, and a program
  // killed by SIGPIPE is what `yes | head -1` expects. Returns only if the signal did not end it.
  void die_of_broken_pipe() const;

 private:
  sigset_t original_mask_{};
};

}  // namespace taskpool
