// The jobs that failed, for --summary-json: the first ones in full (which job, the command as
// run, why), the rest counted, so that the summary stays small whatever the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/scheduler.h"

namespace taskpool {

class FailedJobs final : public RunObserver {
 public:
  static constexpr size_t kListed = 100;

  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;

  // {"listed": [{"seq", "command", "exit_status", "signal", "timed_out", "error"}...],
  //  "not_listed": N}
  std::string json() const;

 private:
  struct Failure {
    uint64_t seq = 0;
    std::string command;
    int exit_status = 0;
    int signal = 0;
    bool timed_out = false;
    std::string error;
  };
  std::vector<Failure> listed_;
  uint64_t not_listed_ = 0;
};

}  // namespace taskpool
