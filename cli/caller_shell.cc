#include "cli/caller_shell.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

#include "core/file_io.h"
#include "tasks/program_path.h"
#include "tasks/spawn.h"

namespace taskpool {
namespace {

// The shells GNU parallel recognizes among its ancestors.
constexpr std::array<std::string_view, 17> kShells = {
    "ash",   "bash", "csh",   "dash", "fish", "ksh",  "ksh93", "lksh", "mksh",
    "pdksh", "posh", "rbash", "rc",   "sh",   "tcsh", "yash",  "zsh"};

std::string_view base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_shell_name(std::string_view name) {
  return std::find(kShells.begin(), kShells.end(), name) != kShells.end();
}

// The shell argv[0] names: "bash", "/bin/zsh", a login shell's "-bash"; empty when none.
std::string_view shell_named(std::string_view argv0) {
  if (argv0.starts_with('-')) argv0.remove_prefix(1);
  return is_shell_name(base_name(argv0)) ? argv0 : std::string_view();
}

// The shells whose syntax is a superset of sh's and whose quoting taskpool's quoting suits.
bool adopted(std::string_view path) {
  const std::string_view name = base_name(path);
  return name == "bash" || name == "zsh";
}

std::optional<Ancestor> read_ancestor(pid_t pid, pid_t& parent) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::string cmdline;
  std::string stat;
  if (read_whole_file(proc + "/cmdline", cmdline, 4096) != 0 ||
      read_whole_file(proc + "/stat", stat, 4096) != 0) {
    return std::nullopt;
  }
  // The parent's pid is the second field after the command's name in parentheses.
  const size_t name_end = stat.rfind(')');
  parent = 0;
  if (name_end != std::string::npos) {
    const size_t field = stat.find(' ', name_end + 2);
    if (field != std::string::npos) parent = std::atoi(stat.c_str() + field + 1);
  }
  Ancestor ancestor{cmdline.substr(0, cmdline.find('\0')), ""};
  std::array<char, 4096> exe{};
  const ssize_t n = ::readlink((proc + "/exe").c_str(), exe.data(), exe.size() - 1);
  if (n > 0) ancestor.exe.assign(exe.data(), static_cast<size_t>(n));
  return ancestor;
}

}  // namespace

std::string choose_shell(
    const std::optional<std::string>& parallel_shell, const std::vector<Ancestor>& ancestors,
    const std::optional<std::string>& shell_variable,
    const std::function<std::optional<std::string>(const std::string&)>& resolve) {
  if (parallel_shell && !parallel_shell->empty()) return *parallel_shell;
  std::optional<std::string> found;
  for (const Ancestor& ancestor : ancestors) {
    const std::string_view named = shell_named(ancestor.argv0);
    if (named.empty()) continue;
    // Its executable tells which shell it is (sh may be dash or bash); else the name it goes by.
    if (is_shell_name(base_name(ancestor.exe))) {
      found = ancestor.exe;
    } else if (named.find('/') != std::string_view::npos) {
      found = std::string(named);
    } else {
      found = resolve(std::string(named));
    }
    break;
  }
  if (!found && shell_variable && !shell_variable->empty()) found = *shell_variable;
  return found && adopted(*found) ? *found : "/bin/sh";
}

std::string caller_shell() {
  const char* parallel_shell = std::getenv("PARALLEL_SHELL");
  const char* shell = std::getenv("SHELL");
  std::vector<Ancestor> ancestors;
  pid_t pid = getppid();
  // Up to the nearest shell: the ones above it are not asked about.
  for (int depth = 0; pid > 1 && depth < 64 && parallel_shell == nullptr; ++depth) {
    pid_t parent = 0;
    std::optional<Ancestor> ancestor = read_ancestor(pid, parent);
    if (!ancestor) break;
    const bool is_shell = !shell_named(ancestor->argv0).empty();
    ancestors.push_back(std::move(*ancestor));
    if (is_shell) break;
    pid = parent;
  }
  ProgramPath programs(search_path());
  return choose_shell(parallel_shell ? std::optional<std::string>(parallel_shell) : std::nullopt,
                      ancestors, shell ? std::optional<std::string>(shell) : std::nullopt,
                      [&programs](const std::string& name) { return programs.resolve(name); });
}

}  // namespace taskpool
