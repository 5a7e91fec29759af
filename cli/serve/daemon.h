// taskpool serve: the job server's parts wired to one scheduler loop. The store is the
// scheduler's job source (a job starts as a worker frees up, within its group's limits), the
// process executor runs the jobs as a run would, observers write their states and output back to
// the store, and the HTTP server's descriptor is watched in the executor's own wait.
#pragma once

#include <cstdint>
#include <string>

#include "core/time.h"

namespace taskpool {

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";
  std::string state;        // the state directory (the store, the jobs' output)
  int workers = 0;          // jobs running at once in all; 0: one per CPU
  uint64_t queue_size = 0;  // a new group's queue size; 0: the store's default
  std::string token;        // read from --token-file; empty: none asked for
  std::string command;      // --template; empty: each job brings its command
  Duration kill_after = std::chrono::seconds(5);  // from SIGTERM to SIGKILL for a cancelled job
};

// Serves until a stop signal or a drain (POST /v1/drain) has let the running jobs finish.
// Returns the exit status (0). Throws Error when it cannot start (the address, the state
// directory, another daemon on it). REQUIRES: no thread runs yet (it forks the guardian and sets
// up the process's signals).
int serve(const ServeConfig& config);

}  // namespace taskpool
