// --timeline FILE.svg: a Gantt chart of a run, one row per worker, one bar per attempt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/stats.h"
#include "core/time.h"

namespace taskpool {

// The attempts of one run, as the chart draws them. Memory grows with the attempts, up to
// kMaxAttempts; past that, attempts are counted but not drawn (the chart says so).
class Timeline {
 public:
  enum class Outcome { kOk, kFailed, kRetried, kTimedOut, kKilled };
  struct Bar {
    WorkerId worker;
    double start;  // seconds from the start of the run
    double end;
    Outcome outcome;
  };
  static constexpr size_t kMaxAttempts = 200000;

  Timeline(std::string title, int workers, TimePoint start);

  // An attempt ended; `retried` when the job will be tried again.
  void add(const Completion& completion, bool retried);
  void finish(TimePoint end);
  // The number of workers changed during the run: the chart gets a row for the most there were,
  // each row's background only while its worker was in the pool, and a mark at each change.
  void set_worker_changes(const std::vector<WorkerChange>& changes);

  const std::string& title() const { return title_; }
  int workers() const { return rows_; }  // rows: the most workers there were
  // When worker w was in the pool: [start, end) seconds, in order.
  std::vector<std::pair<double, double>> worker_spans(int w) const;
  // (seconds, workers) at each change.
  const std::vector<std::pair<double, int>>& changes() const { return changes_; }
  double length() const { return length_; }
  const std::vector<Bar>& bars() const { return bars_; }
  uint64_t not_drawn() const { return not_drawn_; }

 private:
  std::string title_;
  int workers_;  // at the start
  int rows_;
  std::vector<std::pair<double, int>> changes_;
  TimePoint start_;
  double length_ = 0;
  std::vector<Bar> bars_;
  uint64_t not_drawn_ = 0;
};

// A self-contained SVG of the runs, one panel each, on one time scale (so --compare's batch and
// pool runs can be compared at a glance).
std::string timeline_svg(const std::vector<const Timeline*>& runs);

// Writes timeline_svg to `path`. Throws Error naming the file.
void write_timeline(const std::string& path, const std::vector<const Timeline*>& runs);

}  // namespace taskpool
