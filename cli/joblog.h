// GNU parallel's job log: a header, then one tab-separated line per attempt.
#pragma once

#include <string>

#include "core/job.h"
#include "core/time.h"

namespace taskpool {

// Converts steady-clock times to seconds since the epoch, for the Starttime column.
class WallClock {
 public:
  WallClock();
  double epoch_seconds(TimePoint t) const;

 private:
  TimePoint steady_origin_;
  double epoch_origin_;
};

// Owns the file. Throws Error naming the file when it cannot be opened or written.
class JobLog {
 public:
  static constexpr const char* kHeader =
      "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

  explicit JobLog(const std::string& path);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  void write(const Attempt& attempt, const Completion& completion);

 private:
  std::string path_;
  int fd_ = -1;
  WallClock wall_clock_;
};

// One line of the log, without writing it (for tests).
std::string joblog_line(const Attempt& attempt, const Completion& completion, double start_epoch);

}  // namespace taskpool
