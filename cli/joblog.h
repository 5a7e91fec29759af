// GNU parallel's job log: a header, then one tab-separated line per attempt.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/job.h"
#include "core/template.h"
#include "core/time.h"
#include "core/unique_fd.h"

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

  void write(const Attempt& attempt, const Completion& completion) {
    write_line(line(attempt, completion));
  }
  // The line for an attempt, to write later with write_line: a job's line goes to the joblog
  // only once its output has been printed (see OutputPrinter), so a run killed in between runs
  // the job again on --resume instead of losing its output.
  std::string line(const Attempt& attempt, const Completion& completion) const;
  void write_line(std::string_view line);
  // The Host column for each worker (index: worker - 1), for -S; without it, ':' for all.
  void set_hosts(std::vector<std::string> host_of_worker) { hosts_ = std::move(host_of_worker); }
  // --fetch: the output directory, so that a download's Command column says where it went.
  void set_download_dir(std::string dir) { download_dir_ = std::move(dir); }

 private:
  off_t drop_cut_off_line(off_t size);

  std::string path_;
  int fd_ = -1;
  UniqueFd owned_;  // fd_, when the joblog is a file (not standard output)
  WallClock wall_clock_;
  std::vector<std::string> hosts_;
  std::string download_dir_ = ".";
};

// One line of the log, without writing it (for tests). A timed-out attempt has Exitval -1, as in
// GNU parallel.
// `host`: the Host column (':' is this machine).
// The Command column is the command line, or for a download with a file name, "URL -> FILE"
// with FILE under `download_dir`.
std::string joblog_line(const Attempt& attempt, const Completion& completion, double start_epoch,
                        std::string_view host = ":", std::string_view download_dir = ".");

// What a joblog says of one job: whether its last line says it succeeded (Exitval and Signal 0),
// and which command it ran.
struct LoggedJob {
  bool succeeded = false;
  uint64_t command_hash = 0;  // of the Command column (joblog_command_hash)
  std::string command;        // the Command column itself, when asked for (parse_joblog)
};
using LoggedJobs = std::unordered_map<uint64_t, LoggedJob>;  // by sequence number

// The hash of a command as the Command column holds it (a newline written as NUL).
uint64_t joblog_command_hash(std::string_view command);

// The jobs a joblog lists, by sequence number; the last line of a job counts. `keep_commands`:
// keep each Command column too, not only its hash. An unfinished last line (no newline: the run
// was cut off while writing it) is ignored. Throws Error naming `name` and the line when the
// text is not a joblog.
LoggedJobs parse_joblog(std::string_view text, const std::string& name, bool keep_commands = false);

// Reads and parses the joblog at `path` for --resume; a missing file lists no jobs.
LoggedJobs read_joblog(const std::string& path, bool keep_commands = false);

// Whether `job`'s command (from `command`) is the one `logged` ran. With {%} in the command, the
// joblog's worker number is taken from its command (`logged.command` is needed then).
bool same_command(const LoggedJob& logged, const CommandTemplate& command, const Job& job);

}  // namespace taskpool
