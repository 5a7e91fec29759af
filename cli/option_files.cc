#include "cli/option_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "cli/live.h"
#include "core/error.h"

namespace taskpool {

void resolve_jobs(const std::string& value, RunConfig& config) {
  if (std::optional<int> jobs = parse_jobs_value(value, cpu_count())) {
    config.jobs = *jobs;
    return;
  }
  if (value.empty() || ::access(value.c_str(), F_OK) != 0) {
    throw UsageError("-j/--jobs: '" + value + "' is not a number of workers (" + kJobsForms +
                     ") nor a file that holds one");
  }
  try {
    config.jobs = read_jobs_file(value);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());  // cannot be read: a bad -j value like any other
  }
  config.jobs_file = value;
}

void add_host_files(const std::vector<std::string>& files, std::vector<SshLogin>& hosts) {
  for (const std::string& file : files) {
    for (SshLogin& login : read_sshlogin_file(file)) hosts.push_back(std::move(login));
  }
  hosts = without_duplicates(std::move(hosts));
}

void check_readable(const char* flag, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    throw UsageError(std::string(flag) + ": cannot read '" + path + "': " + std::strerror(errno));
  }
}

}  // namespace taskpool
