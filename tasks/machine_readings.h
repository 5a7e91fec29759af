// The machine's readings for --load and --memfree, from Linux's /proc.
#pragma once

#include <memory>
#include <string>

#include "core/start_gate.h"

namespace taskpool {

// Reads `dir`/stat (procs_running + procs_blocked, less the reading thread itself: the processes
// running or waiting for a disk, as GNU parallel counts them with ps) and `dir`/meminfo
// (MemAvailable; MemFree + Buffers + Cached on kernels without it). `dir` is /proc, or
// $TASKPOOL_PROC_DIR when set (tests give readings of their own there).
class ProcReadings final : public MachineReadings {
 public:
  explicit ProcReadings(std::string dir) : dir_(std::move(dir)) {}
  std::optional<double> load() override;
  std::optional<uint64_t> available_memory() override;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The readings --load (`load`) and --memfree (`memory`) need, taken once now: throws Error naming
// the flag and the file when one cannot be read.
std::shared_ptr<MachineReadings> open_machine_readings(bool load, bool memory);

}  // namespace taskpool
