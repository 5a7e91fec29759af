#include "cli/remote_env.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/unique_fd.h"

namespace taskpool {
namespace {

std::vector<std::string> environment() {
  return {"HOME=/root", "A=1", "B=two words", "EMPTY=", "_=/usr/bin/env", "weird-name=x"};
}

TEST_CASE("--env names: their values here, in the order given, each once; unset ones left out") {
  const EnvVars vars = remote_env({"B", "A", "UNSET", "B", "EMPTY"}, environment(), "/nonexistent");
  CHECK(vars == EnvVars{{"B", "two words"}, {"A", "1"}, {"EMPTY", ""}});
}

TEST_CASE("--env refuses a name that is not a variable's") {
  CHECK_THROWS_AS(remote_env({"A-B"}, environment(), "/nonexistent"), UsageError);
  CHECK_THROWS_AS(remote_env({"1A"}, environment(), "/nonexistent"), UsageError);
  CHECK_THROWS_AS(remote_env({""}, environment(), "/nonexistent"), UsageError);
}

TEST_CASE("--env _: everything but the ignored variables, '_' and names no shell takes") {
  char path[] = "/tmp/taskpool-ignored-XXXXXX";
  REQUIRE(UniqueFd(mkstemp(path)).valid());
  REQUIRE(write_whole_file(path, "HOME\nB  \n\n") == 0);
  const EnvVars vars = remote_env({"_"}, environment(), path);
  CHECK(vars == EnvVars{{"A", "1"}, {"EMPTY", ""}});
  std::remove(path);
  CHECK_THROWS_WITH_AS(remote_env({"_"}, environment(), "/nonexistent/ignored_vars"),
                       doctest::Contains("--env _: cannot read '/nonexistent/ignored_vars'"),
                       UsageError);
}

}  // namespace
}  // namespace taskpool
