// The live pool from outside: SIGUSR1 and SIGUSR2 (one worker more or less), Ctrl-Z (suspend the
// run with its jobs), -j FILE (read again when it changes) and --control commands. Applied on the
// scheduler's thread through SchedulerOptions::live.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cli/control.h"
#include "cli/signals.h"
#include "core/scheduler.h"

namespace taskpool {

// A number of workers as -j takes it, but for a file name: N, 0 (250), +N or -N (the CPUs plus
// or minus N), N% (of the CPUs, at least 1). nullopt when `value` is none of these. Throws
// UsageError for a number past 100000, and for one that leaves no worker (-N, 0%).
std::optional<int> parse_jobs_value(std::string_view value, int cpus);

// The forms parse_jobs_value takes, for messages.
inline constexpr char kJobsForms[] = "N, 0, +N, -N or N% of the CPUs";

// Reads -j FILE: the number of workers it holds (as parse_jobs_value). Never blocks: a FIFO or a
// device is refused unread. Throws UsageError for what is not a regular file holding a number,
// Error when the file cannot be read; both name the file.
int read_jobs_file(const std::string& path);

// The number of CPUs -j counts from: those taskpool may run on (its CPU affinity).
int cpu_count();

class LiveControl {
 public:
  struct Options {
    std::optional<std::string> jobs_file;  // -j FILE
    bool resizable = true;                 // false with -S: each host has its own workers
    // The most workers that can run at once (file descriptors), while `running` jobs run; may
    // raise the limit.
    std::function<int(int wanted, size_t running)> fit;
    ControlServer* control = nullptr;
    // A message for the user (stderr, out of the progress line's way).
    std::function<void(const std::string&)> say;
    // Ctrl-Z: stops this process until it is continued (SIGCONT).
    std::function<void()> stop_self;
    // The live signals received since the last call (Signals::take_live); unset: none.
    std::function<LiveSignals()> signals;
  };

  explicit LiveControl(Options options);

  // SchedulerOptions::live.
  TimePoint poll(Scheduler& scheduler, TimePoint now);

  // The answer to one --control command.
  std::string answer(Scheduler& scheduler, std::string_view command);

 private:
  void resize(Scheduler& scheduler, int workers, std::string_view why);
  void check_jobs_file(Scheduler& scheduler);

  Options options_;
  struct FileState {
    bool exists = false;
    timespec mtime{};
    off_t size = 0;
    ino_t inode = 0;
    bool operator==(const FileState& o) const {
      return exists == o.exists && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec && size == o.size && inode == o.inode;
    }
  };
  FileState file_state_;
  TimePoint next_file_check_{};
};

// The --control status line: one JSON object.
std::string status_json(const PoolStatus& status);

}  // namespace taskpool
