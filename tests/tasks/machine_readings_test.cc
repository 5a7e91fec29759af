// The machine's readings from /proc files: the load as GNU parallel counts it, MemAvailable, the
// older kernels' sum, and the error that names a file which cannot be read.
#include "tasks/machine_readings.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/file_io.h"

namespace taskpool {
namespace {

struct ProcDir {
  ProcDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "taskpool-proc-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ProcDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    REQUIRE(write_whole_file(path + "/" + name, text) == 0);
  }
  std::string path;
};

TEST_CASE("the load: running and blocked processes, less the reading thread") {
  const ProcDir dir;
  ProcReadings readings(dir.path);
  CHECK_FALSE(readings.load());  // no file
  dir.write("stat", "cpu  1 2 3\nintr 5 6 7\nprocs_running 4\nprocs_blocked 2\nsoftirq 1\n");
  CHECK(readings.load() == 5.0);
  dir.write("stat", "cpu  1 2 3\nprocs_running 1\n");
  CHECK_FALSE(readings.load());  // procs_blocked missing: unknown, not 0
}

TEST_CASE("the memory available: MemAvailable, else MemFree + Buffers + Cached") {
  const ProcDir dir;
  ProcReadings readings(dir.path);
  dir.write("meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable:     300 kB\n");
  CHECK(readings.available_memory() == 300u * 1024);
  dir.write("meminfo",
            "MemTotal: 1000 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 100 kB\n"
            "SwapCached: 7 kB\n");
  CHECK(readings.available_memory() == 115u * 1024);
}

TEST_CASE("readings that cannot be taken stop the run at the start, naming the file") {
  const ProcDir dir;
  ::setenv("TASKPOOL_PROC_DIR", dir.path.c_str(), 1);
  dir.write("meminfo", "MemAvailable: 300 kB\n");
  CHECK_NOTHROW(open_machine_readings(false, true));
  try {
    open_machine_readings(true, true);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "--load: cannot read the processes running from '" + dir.path +
                                       "/stat' (procs_running, procs_blocked)");
  }
  ::unsetenv("TASKPOOL_PROC_DIR");
}

}  // namespace
}  // namespace taskpool
