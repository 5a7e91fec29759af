// `taskpool agent`: runs the jobs a runner asks for over a byte stream (core/agent_frame.h), with
// the process executor, and answers with their output and ends, and a heartbeat.
#pragma once

#include <signal.h>

#include <atomic>

#include "core/time.h"
#include "tasks/process_executor.h"

namespace taskpool {

struct AgentLoopOptions {
  int in_fd = 0;   // the requests
  int out_fd = 1;  // the answers (blocking writes)
  Duration heartbeat = std::chrono::milliseconds(500);
  ProcessExecutorOptions process;  // output kCapture: a job's output goes back when it ends
  // Set (by a signal handler) to end the loop as the end of the requests does.
  const volatile sig_atomic_t* stop = nullptr;
};

// Says hello, then runs jobs until the requests end (or `stop` is set): then every running job's
// process group is killed and the loop returns 0. A broken request stream, or answers that
// cannot be written, end it too: 1, after a message on stderr naming the problem.
// Signals: as ProcessExecutor (the caller blocks SIGCHLD and passes the mask from before).
int run_agent_loop(const AgentLoopOptions& options, const sigset_t& original_mask);

}  // namespace taskpool
