// --timeline FILE.svg: a Gantt chart of a run, one row per worker, one bar per attempt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/stats.h"
#include "core/time.h"

namespace taskpool {

// The attempts of one run, as the chart draws them: one bar per attempt while that is what a
// chart of this width can show, and memory stays small; past that, each worker's row is cut into
// kBins stretches of time, and each stretch holds how long the worker was busy there, by outcome
// (the chart draws the row's density: a pool busy 90% of the time looks busy). The stretches
// double in length as the run goes on, so memory stays bounded (workers × kBins) for any number
// of attempts.
class Timeline {
 public:
  enum class Outcome { kOk, kFailed, kRetried, kTimedOut, kKilled };
  static constexpr size_t kOutcomes = 5;
  struct Bar {
    WorkerId worker;
    double start;  // seconds from the start of the run
    double end;
    Outcome outcome;
    uint64_t seq;       // the job's number (0: not known)
    std::string label;  // the start of its command, for the tooltip
  };
  // One stretch of a worker's row, in density mode.
  struct Bin {
    float busy[kOutcomes] = {};  // seconds, by outcome
    uint32_t attempts = 0;       // that ended in it
    uint32_t failed = 0;         // of which failed or timed out
  };
  static constexpr size_t kMaxBars = 20000;   // past this many attempts, density
  static constexpr size_t kBarsPerRow = 400;  // past this many on one row, too thin to see
  static constexpr size_t kBins = 240;        // stretches per row, in density mode

  Timeline(std::string title, int workers, TimePoint start);

  // An attempt ended; `retried` when the job will be tried again.
  void add(const Attempt& attempt, const Completion& completion, bool retried);
  void add(const Completion& completion, bool retried) { add(Attempt{}, completion, retried); }
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
  uint64_t attempts() const { return attempts_; }
  // Whether the chart draws density (from bins()) rather than one bar per attempt (bars()).
  bool dense() const;
  const std::vector<Bar>& bars() const { return bars_; }
  // Density mode: the row of worker w (from 1), kBins stretches of bin_seconds() each.
  std::vector<Bin> bins(int w) const;
  double bin_seconds() const;

 private:
  void to_bins();
  void add_to_bins(std::vector<std::vector<Bin>>& rows, double& width, WorkerId worker,
                   double start, double end, Outcome outcome) const;

  std::string title_;
  int workers_;  // at the start
  int rows_;
  std::vector<std::pair<double, int>> changes_;
  TimePoint start_;
  double length_ = 0;
  uint64_t attempts_ = 0;
  std::vector<Bar> bars_;
  std::vector<uint32_t> bars_per_row_;  // index: worker - 1
  bool binned_ = false;                 // past kMaxBars: bins_ hold everything
  std::vector<std::vector<Bin>> bins_;  // index: worker - 1
  double bin_width_ = 0;                // seconds
};

// Whether `path` names a picture taskpool cannot write (the chart is SVG): a .png, .jpg, .gif,
// .webp or .pdf name is refused rather than given SVG under a name that says otherwise. Throws
// UsageError naming --timeline.
void check_timeline_path(const std::string& path);

// A self-contained SVG of the runs, one panel each, on one time scale (so --compare's batch and
// pool runs can be compared at a glance).
std::string timeline_svg(const std::vector<const Timeline*>& runs);

}  // namespace taskpool
