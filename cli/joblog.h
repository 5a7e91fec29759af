// GNU parallel's job log: a header, then one tab-separated line per attempt.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  // `append`: add to an existing joblog (--resume) instead of starting a new one; the header is
  // written only when the file is new or empty.
  // "-" is standard output.
  explicit JobLog(const std::string& path, bool append = false);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  void write(const Attempt& attempt, const Completion& completion);
  // The Host column for each worker (index: worker - 1), for -S; without it, ':' for all.
  void set_hosts(std::vector<std::string> host_of_worker) { hosts_ = std::move(host_of_worker); }

 private:
  off_t drop_cut_off_line(off_t size);

  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = true;
  WallClock wall_clock_;
  std::vector<std::string> hosts_;
};

// One line of the log, without writing it (for tests). A timed-out attempt has Exitval -1, as in
// GNU parallel.
// `host`: the Host column (':' is this machine).
std::string joblog_line(const Attempt& attempt, const Completion& completion, double start_epoch,
                        std::string_view host = ":");

// The jobs a joblog lists: sequence number -> whether its last line says it succeeded (Exitval and
// Signal 0). An unfinished last line (no newline: the run was cut off while writing it) is
// ignored. Throws Error naming `name` and the line when the text is not a joblog.
std::unordered_map<uint64_t, bool> parse_joblog(std::string_view text, const std::string& name);

// Reads and parses the joblog at `path` for --resume; a missing file lists no jobs.
std::unordered_map<uint64_t, bool> read_joblog(const std::string& path);

}  // namespace taskpool
