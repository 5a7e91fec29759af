// The shell jobs' command lines run in: the caller's, as GNU parallel finds it, when it is bash
// or zsh (so `export -f fn` and bash syntax work in jobs); /bin/sh otherwise.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace taskpool {

// One of taskpool's ancestors (parent first): its argv[0] and its executable (/proc/PID/exe).
struct Ancestor {
  std::string argv0;
  std::string exe;
};

// The shell, from what the environment and the ancestors say, as GNU parallel chooses it:
// $PARALLEL_SHELL as it is; else the nearest ancestor whose argv[0] names a shell (a login
// shell's "-bash" too), else $SHELL; that one when it is bash or zsh, else /bin/sh. `resolve`
// finds a program's path on PATH (nullopt: not there).
std::string choose_shell(
    const std::optional<std::string>& parallel_shell, const std::vector<Ancestor>& ancestors,
    const std::optional<std::string>& shell_variable,
    const std::function<std::optional<std::string>(const std::string&)>& resolve);

// choose_shell() for this process: its environment, its ancestors from /proc, its PATH.
std::string caller_shell();

}  // namespace taskpool
