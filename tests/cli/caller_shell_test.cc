#include "cli/caller_shell.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace taskpool {
namespace {

std::optional<std::string> on_path(const std::string& name) {
  if (name == "bash" || name == "zsh" || name == "dash" || name == "fish")
    return "/usr/bin/" + name;
  return std::nullopt;
}

std::string chosen(const std::vector<Ancestor>& ancestors,
                   const std::optional<std::string>& parallel_shell = std::nullopt,
                   const std::optional<std::string>& shell_variable = std::nullopt) {
  return choose_shell(parallel_shell, ancestors, shell_variable, on_path);
}

TEST_CASE("the nearest shell among the ancestors runs the jobs when it is bash or zsh") {
  CHECK(chosen({{"make", "/usr/bin/make"}, {"bash", "/usr/bin/bash"}}) == "/usr/bin/bash");
  CHECK(chosen({{"-zsh", "/usr/bin/zsh"}}) == "/usr/bin/zsh");  // a login shell
  CHECK(chosen({{"/bin/bash", ""}}) == "/bin/bash");            // its exe not readable
  CHECK(chosen({{"bash", ""}}) == "/usr/bin/bash");             // found on PATH then
  // The nearest one counts: bash started from zsh.
  CHECK(chosen({{"bash", "/usr/bin/bash"}, {"zsh", "/usr/bin/zsh"}}) == "/usr/bin/bash");
}

TEST_CASE("other shells, and sh whatever it is, leave /bin/sh") {
  CHECK(chosen({{"dash", "/usr/bin/dash"}, {"bash", "/usr/bin/bash"}}) == "/bin/sh");
  CHECK(chosen({{"sh", "/usr/bin/dash"}}) == "/bin/sh");
  CHECK(chosen({{"fish", "/usr/bin/fish"}}) == "/bin/sh");
  // sh that is bash is bash (its executable says so).
  CHECK(chosen({{"sh", "/usr/bin/bash"}}) == "/usr/bin/bash");
  // Names that only look like shells are not shells.
  CHECK(chosen({{"sshd", "/usr/sbin/sshd"}, {"bash.sh", ""}}, std::nullopt, "/bin/dash") ==
        "/bin/sh");
}

TEST_CASE("$SHELL counts only without a shell among the ancestors; $PARALLEL_SHELL always") {
  CHECK(chosen({{"python3", "/usr/bin/python3.11"}}, std::nullopt, "/bin/zsh") == "/bin/zsh");
  CHECK(chosen({}, std::nullopt, "/bin/tcsh") == "/bin/sh");
  CHECK(chosen({{"dash", "/usr/bin/dash"}}, std::nullopt, "/bin/bash") == "/bin/sh");
  CHECK(chosen({{"bash", "/usr/bin/bash"}}, "/bin/sh") == "/bin/sh");
  CHECK(chosen({}, "/opt/bin/ksh") == "/opt/bin/ksh");
  CHECK(chosen({{"bash", "/usr/bin/bash"}}, "") == "/usr/bin/bash");  // empty: not set
}

}  // namespace
}  // namespace taskpool
