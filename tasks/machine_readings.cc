#include "tasks/machine_readings.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"

namespace taskpool {
namespace {

// /proc/stat holds a line per CPU and the interrupts' counts: a few KiB, more on big machines.
constexpr size_t kMostRead = 4 << 20;

// The number after `key` at the start of a line of `text` (its first word after the key).
std::optional<uint64_t> field(std::string_view text, std::string_view key) {
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(key)) continue;
    line.remove_prefix(key.size());
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) return std::nullopt;
    line.remove_prefix(first);
    return parse_whole_number(line.substr(0, line.find_first_of(" \t")));
  }
  return std::nullopt;
}

std::optional<std::string> read_text(const std::string& path) {
  std::string text;
  if (read_whole_file(path, text, kMostRead) != 0) return std::nullopt;
  return text;
}

}  // namespace

std::optional<double> ProcReadings::load() {
  const std::optional<std::string> text = read_text(dir_ + "/stat");
  if (!text) return std::nullopt;
  const std::optional<uint64_t> running = field(*text, "procs_running");
  const std::optional<uint64_t> blocked = field(*text, "procs_blocked");
  if (!running || !blocked) return std::nullopt;
  // The thread reading is running: it is not the load.
  return static_cast<double>(*running + *blocked - std::min<uint64_t>(*running, 1));
}

std::optional<uint64_t> ProcReadings::available_memory() {
  const std::optional<std::string> text = read_text(dir_ + "/meminfo");
  if (!text) return std::nullopt;
  if (const std::optional<uint64_t> available = field(*text, "MemAvailable:")) {
    return *available * 1024;
  }
  const std::optional<uint64_t> free = field(*text, "MemFree:");
  if (!free) return std::nullopt;
  return (*free + field(*text, "Buffers:").value_or(0) + field(*text, "Cached:").value_or(0)) *
         1024;
}

std::shared_ptr<MachineReadings> open_machine_readings(bool load, bool memory) {
  const char* dir = std::getenv("TASKPOOL_PROC_DIR");
  auto readings = std::make_shared<ProcReadings>(dir != nullptr && *dir != '\0' ? dir : "/proc");
  if (load && !readings->load()) {
    throw Error("--load: cannot read the processes running from '" + readings->dir() +
                "/stat' (procs_running, procs_blocked)");
  }
  if (memory && !readings->available_memory()) {
    throw Error("--memfree: cannot read the memory available from '" + readings->dir() +
                "/meminfo' (MemAvailable)");
  }
  return readings;
}

}  // namespace taskpool
