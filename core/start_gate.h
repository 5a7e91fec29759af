// The start gate of --load and --memfree: no job starts while the machine is busier than the
// user allows, as GNU parallel's. core/ knows no /proc: the readings come through
// MachineReadings (tasks/ reads them from /proc; tests give their own).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/time.h"

namespace taskpool {

// What the machine the jobs run on says of itself. Called on the scheduler's thread.
class MachineReadings {
 public:
  virtual ~MachineReadings() = default;
  // The processes running or waiting for a disk at this moment, as GNU parallel counts the load
  // for --load (not the load average: that lags a minute behind the jobs it started); nullopt
  // when it cannot be read.
  virtual std::optional<double> load() = 0;
  // The bytes of memory new processes can have without swapping (MemAvailable); nullopt when
  // it cannot be read.
  virtual std::optional<uint64_t> available_memory() = 0;
};

struct GateOptions {
  std::shared_ptr<MachineReadings> readings;  // null: no gate
  std::optional<double> max_load;             // --load: start only while the load is below it
  // --memfree: start only while at least this much memory is available; below half of it, the
  // youngest job is killed. 0: no rule on memory.
  uint64_t memfree = 0;
  // The machine is read at most this often.
  Duration interval = std::chrono::seconds(1);
};

// Decides from the latest readings, taken at most every GateOptions::interval. A reading that
// fails keeps the one before it (none yet: the gate is open). Not thread-safe.
class StartGate {
 public:
  explicit StartGate(GateOptions options) : options_(std::move(options)) {}

  bool enabled() const { return options_.readings && (options_.max_load || options_.memfree); }
  // Whether the youngest job is killed when memory is short (--memfree).
  bool kills() const { return options_.readings && options_.memfree != 0; }
  // Whether a job may start at `now`: the load, counting the jobs started since the reading as
  // running processes (the reading does not show them yet, and GNU parallel too lets at most
  // one job push the load over the limit), is below max_load, and memfree is available.
  bool allows(TimePoint now);
  // A job started: it counts towards the load until the next reading.
  void started() { ++started_since_reading_; }
  // Whether less than half of memfree is available: the youngest job must go.
  bool memory_short(TimePoint now);
  // When the machine can be read next: the gate may open then.
  TimePoint next_reading() const {
    return read_at_ == kNever ? kNever : read_at_ + options_.interval;
  }
  // The next call reads the machine afresh, however recent the reading is: a job killed for
  // memory has ended, and what it freed decides whether another must go.
  void expire() { read_at_ = kNever; }
  uint64_t readings() const { return readings_; }

 private:
  void read(TimePoint now);

  GateOptions options_;
  TimePoint read_at_ = kNever;  // the latest reading's time
  std::optional<double> load_;
  std::optional<uint64_t> available_;
  uint64_t started_since_reading_ = 0;
  uint64_t readings_ = 0;
};

}  // namespace taskpool
