#include "cli/limits.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cli/live.h"
#include "cli/progress.h"

namespace taskpool {
namespace {

uint64_t open_descriptors() {
  // Since Linux 6.2 the directory's size is the number of open descriptors: one stat, where
  // reading it cost a one-job run 3% of its time (the kernel makes an entry for each).
  struct stat fds = {};
  if (stat("/proc/self/fd", &fds) == 0 && fds.st_size > 0)
    return static_cast<uint64_t>(fds.st_size);
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 3;
  uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;  // not the directory's own
}

// RLIMIT_NOFILE as Limits counts it: kUnlimited for RLIM_INFINITY, or when it cannot be read.
void read_open_files(Limits& limits) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const auto value = [](rlim_t v) { return v == RLIM_INFINITY ? Limits::kUnlimited : v; };
  limits.open_files_soft = value(limit.rlim_cur);
  limits.open_files_hard = value(limit.rlim_max);
}

}  // namespace

Limits read_limits() {
  Limits limits;
  read_open_files(limits);
  limits.open_files_now = open_descriptors();
  const long arg_max = sysconf(_SC_ARG_MAX);
  if (arg_max > 0) limits.arg_max = static_cast<size_t>(arg_max);
  for (char** e = environ; *e != nullptr; ++e) {
    limits.environment_bytes += std::strlen(*e) + 1 + sizeof(char*);
  }
  limits.stderr_smart_terminal = is_smart_terminal(STDERR_FILENO);
  limits.cpus = static_cast<unsigned>(cpu_count());
  return limits;
}

bool raise_open_files(uint64_t soft) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  limit.rlim_cur = soft == Limits::kUnlimited ? RLIM_INFINITY : soft;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

int fit_workers(uint64_t per_job, int wanted, size_t running) {
  Limits limits;
  read_open_files(limits);
  if (per_job == 0 || limits.open_files_soft == Limits::kUnlimited) return wanted;
  const uint64_t open = open_descriptors();
  const uint64_t held = per_job * running;
  const uint64_t base = (open > held ? open - held : 0) + kReservedDescriptors;
  const uint64_t needed = base + per_job * static_cast<uint64_t>(wanted);
  uint64_t soft = soft_limit_for(needed, limits.open_files_soft, limits.open_files_hard);
  if (soft != limits.open_files_soft && !raise_open_files(soft)) soft = limits.open_files_soft;
  if (soft == Limits::kUnlimited || soft >= needed) return wanted;
  // Of the descriptors open now, the running jobs' are counted in `base` already: a rough
  // bound, on the safe side.
  return static_cast<int>(
      std::clamp<uint64_t>(jobs_that_fit(soft, base, per_job), 1, static_cast<uint64_t>(wanted)));
}

}  // namespace taskpool
