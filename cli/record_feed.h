// Where a run's records come from: the input read on a thread of its own into the bounded queue,
// read on the scheduler's thread as it asks (::: lists alone), or held in memory (--compare).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/plan.h"
#include "core/input.h"
#include "core/scheduler.h"
#include "core/template.h"

namespace taskpool {

// The run's input sources as one stream of records: -a files, ::: lists and :::: files, else
// stdin. Throws Error naming a file that cannot be opened.
std::unique_ptr<RecordStream> open_records(const RunConfig& config, const RecordLimit& limit);

// RecordGrouper::Options::length for `command` on a pool of `workers`.
std::function<RecordGrouper::Measure(const Record&, bool)> grouping_length(
    const CommandTemplate& command, int workers);

// --priority-col: column `col` (from 1) of the record as a number; a missing or empty column is
// 0. nullopt when it is not a number.
std::optional<double> record_priority(const Record& record, size_t col);

// The records of a run, to the scheduler (a JobSource), and what the input came to.
class RecordFeed : public JobSource {
 public:
  // Whether the input was read to its end (or to an error that ended it).
  virtual bool input_done() const = 0;
  // While it is read: how far through the input reading is, from 0 to 1, when the input is one
  // regular file (its bytes read against its size); nothing otherwise. Thread-safe.
  virtual std::optional<double> fraction_read() const { return std::nullopt; }
  // The error that ended the input (its records before it run, then the run fails), or empty.
  // REQUIRES: input_done().
  virtual std::string error() const { return {}; }
  // The bytes read so far of a record too long to keep that had not ended when reading
  // stopped (`-a /dev/zero`), else 0.
  virtual uint64_t reading_past() const { return 0; }
  // Ends reading, also when it is blocked on a terminal or a pipe, and joins the reading thread:
  // none outlives its feed. Called once the scheduler is done; the destructor calls it too.
  virtual void stop() {}
};

// How the input is read, checked and grouped into jobs.
struct FeedOptions {
  RecordLimit limit;  // stop_fd is the feed's own
  std::optional<RecordGrouper::Options> grouping;
  size_t priority_col = 0;
  // Called with each job's number and record as it is read (see resume_check); throws Error to
  // end the input there.
  std::function<void(uint64_t, const Record&)> check;
  // --pipe, --pipepart: makes each record's input of its one field (the record keeps none).
  std::function<std::shared_ptr<const JobInput>(std::string&&)> block_input;
};

// Reads `config`'s input as `plan` says: on a thread of its own (started here) into a queue of
// plan.queue_capacity, calling `wake` (thread-safe) when the scheduler may find something new;
// or, with plan.read_inline, on the scheduler's thread. Throws Error when an input cannot be
// opened or the thread cannot be started.
std::unique_ptr<RecordFeed> open_record_feed(const RunConfig& config, const InputPlan& plan,
                                             FeedOptions options, std::function<void()> wake);

// The records of `records`, in order (--compare runs the same input twice). They must outlive it.
std::unique_ptr<RecordFeed> memory_feed(const std::vector<Record>& records);

}  // namespace taskpool
