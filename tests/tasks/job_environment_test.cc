#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tasks/spawn.h"

namespace taskpool {
namespace {

std::vector<std::string> entries_starting(char* const* envp, const std::string& prefix) {
  std::vector<std::string> found;
  for (; *envp != nullptr; ++envp) {
    if (std::string(*envp).starts_with(prefix)) found.emplace_back(*envp);
  }
  return found;
}

TEST_CASE("a job's environment has its number, its worker and taskpool's pid, once each") {
  REQUIRE(setenv("PARALLEL_SEQ", "99", 1) == 0);  // a taskpool inside a job
  REQUIRE(setenv("TASKPOOL_JOB_ENVIRONMENT_TEST", "kept", 1) == 0);
  JobEnvironment environment;
  char* const* envp = environment.get(7, 2);
  CHECK(entries_starting(envp, "PARALLEL_SEQ=") == std::vector<std::string>{"PARALLEL_SEQ=7"});
  CHECK(entries_starting(envp, "PARALLEL_JOBSLOT=") ==
        std::vector<std::string>{"PARALLEL_JOBSLOT=2"});
  CHECK(entries_starting(envp, "PARALLEL_PID=") ==
        std::vector<std::string>{"PARALLEL_PID=" + std::to_string(getpid())});
  CHECK(entries_starting(envp, "TASKPOOL_JOB_ENVIRONMENT_TEST=").size() == 1);
  envp = environment.get(18446744073709551615ULL, 1000);
  CHECK(entries_starting(envp, "PARALLEL_SEQ=") ==
        std::vector<std::string>{"PARALLEL_SEQ=18446744073709551615"});
  CHECK(entries_starting(envp, "PARALLEL_JOBSLOT=") ==
        std::vector<std::string>{"PARALLEL_JOBSLOT=1000"});
  unsetenv("PARALLEL_SEQ");
  unsetenv("TASKPOOL_JOB_ENVIRONMENT_TEST");
}

}  // namespace
}  // namespace taskpool
