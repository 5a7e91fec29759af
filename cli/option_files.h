// The files flags name, read while the command line is parsed: -j FILE, --sshloginfile, --cacert.
// Kept out of the flag declarations (cli/options.cc) and of the pure value parsers; errors are
// UsageErrors that name the flag and the file.
#pragma once

#include <string>
#include <vector>

#include "cli/option_flags.h"
#include "cli/options.h"
#include "tasks/sshlogin.h"

namespace taskpool {

// -j: a number of workers, or a file that holds one (config.jobs_file: read again during the
// run). Sets config.jobs and, for a file, config.jobs_file.
void resolve_jobs(const std::string& value, RunConfig& config);

// Adds the hosts the --sshloginfile files list to `hosts` (those of -S), then drops the hosts
// listed twice.
void add_host_files(const std::vector<std::string>& files, std::vector<SshLogin>& hosts);

// Throws unless the file at `path` can be read (checked now, not after the run has begun).
void check_readable(const char* flag, const std::string& path);

}  // namespace taskpool
