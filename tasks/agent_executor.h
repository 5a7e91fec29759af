// Runs each attempt on its worker's node, through a `taskpool agent` there (core/agent_frame.h).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/agent_frame.h"
#include "core/executor.h"
#include "tasks/process_executor.h"
#include "tasks/wake_fd.h"

namespace taskpool {

// A node, and the command that starts an agent there, its stdin and stdout the agent's stream:
// `srun ... -w NODE taskpool agent`, `ssh HOST taskpool agent`, or `taskpool agent` here.
struct AgentNode {
  std::string name;  // for messages and the joblog's Host column
  std::vector<std::string> command;
};

struct AgentExecutorOptions {
  std::vector<AgentNode> nodes;
  std::vector<int> worker_node;  // worker - 1 -> index into nodes
  // A node whose agent has said nothing for this long is lost (it sends a heartbeat every
  // 0.5 s by default).
  Duration heartbeat_timeout = std::chrono::seconds(3);
  // Until an agent's first word: starting one (an srun step, an ssh login) takes longer.
  Duration start_timeout = std::chrono::seconds(60);
  // Called (inside wait()) when a node is lost.
  std::function<void(const std::string& node, const std::string& reason)> on_node_down;
  // kCapture: into each completion's OutputBuffers (memory_limit each); kLines: through
  // on_output, when the attempt ends; kDiscard: dropped.
  OutputMode output = OutputMode::kCapture;
  std::function<void(WorkerId, Stream, std::string_view)> on_output;
  size_t memory_limit = 256 * 1024;
  int wake_fd = -1;  // as ProcessExecutorOptions::wake_fd
};

// One agent process per node, started at construction, all at once; each has one socket for its
// stdin and stdout. Attempts go to the agent of their worker's node as 'S' frames; their output
// and ends come back as 'O' and 'D' frames. An attempt's times are this machine's: from its
// start() to the arrival of its end, less the time the agent did not run it.
//
// A node is lost when its agent ends, breaks the protocol, or is silent past heartbeat_timeout
// (start_timeout before its hello): its running attempts come back `never_ran` and
// `lost_worker` (the jobs run elsewhere, and the attempt does not count), later starts there
// too, and its agent gets SIGTERM (its process group; srun then ends its step), SIGKILL when the
// executor goes.
//
// Signals: as ProcessExecutor (the caller blocks SIGCHLD and passes the mask from before). Agents
// get SIGKILL when taskpool dies (PR_SET_PDEATHSIG). Not thread-safe, except wake().
class AgentExecutor final : public Executor {
 public:
  // Throws Error when an agent's program cannot be found.
  AgentExecutor(AgentExecutorOptions options, const sigset_t& original_mask);
  ~AgentExecutor() override;  // ends the agents (the end of their input), then kills them
  AgentExecutor(const AgentExecutor&) = delete;
  AgentExecutor& operator=(const AgentExecutor&) = delete;

  void start(const Attempt& attempt) override;
  void cancel(WorkerId worker, CancelMode mode) override;
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override;
  void wake() override { wake_.notify(); }

  struct Down {
    std::string node;
    std::string reason;
  };
  // The nodes lost, in the order they were.
  const std::vector<Down>& down_nodes() const { return down_; }
  // The agents' process ids, in the order of the nodes (-1 once reaped).
  std::vector<pid_t> agent_pids() const;

 private:
  struct Node;
  struct Running;
  void spawn_agent(Node& node);
  void node_down(size_t index, const std::string& reason);
  void send(size_t index, const std::string& frame);
  void flush(size_t index);
  void read_node(size_t index);
  void take(size_t index, agent::Message& message);
  void check_nodes(TimePoint now);
  TimePoint next_check() const;
  void finish(Running& running, Completion completion);

  AgentExecutorOptions options_;
  sigset_t original_mask_;
  WakeFd wake_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Running>> running_;  // worker - 1 -> its attempt, or null
  std::vector<Completion> ready_;
  std::vector<Down> down_;
  std::vector<pollfd> fds_;
};

}  // namespace taskpool
