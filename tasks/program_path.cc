#include "tasks/program_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>
#include <utility>

namespace taskpool {

namespace {

// Enough for any real command mix; a run over ever-new names must not grow without bound.
constexpr size_t kCacheLimit = 1024;

bool is_executable_file(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  // AT_EACCESS: exec checks the effective ids, not the real ones that plain access() uses.
  return faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) == 0;
}

std::optional<std::string> search(std::string_view path_env, const std::string& name) {
  std::string candidate;
  for (;;) {
    const size_t colon = path_env.find(':');
    std::string_view dir = path_env.substr(0, colon);
    if (dir.empty()) dir = ".";  // as in the shell, an empty entry is the current directory
    candidate.assign(dir);
    candidate += '/';
    candidate += name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    path_env.remove_prefix(colon + 1);
  }
}

}  // namespace

ProgramPath::ProgramPath(std::string path_env) : path_env_(std::move(path_env)) {}

std::optional<std::string> ProgramPath::resolve(const std::string& name) {
  // As in the shell: a name with a slash is a path, and exec reports what is wrong with it.
  if (name.find('/') != std::string::npos) return name;
  if (name.empty()) return std::nullopt;
  if (const auto it = cache_.find(name); it != cache_.end()) return it->second;
  if (cache_.size() >= kCacheLimit) cache_.clear();
  return cache_.emplace(name, search(path_env_, name)).first->second;
}

std::string own_program() {
  std::string self(4096, '\0');
  const ssize_t length = readlink("/proc/self/exe", self.data(), self.size());
  if (length <= 0 || static_cast<size_t>(length) >= self.size()) return "";
  self.resize(static_cast<size_t>(length));
  return self;
}

std::string program_beside_own(std::string_view name) {
  const std::string self = own_program();
  if (self.empty()) return "";
  return self.substr(0, self.rfind('/') + 1).append(name);
}

}  // namespace taskpool
