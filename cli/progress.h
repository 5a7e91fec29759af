// --progress and --eta: how far the run is, for a terminal (one line redrawn in place) and for a
// CI log (a plain line now and then).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/time.h"
#include "tasks/fetch_executor.h"

namespace taskpool {

struct ProgressCounters {
  uint64_t done = 0;  // jobs ended (succeeded or failed)
  uint64_t failed = 0;
  uint64_t running = 0;
  uint64_t read = 0;  // records read so far (jobs in all, once the input is complete)
  bool input_complete = false;
  // While the input is read: how far through it reading is (0 to 1), when it is one regular file.
  std::optional<double> fraction_read;
  Duration elapsed{0};
  // --fetch: the bytes received and what is known of the files' sizes. The line then shows the
  // bytes ("120 MiB/400 MiB", their rate), and the ETA comes from the bytes left at that rate.
  std::optional<FetchProgress> bytes;
};

// The progress line, at most `width` columns (0: no limit), without escape codes:
// "taskpool: 120/500 done (24%), 3 failed, 4 running, 12.3 jobs/s, 9.8 s, ETA 31 s".
// While the input is still being read: "120 done, ..."; with `eta`, an estimate from the records
// read so far, marked as such ("ETA >= 31 s"). `color` marks failures in red (ANSI). Downloads
// add their bytes: "..., 12.3 jobs/s, 120 MiB/400 MiB, 10.2 MiB/s, 9.8 s, ETA 27 s".
std::string progress_line(const ProgressCounters& counters, size_t width, bool eta, bool color);

// --bar: the progress line behind a bar that fills what the line leaves of `width`
// ("[=======>      ] taskpool: 120/500 (24%), ..."), once the total is known and at least
// kMinBar columns are left; the progress line alone otherwise.
std::string bar_line(const ProgressCounters& counters, size_t width, bool eta, bool color);
inline constexpr size_t kMinBar = 10;

// Writes progress to a file descriptor (stderr). On a terminal: the line is redrawn in place at
// most every 100 ms and erased (clear()) before job output is printed. Elsewhere: a plain line
// every `interval`. Not thread-safe: used on the scheduler's thread.
class ProgressDisplay {
 public:
  ProgressDisplay(int fd, bool terminal, Duration interval, bool eta, bool color);

  // Shows `counters` if it is time to (`force`: now).
  void update(const ProgressCounters& counters, TimePoint now, bool force = false);
  // Removes the line from the terminal, before other output; a no-op elsewhere.
  void clear();
  // Draws the line again at once after other output cleared it (a terminal only), so that it
  // stays in sight while jobs print; a no-op before the first update and in a log.
  void restore(const ProgressCounters& counters);
  // The last line, left on the terminal (or printed once more elsewhere) at the end of the run.
  void finish(const ProgressCounters& counters);
  // --bar: draw a bar on a terminal (elsewhere the plain line is printed all the same).
  void set_bar(bool bar) { bar_ = bar; }

 private:
  void write(const std::string& text);
  void draw(const ProgressCounters& counters);

  int fd_;
  bool terminal_;
  Duration interval_;
  bool eta_;
  bool color_;
  bool bar_ = false;
  bool shown_ = false;
  TimePoint last_ = TimePoint::min();
};

// Whether `fd` is a terminal that understands "\r" and erase-line: a tty, and TERM not "dumb".
bool is_smart_terminal(int fd);

}  // namespace taskpool
