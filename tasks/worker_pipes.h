// Each worker's stdout and stderr pipes, kept from one job to the next (see
// ProcessExecutorOptions::kept_pipes): a job then costs no pipe to make, set up and close, and
// no wake-up when its pipes reach their end (they never do: taskpool holds the write ends).
#pragma once

#include <memory>
#include <vector>

#include "core/job.h"
#include "tasks/pipes.h"

namespace taskpool {

struct KeptPipes {
  Pipe out;  // the read end non-blocking, as a job's own pipe's
  Pipe err;
};

// Not thread-safe. Owns the pipes; closes them when it goes.
class WorkerPipes {
 public:
  // Workers 1..`workers` keep their pipes; 0: none does.
  explicit WorkerPipes(int workers) : workers_(workers) {}

  // The pipes of `worker`, made at its first job. Null when it keeps none (above the count), or
  // when they could not be made: `error` is then make_pipe's errno (the job fails as it would
  // for a pipe of its own).
  KeptPipes* get(WorkerId worker, int& error);

 private:
  int workers_;
  std::vector<std::unique_ptr<KeptPipes>> pipes_;  // [worker - 1], null until its first job
};

}  // namespace taskpool
