#include "tasks/worker_pipes.h"

namespace taskpool {

KeptPipes* WorkerPipes::get(WorkerId worker, int& error) {
  error = 0;
  if (worker < 1 || worker > workers_) return nullptr;
  const auto index = static_cast<size_t>(worker - 1);
  if (index >= pipes_.size()) pipes_.resize(index + 1);
  if (pipes_[index] != nullptr) return pipes_[index].get();
  auto pipes = std::make_unique<KeptPipes>();
  for (Pipe* pipe : {&pipes->out, &pipes->err}) {
    error = make_pipe(*pipe);
    if (error != 0) return nullptr;
    set_nonblocking(pipe->read.get());
  }
  pipes_[index] = std::move(pipes);
  return pipes_[index].get();
}

}  // namespace taskpool
