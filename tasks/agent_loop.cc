#include "tasks/agent_loop.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>

#include "core/agent_frame.h"
#include "core/error.h"

namespace taskpool {
namespace {

using Clock = std::chrono::steady_clock;

class AgentLoop {
 public:
  AgentLoop(const AgentLoopOptions& options, const sigset_t& original_mask)
      : options_(options), executor_(options.process, original_mask) {}

  int run();

 private:
  bool send(const agent::Message& message);
  bool flush();
  bool take(const agent::Message& message);
  bool read_requests();
  bool answer(Completion& completion);
  bool fail(const std::string& problem);

  const AgentLoopOptions& options_;
  ProcessExecutor executor_;
  agent::FrameDecoder decoder_;
  std::string out_;  // answers not yet written
  std::unordered_set<WorkerId> running_;
  bool requests_ended_ = false;
};

bool AgentLoop::fail(const std::string& problem) {
  std::fputs(fmt::format("taskpool agent: {}\n", problem).c_str(), stderr);
  return false;
}

bool AgentLoop::send(const agent::Message& message) {
  agent::encode(message, out_);
  // Output frames gather up to a few chunks before they go: fewer writes, same order.
  return out_.size() < 4 * agent::kOutputChunk || flush();
}

bool AgentLoop::flush() {
  size_t done = 0;
  while (done < out_.size()) {
    const ssize_t n = ::write(options_.out_fd, out_.data() + done, out_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot write its answers: {}", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  out_.clear();
  return true;
}

bool AgentLoop::take(const agent::Message& message) {
  if (const auto* start = std::get_if<agent::StartJob>(&message)) {
    if (start->id == 0 || start->id > INT_MAX || running_.contains(static_cast<int>(start->id))) {
      return fail(fmt::format("job id {} is not one that can start now", start->id));
    }
    Attempt attempt;
    attempt.worker = static_cast<WorkerId>(start->id);
    attempt.command = Command(start->line, start->argv);
    running_.insert(attempt.worker);
    executor_.start(attempt);
    return true;
  }
  if (const auto* cancel = std::get_if<agent::CancelJob>(&message)) {
    if (cancel->id <= INT_MAX) {
      executor_.cancel(static_cast<WorkerId>(cancel->id),
                       cancel->kill ? CancelMode::kKill : CancelMode::kTerminate);
    }
    return true;
  }
  return fail("a request of a kind only an agent sends");
}

bool AgentLoop::read_requests() {
  char buffer[65536];
  const ssize_t n = ::read(options_.in_fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    requests_ended_ = true;
    return true;
  }
  decoder_.feed(std::string_view(buffer, static_cast<size_t>(n)));
  while (auto message = decoder_.next()) {
    if (!take(*message)) return false;
  }
  if (!decoder_.error().empty()) return fail("broken request stream: " + decoder_.error());
  return true;
}

bool AgentLoop::answer(Completion& completion) {
  const auto id = static_cast<uint64_t>(completion.worker);
  running_.erase(completion.worker);
  bool ok = true;
  const auto send_output = [&](const std::unique_ptr<OutputBuffer>& buffer, uint8_t stream) {
    if (!buffer) return;
    buffer->for_each_chunk([&](std::string_view chunk) {
      for (size_t at = 0; ok && at < chunk.size(); at += agent::kOutputChunk) {
        ok = send(agent::JobOutput{id, stream, std::string(chunk.substr(at, agent::kOutputChunk))});
      }
    });
  };
  send_output(completion.detail.stdout_data, 1);
  send_output(completion.detail.stderr_data, 2);
  agent::JobDone done;
  done.id = id;
  done.exit_status = static_cast<uint32_t>(completion.exit_status);
  done.signal = static_cast<uint32_t>(completion.signal);
  done.started = completion.started;
  done.short_of_resources = completion.short_of_resources;
  done.runtime_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(completion.runtime()).count());
  done.error = completion.error;
  return ok && send(done);
}

int AgentLoop::run() {
  agent::Hello hello;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  hello.cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) hello.host = host;
  if (!send(hello) || !flush()) return 1;
  TimePoint next_beat = Clock::now() + options_.heartbeat;
  while (!requests_ended_ && (options_.stop == nullptr || *options_.stop == 0)) {
    pollfd in{options_.in_fd, POLLIN, 0};
    WaitResult result = executor_.wait(next_beat, std::span<pollfd>(&in, 1));
    for (Completion& completion : result.completions) {
      if (!answer(completion)) return 1;
    }
    if (in.revents != 0 && !read_requests()) return 1;
    if (Clock::now() >= next_beat) {
      if (!send(agent::Heartbeat{static_cast<uint32_t>(running_.size())})) return 1;
      next_beat = Clock::now() + options_.heartbeat;
    }
    if (!flush()) return 1;
  }
  return 0;  // the executor kills what still runs
}

}  // namespace

int run_agent_loop(const AgentLoopOptions& options, const sigset_t& original_mask) {
  AgentLoop loop(options, original_mask);
  return loop.run();
}

}  // namespace taskpool
