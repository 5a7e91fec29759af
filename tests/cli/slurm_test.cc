#include "cli/slurm.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace taskpool {
namespace {

TEST_CASE("SLURM_JOB_CPUS_PER_NODE: counts, repeated with (xN)") {
  CHECK(parse_cpus_per_node("4") == std::vector<int>{4});
  CHECK(parse_cpus_per_node("2(x3),1") == std::vector<int>{2, 2, 2, 1});
  CHECK(parse_cpus_per_node("1,32(x2)") == std::vector<int>{1, 32, 32});
  for (const char* bad : {"", "0", "x", "2(x0)", "2(x", "2(3)", "2,", ",2", "-1", "2(x2)x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_cpus_per_node(bad), Error);
  }
  CHECK_THROWS_WITH(parse_cpus_per_node("2(y3)"),
                    "SLURM_JOB_CPUS_PER_NODE: '2(y3)' is not a list such as 2(x3),1");
}

TEST_CASE("scontrol's CPU_IDs lists") {
  CHECK(count_cpu_ids("0") == 1);
  CHECK(count_cpu_ids("0-1,4") == 3);
  CHECK(count_cpu_ids("2-5,8-9") == 6);
  for (const char* bad : {"", "a", "3-1", "1-", "1,,2"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(count_cpu_ids(bad), Error);
  }
}

TEST_CASE("scontrol show job -d: the node list and each node group's CPUs") {
  const std::string detail =
      "JobId=7 JobName=no-shell\n"
      "   NodeList=n[1-3]\n"
      "   BatchHost=n1\n"
      "   NumNodes=3 NumCPUs=5 NumTasks=3 CPUs/Task=1 ReqB:S:C:T=0:0:*:*\n"
      "     Nodes=n[1-2] CPU_IDs=0-1 Mem=0 GRES=\n"
      "     Nodes=n3 CPU_IDs=0 Mem=0 GRES=\n"
      "   MinCPUsNode=1 MinMemoryNode=0\n";
  const JobNodes nodes = parse_job_detail(detail, "7");
  CHECK(nodes.node_list == "n[1-3]");
  REQUIRE(nodes.cpus.size() == 2);
  CHECK(nodes.cpus[0] == std::pair<std::string, int>{"n[1-2]", 2});
  CHECK(nodes.cpus[1] == std::pair<std::string, int>{"n3", 1});
  CHECK_THROWS_WITH(parse_job_detail("JobId=7\n   NodeList=(null)\n", "7"),
                    "--slurm-alloc: job 7 has no nodes (scontrol show job -d 7)");
}

TEST_CASE("the agent's step: one task on one node, all its CPUs, kept when a node fails") {
  CHECK(agent_step("/usr/bin/srun", "42", "n2", 8, "/opt/bin/taskpool",
                   std::chrono::milliseconds(500)) ==
        std::vector<std::string>{"/usr/bin/srun", "--jobid=42", "-N1", "-n1", "-w", "n2",
                                 "--exclusive", "-c", "8", "--no-kill", "-u", "/opt/bin/taskpool",
                                 "agent", "--heartbeat", "0.5s"});
}

}  // namespace
}  // namespace taskpool
