#include "cli/joblog.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {

WallClock::WallClock()
    : steady_origin_(std::chrono::steady_clock::now()),
      epoch_origin_(std::chrono::duration<double>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count()) {}

double WallClock::epoch_seconds(TimePoint t) const {
  return epoch_origin_ + to_seconds(t - steady_origin_);
}

std::string joblog_line(const Attempt& attempt, const Completion& completion, double start_epoch) {
  std::string command = attempt.command.line;
  // As GNU parallel does: a newline would break the one-line-per-job format.
  for (char& c : command) {
    if (c == '\n') c = '\0';
  }
  const double runtime = completion.started ? to_seconds(completion.runtime()) : 0.0;
  return fmt::format("{}\t:\t{:.3f}\t{:10.3f}\t0\t{}\t{}\t{}\t{}\n", attempt.seq, start_epoch,
                     runtime, completion.stdout_bytes, completion.exit_status, completion.signal,
                     command);
}

JobLog::JobLog(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) throw system_error("--joblog: cannot open '" + path + "'");
  write_all(fd_, kHeader, ("joblog '" + path_ + "'").c_str());
}

JobLog::~JobLog() {
  if (fd_ >= 0) ::close(fd_);
}

void JobLog::write(const Attempt& attempt, const Completion& completion) {
  const double start = wall_clock_.epoch_seconds(completion.start);
  write_all(fd_, joblog_line(attempt, completion, start), ("joblog '" + path_ + "'").c_str());
}

}  // namespace taskpool
