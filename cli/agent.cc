#include "cli/agent.h"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "cli/outcome.h"
#include "core/error.h"
#include "core/parse.h"
#include "tasks/agent_loop.h"
#include "tasks/guardian.h"

namespace taskpool {
namespace {

volatile sig_atomic_t stop_requested = 0;

void on_stop_signal(int /*signal*/) { stop_requested = 1; }

constexpr const char* kAgentUsage =
    "Usage: taskpool agent [--heartbeat DURATION]\n"
    "Runs the jobs a taskpool on another machine sends on standard input and sends their\n"
    "output and ends back on standard output (framed; see README, \"On a Slurm cluster\").\n"
    "Started by taskpool itself (--slurm, --agent-command); ends when its input ends, and\n"
    "its jobs with it.\n"
    "  --heartbeat DURATION  how often it says it is alive (default 0.5s)\n";

}  // namespace

int agent_main(int argc, char** argv) {
  AgentLoopOptions options;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    try {
      if (arg == "--heartbeat" && i + 1 < argc) {
        options.heartbeat = parse_duration("--heartbeat", argv[++i]);
      } else if (arg.starts_with("--heartbeat=")) {
        options.heartbeat = parse_duration("--heartbeat", arg.substr(12));
      } else if (arg == "-h" || arg == "--help") {
        std::fputs(kAgentUsage, stdout);
        return 0;
      } else {
        throw Error(fmt::format("unknown argument '{}' (see taskpool agent --help)", arg));
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "taskpool agent: %s\n", e.what());
      return kUsageStatus;
    }
  }
  if (options.heartbeat <= Duration::zero()) options.heartbeat = std::chrono::milliseconds(500);
  std::string error;
  // Before any thread: the jobs end with the agent even when it is killed.
  const std::unique_ptr<Guardian> guardian = Guardian::start(std::chrono::seconds(5), error);
  install_child_signal_handler();
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
    sigaction(sig, &action, nullptr);
    sigaddset(&blocked, sig);
  }
  signal(SIGPIPE, SIG_IGN);  // a runner gone is a failed write, said and ended
  sigset_t original;
  sigprocmask(SIG_BLOCK, &blocked, &original);
  options.process.output = OutputMode::kCapture;
  options.process.guardian = guardian.get();
  options.stop = &stop_requested;
  try {
    return run_agent_loop(options, original);
  } catch (const Error& e) {
    std::fprintf(stderr, "taskpool agent: %s\n", e.what());
    return 1;
  }
}

}  // namespace taskpool
