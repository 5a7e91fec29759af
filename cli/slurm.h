// --slurm and --slurm-alloc: the nodes of a Slurm allocation as the run's hosts, each reached
// through one `srun ... taskpool agent` step (see README, "On a Slurm cluster").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"

namespace taskpool {

// SLURM_JOB_CPUS_PER_NODE as Slurm writes it: "2(x3),1" is 2, 2, 2, 1. Throws Error.
std::vector<int> parse_cpus_per_node(std::string_view text);

// How many CPUs a CPU_IDs list of `scontrol show job -d` names: "0-1,4" is 3. Throws Error.
int count_cpu_ids(std::string_view list);

// The node list and the per-node CPU lines of `scontrol show job -d`: NodeList=EXPR, and each
// "Nodes=EXPR CPU_IDs=LIST" as (EXPR, CPUs of each of those nodes). Throws Error naming `job`.
struct JobNodes {
  std::string node_list;
  std::vector<std::pair<std::string, int>> cpus;
};
JobNodes parse_job_detail(std::string_view text, const std::string& job);

// The step that runs a node's agent: srun in the job, on that node alone, with all its CPUs.
std::vector<std::string> agent_step(const std::string& srun, const std::string& job,
                                    const std::string& node, int cpus, const std::string& self,
                                    Duration heartbeat);

// The allocation of a --slurm or --slurm-alloc run, from open() to its end: with --slurm-alloc
// it was taken by open() and is released (scancel) by release() or the destructor, whatever ends
// the run (its end, Ctrl-C, --deadline, an error).
class SlurmSession {
 public:
  // Fills config.hosts (one per node; -j, else the node's CPUs, its workers) and
  // config.agent_commands. Throws Error naming the problem: not inside an allocation, srun or
  // salloc missing, an allocation refused.
  static std::optional<SlurmSession> open(RunConfig& config);
  ~SlurmSession();
  SlurmSession(SlurmSession&& other) noexcept;
  SlurmSession& operator=(SlurmSession&&) = delete;
  SlurmSession(const SlurmSession&) = delete;
  SlurmSession& operator=(const SlurmSession&) = delete;

  void release();
  const std::string& job() const { return job_; }

 private:
  SlurmSession(std::string job, bool owned) : job_(std::move(job)), owned_(owned) {}
  std::string job_;
  bool owned_ = false;  // taken by --slurm-alloc: released at the end
};

}  // namespace taskpool
