#include "tasks/remote_steps.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace taskpool {
namespace {

std::pair<std::string, std::string> where(std::string_view path) {
  const TransferPath p = transfer_path(path);
  return {p.here, p.there};
}

TEST_CASE("transfer paths follow GNU parallel's /./ rule") {
  using P = std::pair<std::string, std::string>;
  CHECK(where("tmp/foo/bar") == P{"tmp/foo/bar", "tmp/foo/bar"});
  CHECK(where("/tmp/foo/bar") == P{"/tmp/foo/bar", "/tmp/foo/bar"});
  CHECK(where("/tmp/./foo/bar") == P{"/tmp/./foo/bar", "foo/bar"});
  CHECK(where("tmp/./foo/bar") == P{"tmp/./foo/bar", "foo/bar"});
  CHECK(where("./foo") == P{"./foo", "foo"});
  CHECK(where("a/./b/./c") == P{"a/./b/./c", "b/./c"});
}

TEST_CASE("env_exports quotes each value once, in order") {
  CHECK(env_exports({}).empty());
  CHECK(env_exports({{"A", "1"}, {"B", "it's $x"}}) == "export A=1; export B='it'\"'\"'s $x'; ");
  CHECK(env_exports({{"E", ""}}) == "export E=''; ");
}

TEST_CASE("file steps only when the command has files to move") {
  Command command("echo x");
  CHECK_FALSE(has_file_steps(command));
  command.return_files = {"x.out"};
  CHECK(has_file_steps(command));
}

TEST_CASE("the attempt script names the file and the host when a file is missing") {
  Command command("cat missing");
  command.send_files = {"/nonexistent/taskpool-test/missing"};
  HostSteps steps;
  steps.ssh = {"/usr/bin/ssh", "-p", "22", "host"};
  steps.host = "alice@host";
  const std::string script = attempt_script(command, steps, "REMOTE");
  CHECK(script.find("fail '--transferfile: cannot send '\"'\"'/nonexistent/taskpool-test/missing"
                    "'\"'\"' to alice@host: No such file or directory'") != std::string::npos);
  CHECK(script.find("/usr/bin/ssh -p 22 host REMOTE; s=$?") != std::string::npos);
  CHECK(script.ends_with("exit \"$s\"\n"));
}

}  // namespace
}  // namespace taskpool
