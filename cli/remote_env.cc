#include "cli/remote_env.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

#include "core/error.h"
#include "core/file_io.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace taskpool {

namespace {

bool is_name(std::string_view name) {
  if (name.empty() || (std::isdigit(static_cast<unsigned char>(name.front())) != 0)) return false;
  return std::ranges::all_of(
      name, [](char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

std::set<std::string, std::less<>> read_ignored(const std::string& path) {
  std::string text;
  if (const int error = read_whole_file(path, text); error != 0) {
    throw UsageError("--env _: cannot read '" + path + "': " + std::strerror(error) +
                     " (it lists the variables '_' leaves out, one a line: `parallel "
                     "--record-env` writes it, or give the names)");
  }
  std::set<std::string, std::less<>> names;
  for (std::string& line : nonblank_lines(text)) names.insert(std::move(line));
  return names;
}

}  // namespace

EnvVars remote_env(const std::vector<std::string>& names,
                   const std::vector<std::string>& environment,
                   const std::string& ignored_vars_path) {
  EnvVars vars;
  const auto add = [&](const std::string& name, std::string value) {
    if (std::ranges::none_of(vars, [&](const auto& var) { return var.first == name; })) {
      vars.emplace_back(name, std::move(value));
    }
  };
  const auto value_of = [&](std::string_view name) -> const std::string* {
    for (const std::string& entry : environment) {
      if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
        return &entry;
      }
    }
    return nullptr;
  };
  for (const std::string& name : names) {
    if (name == "_") {
      const auto ignored = read_ignored(ignored_vars_path);
      for (const std::string& entry : environment) {
        const std::string var = entry.substr(0, entry.find('='));
        if (is_name(var) && var != "_" && !ignored.contains(var)) {
          add(var, entry.substr(var.size() + 1));
        }
      }
      continue;
    }
    if (!is_name(name)) {
      throw UsageError("--env: '" + name + "' is not a variable name (letters, digits, '_')");
    }
    if (const std::string* entry = value_of(name)) add(name, entry->substr(name.size() + 1));
  }
  return vars;
}

EnvVars remote_env(const std::vector<std::string>& names) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  const char* home = std::getenv("HOME");
  const std::string dir = home != nullptr ? std::string(home) : std::string();
  return remote_env(names, environment, dir + "/.parallel/ignored_vars");
}

}  // namespace taskpool
