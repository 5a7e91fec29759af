#include "tasks/agent_executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>
#include <variant>

#include "core/error.h"
#include "tasks/pipes.h"
#include "tasks/program_path.h"
#include "tasks/spawn.h"

namespace taskpool {

namespace {

using namespace std::chrono_literals;

TimePoint clock_now() { return std::chrono::steady_clock::now(); }

// How long the agents get to end by themselves, once their input has ended, before SIGKILL.
constexpr Duration kAgentEndGrace = 2s;

}  // namespace

struct AgentExecutor::Node {
  AgentNode agent;
  std::string program;  // its command's first word, found on PATH
  pid_t pid = -1;       // -1 before it starts and once it is reaped
  UniqueFd socket;      // its stdin and stdout
  agent::FrameDecoder decoder;
  std::string out;  // frames not yet written
  bool said_hello = false;
  bool down = false;
  TimePoint heard{};
};

struct AgentExecutor::Running {
  Attempt attempt;
  size_t node = 0;
  TimePoint sent{};
  Completion completion;   // its output so far
  std::string partial[2];  // kLines: a line not yet ended, of stdout and of stderr
};

AgentExecutor::AgentExecutor(AgentExecutorOptions options, const sigset_t& original_mask)
    : options_(std::move(options)), original_mask_(original_mask), wake_(options_.wake_fd) {
  const char* path_env = std::getenv("PATH");
  ProgramPath programs(path_env != nullptr ? path_env : "/usr/bin:/bin");
  for (const AgentNode& agent : options_.nodes) {
    if (agent.command.empty())
      throw Error(fmt::format("{}: no command starts its agent", agent.name));
    const auto program = programs.resolve(agent.command.front());
    if (!program) throw Error(fmt::format("{}: command not found", agent.command.front()));
    auto added = std::make_unique<Node>();
    added->agent = agent;
    added->program = *program;
    nodes_.push_back(std::move(added));
  }
  running_.resize(options_.worker_node.size());
  for (const auto& node : nodes_) spawn_agent(*node);
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n]->pid < 0) node_down(n, "its agent could not be started");
  }
}

AgentExecutor::~AgentExecutor() {
  // The end of its input tells an agent to kill its jobs and exit; srun then ends its step.
  for (const auto& node : nodes_) {
    if (node->socket.valid()) ::shutdown(node->socket.get(), SHUT_WR);
  }
  const TimePoint give_up = clock_now() + kAgentEndGrace;
  for (auto& node : nodes_) {
    while (node->pid > 0) {
      int status = 0;
      const pid_t reaped = waitpid(node->pid, &status, WNOHANG);
      if (reaped == node->pid || (reaped < 0 && errno != EINTR)) {
        node->pid = -1;
      } else if (clock_now() >= give_up) {
        kill(-node->pid, SIGKILL);
        kill(node->pid, SIGKILL);
        while (waitpid(node->pid, &status, 0) < 0 && errno == EINTR) {
        }
        node->pid = -1;
      } else {
        std::this_thread::sleep_for(5ms);
      }
    }
  }
}

std::vector<pid_t> AgentExecutor::agent_pids() const {
  std::vector<pid_t> pids;
  for (const auto& node : nodes_) pids.push_back(node->pid);
  return pids;
}

void AgentExecutor::spawn_agent(Node& node) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return;
  UniqueFd ours(pair[0]);
  UniqueFd theirs(above_stdio(pair[1]));
  if (!theirs.valid()) return;
  // Tied to taskpool: a killed run leaves no agent (nor, through srun, no step) behind.
  const pid_t pid =
      spawn_tied(node.program, node.agent.command, original_mask_, theirs.get(), theirs.get(), -1);
  if (pid < 0) return;
  set_nonblocking(ours.get());
  node.pid = pid;
  node.socket = std::move(ours);
  node.heard = clock_now();
}

void AgentExecutor::node_down(size_t index, const std::string& reason) {
  Node& node = *nodes_[index];
  if (node.down) return;
  node.down = true;
  down_.push_back(Down{node.agent.name, reason});
  if (options_.on_node_down) options_.on_node_down(node.agent.name, reason);
  if (node.pid > 0) {
    kill(-node.pid, SIGTERM);
    kill(node.pid, SIGTERM);
  }
  node.socket.reset();
  node.out.clear();
  for (auto& running : running_) {
    if (!running || running->node != index) continue;
    Completion& c = running->completion;
    c.started = false;
    c.never_ran = true;
    c.lost_worker = true;
    c.exit_status = 255;
    c.error = fmt::format("{} was lost while the job ran: {}", node.agent.name, reason);
    c.start = running->sent;
    c.end = clock_now();
    c.detail = {};
    ready_.push_back(std::move(c));
    running.reset();
  }
}

void AgentExecutor::start(const Attempt& attempt) {
  const auto worker = static_cast<size_t>(attempt.worker - 1);
  const auto index = static_cast<size_t>(options_.worker_node.at(worker));
  Node& node = *nodes_[index];
  auto running = std::make_unique<Running>();
  running->attempt = attempt;
  running->node = index;
  running->sent = clock_now();
  running->completion.worker = attempt.worker;
  if (node.down) {
    Completion& c = ready_.emplace_back();
    c.worker = attempt.worker;
    c.started = false;
    c.never_ran = true;
    c.lost_worker = true;
    c.exit_status = 255;
    c.error = fmt::format("{} is lost", node.agent.name);
    c.start = c.end = running->sent;
    return;
  }
  if (options_.output == OutputMode::kCapture) {
    running->completion.detail.stdout_data = std::make_unique<OutputBuffer>(options_.memory_limit);
    running->completion.detail.stderr_data = std::make_unique<OutputBuffer>(options_.memory_limit);
  }
  running_[worker] = std::move(running);
  std::string frame;
  agent::encode(agent::StartJob{static_cast<uint64_t>(attempt.worker), attempt.command.line,
                                attempt.command.argv},
                frame);
  send(index, frame);
}

void AgentExecutor::cancel(WorkerId worker, CancelMode mode) {
  const auto& running = running_.at(static_cast<size_t>(worker - 1));
  if (!running) return;
  std::string frame;
  agent::encode(agent::CancelJob{static_cast<uint64_t>(worker), mode == CancelMode::kKill}, frame);
  send(running->node, frame);
}

void AgentExecutor::send(size_t index, const std::string& frame) {
  Node& node = *nodes_[index];
  if (node.down) return;
  node.out += frame;
  flush(index);
}

void AgentExecutor::flush(size_t index) {
  Node& node = *nodes_[index];
  while (!node.down && !node.out.empty()) {
    const ssize_t n = ::send(node.socket.get(), node.out.data(), node.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;  // the rest when the agent has read some
    if (n < 0)
      return node_down(index, fmt::format("cannot write to its agent: {}", std::strerror(errno)));
    node.out.erase(0, static_cast<size_t>(n));
  }
}

void AgentExecutor::finish(Running& running, Completion completion) {
  ready_.push_back(std::move(completion));
  running_.at(static_cast<size_t>(running.attempt.worker - 1)).reset();
}

void AgentExecutor::take(size_t index, agent::Message& message) {
  if (auto* hello = std::get_if<agent::Hello>(&message)) {
    if (hello->version != agent::kVersion) {
      return node_down(index, fmt::format("its agent speaks version {} of the protocol, this "
                                          "taskpool version {}",
                                          hello->version, agent::kVersion));
    }
    nodes_[index]->said_hello = true;
    return;
  }
  const auto id_of = [&](uint64_t id) -> Running* {
    if (id == 0 || id > running_.size()) return nullptr;
    Running* running = running_[id - 1].get();
    return running != nullptr && running->node == index ? running : nullptr;
  };
  if (auto* output = std::get_if<agent::JobOutput>(&message)) {
    Running* running = id_of(output->id);
    if (running == nullptr) return node_down(index, "its agent sent output of no job of its own");
    const Stream stream = output->stream == 2 ? Stream::kStderr : Stream::kStdout;
    AttemptDetail& detail = running->completion.detail;
    (stream == Stream::kStdout ? detail.stdout_bytes : detail.stderr_bytes) += output->data.size();
    auto& buffer = stream == Stream::kStdout ? detail.stdout_data : detail.stderr_data;
    if (buffer) buffer->append(output->data);
    if (options_.output == OutputMode::kLines && options_.on_output) {
      std::string& partial = running->partial[stream == Stream::kStdout ? 0 : 1];
      partial += output->data;
      const size_t end = partial.rfind('\n');
      if (end != std::string::npos) {
        options_.on_output(running->attempt.worker, stream,
                           std::string_view(partial).substr(0, end + 1));
        partial.erase(0, end + 1);
      }
    }
    return;
  }
  if (auto* done = std::get_if<agent::JobDone>(&message)) {
    Running* running = id_of(done->id);
    if (running == nullptr) return node_down(index, "its agent ended no job of its own");
    for (const Stream stream : {Stream::kStdout, Stream::kStderr}) {
      std::string& partial = running->partial[stream == Stream::kStdout ? 0 : 1];
      if (!partial.empty() && options_.on_output)
        options_.on_output(running->attempt.worker, stream, partial);
    }
    Completion completion = std::move(running->completion);
    completion.exit_status = static_cast<int>(done->exit_status);
    completion.signal = static_cast<int>(done->signal);
    completion.started = done->started;
    completion.short_of_resources = done->short_of_resources;
    completion.error = done->error;
    completion.end = clock_now();
    completion.start =
        std::max(running->sent, completion.end - std::chrono::nanoseconds(done->runtime_ns));
    finish(*running, std::move(completion));
  }
  // A heartbeat says it is alive, which any frame does.
}

void AgentExecutor::read_node(size_t index) {
  Node& node = *nodes_[index];
  char buffer[65536];
  for (int rounds = 0; rounds < 16 && !node.down; ++rounds) {
    const ssize_t n = ::read(node.socket.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      return node_down(
          index, n == 0 ? "its agent ended"
                        : fmt::format("cannot read from its agent: {}", std::strerror(errno)));
    }
    node.heard = clock_now();
    node.decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
    while (!node.down) {
      auto message = node.decoder.next();
      if (!message) break;
      take(index, *message);
    }
    if (!node.down && !node.decoder.error().empty()) {
      return node_down(index, "its agent's answers are broken: " + node.decoder.error());
    }
  }
}

TimePoint AgentExecutor::next_check() const {
  TimePoint next = kNever;
  for (const auto& node : nodes_) {
    if (node->down) continue;
    const Duration limit = node->said_hello ? options_.heartbeat_timeout : options_.start_timeout;
    next = std::min(next, node->heard + limit);
  }
  return next;
}

void AgentExecutor::check_nodes(TimePoint now) {
  for (size_t n = 0; n < nodes_.size(); ++n) {
    Node& node = *nodes_[n];
    if (node.pid > 0) {
      int status = 0;
      if (waitpid(node.pid, &status, WNOHANG) == node.pid) {
        node.pid = -1;
        // What it wrote before it ended is taken first: its last jobs' ends among it.
        if (!node.down) read_node(n);
        node_down(n, WIFSIGNALED(status)
                         ? fmt::format("its agent was killed by signal {}", WTERMSIG(status))
                         : fmt::format("its agent exited with status {}", WEXITSTATUS(status)));
      }
    }
    if (node.down) continue;
    const Duration limit = node.said_hello ? options_.heartbeat_timeout : options_.start_timeout;
    if (now - node.heard >= limit) {
      node_down(n, fmt::format("its agent has said nothing for {:.1f} s",
                               std::chrono::duration<double>(now - node.heard).count()));
    }
  }
}

WaitResult AgentExecutor::wait(TimePoint deadline, std::span<pollfd> also_watch) {
  for (pollfd& fd : also_watch) fd.revents = 0;
  WaitResult result;
  if (ready_.empty()) {
    fds_.clear();
    fds_.push_back({wake_.get(), POLLIN, 0});
    std::vector<size_t> polled;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = *nodes_[n];
      if (node.down || !node.socket.valid()) continue;
      const short events = static_cast<short>(POLLIN | (node.out.empty() ? 0 : POLLOUT));
      fds_.push_back({node.socket.get(), events, 0});
      polled.push_back(n);
    }
    for (const pollfd& fd : also_watch) fds_.push_back(fd);
    const TimePoint until = std::min(deadline, next_check());
    const auto left = std::max(Duration::zero(), until - clock_now());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec timeout{
        static_cast<time_t>(seconds.count()),
        static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds).count())};
    const int ready =
        ppoll(fds_.data(), fds_.size(), until == kNever ? nullptr : &timeout, &original_mask_);
    if (ready > 0) {
      if (fds_[0].revents != 0) wake_.drain();
      for (size_t i = 0; i < polled.size(); ++i) {
        const pollfd& fd = fds_[i + 1];
        if ((fd.revents & POLLOUT) != 0) flush(polled[i]);
        if ((fd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) read_node(polled[i]);
      }
      for (size_t i = 0; i < also_watch.size(); ++i) {
        also_watch[i].revents = fds_[1 + polled.size() + i].revents;
      }
    }
  }
  check_nodes(clock_now());
  result.completions = std::exchange(ready_, {});
  return result;
}

}  // namespace taskpool
