// Finding a program on PATH once, not once per job.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace taskpool {

// Resolves program names the way the shell does: a name with a '/' is used as it is; otherwise
// the first PATH entry (empty entry: the current directory) holding a regular, executable file.
// Caches results (a bounded number of names). Not thread-safe.
class ProgramPath {
 public:
  explicit ProgramPath(std::string path_env);  // the value of $PATH
  // The path to exec, or nullopt when not found (the caller lets the shell report it).
  std::optional<std::string> resolve(const std::string& name);

 private:
  std::string path_env_;
  std::unordered_map<std::string, std::optional<std::string>> cache_;
};

// This process's own program (where /proc/self/exe leads), or "" when that cannot be read.
std::string own_program();
// The program `name` in the directory of this process's own (taskpool-serve and taskpool-guard
// are installed beside taskpool), or "" when that cannot be read.
std::string program_beside_own(std::string_view name);

}  // namespace taskpool
