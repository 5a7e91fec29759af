// --env: the variables copied into the environment of the commands run on other machines.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace taskpool {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// The variables `names` (--env values) name, with their values here, in the order given and
// each once; a name not set here is left out (the host keeps its own, as GNU parallel). '_'
// stands for every variable set here whose name is not listed in `ignored_vars_path` (one
// name a line, as `parallel --record-env` writes it). `environment` is environ's form
// (NAME=VALUE). Throws UsageError for a name that is not a shell variable's, or when '_' is
// given and the file cannot be read.
EnvVars remote_env(const std::vector<std::string>& names,
                   const std::vector<std::string>& environment,
                   const std::string& ignored_vars_path);

// remote_env() of this process's environment and ~/.parallel/ignored_vars.
EnvVars remote_env(const std::vector<std::string>& names);

}  // namespace taskpool
