// The agent executor with real agents on this machine: `taskpool agent` ($TASKPOOL, set by
// ctest), each started through /bin/sh as srun or ssh would start one elsewhere.
#include "tasks/agent_executor.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/tasks/executor_test_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

std::string taskpool_program() {
  const char* path = std::getenv("TASKPOOL");
  REQUIRE_MESSAGE(path != nullptr, "TASKPOOL names the taskpool program (ctest sets it)");
  return path;
}

AgentExecutorOptions local_nodes(int nodes, int workers_each) {
  AgentExecutorOptions options;
  for (int n = 0; n < nodes; ++n) {
    options.nodes.push_back(
        AgentNode{"node" + std::to_string(n + 1),
                  {"/bin/sh", "-c", "exec \"$0\" agent --heartbeat 0.2s", taskpool_program()}});
    for (int w = 0; w < workers_each; ++w) options.worker_node.push_back(n);
  }
  options.heartbeat_timeout = 5s;  // generous: a loaded machine may stall an agent a while
  return options;
}

Attempt attempt_on(WorkerId worker, std::string line, std::vector<std::string> argv = {}) {
  Attempt attempt;
  attempt.worker = worker;
  attempt.command = Command(std::move(line), std::move(argv));
  return attempt;
}

std::vector<Completion> collect(AgentExecutor& executor, size_t count, Duration limit = 30s) {
  std::vector<Completion> done;
  const TimePoint deadline = std::chrono::steady_clock::now() + limit;
  while (done.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (Completion& c : executor.wait(deadline).completions) done.push_back(std::move(c));
  }
  REQUIRE(done.size() == count);
  return done;
}

std::string captured(const std::unique_ptr<OutputBuffer>& buffer) {
  std::string all;
  if (buffer) buffer->for_each_chunk([&](std::string_view chunk) { all += chunk; });
  return all;
}

TEST_CASE("agent executor: jobs run on their worker's node with their output and status") {
  testing::SignalSetup signals;
  AgentExecutor executor(local_nodes(2, 2), signals.original());
  std::string record;
  for (int c = 1; c < 256; ++c) record.push_back(static_cast<char>(c));
  executor.start(attempt_on(1, "printf %s \"$X\"; exit 3"));
  executor.start(attempt_on(2, "printf", {"printf", "%s", record}));
  executor.start(attempt_on(3, "echo err >&2; kill -9 $$"));
  executor.start(attempt_on(4, "nosuchprogram-xyz", {"nosuchprogram-xyz"}));
  std::map<WorkerId, Completion> by_worker;
  for (Completion& c : collect(executor, 4)) by_worker[c.worker] = std::move(c);
  CHECK(by_worker[1].exit_status == 3);
  CHECK(by_worker[2].succeeded());
  CHECK(captured(by_worker[2].detail.stdout_data) == record);
  CHECK(by_worker[2].detail.stdout_bytes == record.size());
  CHECK(by_worker[3].signal == SIGKILL);
  CHECK(captured(by_worker[3].detail.stderr_data) == "err\n");
  CHECK_FALSE(by_worker[4].started);
  CHECK(by_worker[4].exit_status == 127);
  CHECK(by_worker[4].error.find("command not found") != std::string::npos);
  for (auto& [worker, c] : by_worker) CHECK(c.end >= c.start);
  CHECK(executor.down_nodes().empty());
}

TEST_CASE("agent executor: a cancelled job's process group ends") {
  testing::SignalSetup signals;
  AgentExecutor executor(local_nodes(1, 1), signals.original());
  executor.start(attempt_on(1, "sleep 60 & sleep 60; wait"));
  CHECK(executor.wait(std::chrono::steady_clock::now() + 300ms).completions.empty());
  const auto begun = std::chrono::steady_clock::now();
  executor.cancel(1, CancelMode::kTerminate);
  const auto done = collect(executor, 1);
  CHECK(done[0].signal == SIGTERM);
  CHECK(std::chrono::steady_clock::now() - begun < 20s);
}

TEST_CASE("agent executor: a killed agent's node is lost, its jobs come back not run") {
  testing::SignalSetup signals;
  AgentExecutor executor(local_nodes(2, 1), signals.original());
  executor.start(attempt_on(1, "sleep 60"));
  executor.start(attempt_on(2, "sleep 0.3; echo fine"));
  CHECK(executor.wait(std::chrono::steady_clock::now() + 100ms).completions.empty());
  const pid_t first = executor.agent_pids().at(0);
  REQUIRE(first > 0);
  REQUIRE(kill(first, SIGKILL) == 0);
  auto done = collect(executor, 2);
  std::ranges::sort(done, {}, &Completion::worker);
  CHECK(done[0].never_ran);
  CHECK(done[0].lost_worker);
  CHECK_FALSE(done[0].started);
  CHECK(done[0].error.find("node1 was lost") != std::string::npos);
  CHECK(done[1].succeeded());
  CHECK(captured(done[1].detail.stdout_data) == "fine\n");
  REQUIRE(executor.down_nodes().size() == 1);
  CHECK(executor.down_nodes()[0].node == "node1");
  // Later starts there come back at once.
  executor.start(attempt_on(1, "true"));
  const auto again = collect(executor, 1, 1s);
  CHECK(again[0].never_ran);
}

TEST_CASE("agent executor: a silent agent is lost after the heartbeat timeout") {
  testing::SignalSetup signals;
  AgentExecutorOptions options = local_nodes(1, 1);
  options.nodes[0].command = {"/bin/sh", "-c", "exec sleep 60"};  // never says hello
  options.start_timeout = 500ms;
  std::vector<std::string> said;
  options.on_node_down = [&](const std::string& node, const std::string& reason) {
    said.push_back(node + ": " + reason);
  };
  AgentExecutor executor(options, signals.original());
  executor.start(attempt_on(1, "true"));
  const auto begun = std::chrono::steady_clock::now();
  const auto done = collect(executor, 1);
  CHECK(done[0].never_ran);
  CHECK(std::chrono::steady_clock::now() - begun >= 400ms);
  REQUIRE(said.size() == 1);
  CHECK(said[0].starts_with("node1: its agent has said nothing for"));
}

TEST_CASE("agent executor: a missing agent program is an error naming it") {
  testing::SignalSetup signals;
  AgentExecutorOptions options = local_nodes(1, 1);
  options.nodes[0].command = {"no-such-srun-xyz", "agent"};
  CHECK_THROWS_WITH(AgentExecutor(options, signals.original()),
                    "no-such-srun-xyz: command not found");
}

}  // namespace
}  // namespace taskpool
