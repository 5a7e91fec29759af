#include "cli/serve/daemon.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/serve/api.h"
#include "cli/serve/http.h"
#include "cli/serve/output_store.h"
#include "cli/serve/store.h"
#include "cli/serve/store_jobs.h"
#include "cli/signals.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/scheduler.h"
#include "tasks/guardian.h"
#include "tasks/process_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

// How often the loop turns when nothing else wakes it: libmicrohttpd's own time-outs and the
// cut-off of slow clients are seen within this.
constexpr Duration kTick = 250ms;
// Runs of the HTTP server in one turn while it has answers to send (each run may resume more).
constexpr int kMaxFlushes = 8;

int cpu_count() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? static_cast<int>(cpus) : 1;
}

std::string url_of(const ListenAddress& address, uint16_t port) {
  const std::string host = address.text.substr(0, address.text.rfind(':'));
  return fmt::format("http://{}:{}", host, port);
}

class Daemon {
 public:
  Daemon(const ServeConfig& config, const ListenAddress& address, Signals& signals,
         Guardian* guardian);
  int run();

 private:
  static Store::Options store_options(const ServeConfig& config);
  ProcessExecutorOptions process_options(Guardian* guardian);
  SchedulerOptions scheduler_options();
  StopOrder stop_request();
  void flush();
  void announce(const std::string& url) const;

  ServeConfig config_;
  Signals& signals_;
  SteadyClock clock_;
  Store store_;
  OutputStore output_;
  StoreJobs jobs_;
  Api api_;
  HttpServer server_;
  ProcessExecutor executor_;
  std::optional<Scheduler> scheduler_;
};

Store::Options Daemon::store_options(const ServeConfig& config) {
  Store::Options options;
  if (config.queue_size != 0) options.queue_size = config.queue_size;
  return options;
}

ApiSettings api_settings(const ServeConfig& config) {
  ApiSettings settings;
  settings.token = config.token;
  settings.submit.fixed_template = !config.command.empty();
  return settings;
}

ProcessExecutorOptions Daemon::process_options(Guardian* guardian) {
  ProcessExecutorOptions options;
  options.output = OutputMode::kLines;
  options.on_output = [this](WorkerId worker, Stream stream, std::string_view data) {
    jobs_.output(worker, stream, data);
  };
  options.wake_fd = signals_.wake_fd();
  options.guardian = guardian;
  options.kill_after = config_.kill_after;
  options.descriptors_shared = true;  // its clients' connections
  return options;
}

Daemon::Daemon(const ServeConfig& config, const ListenAddress& address, Signals& signals,
               Guardian* guardian)
    : config_(config),
      signals_(signals),
      store_(config.state, store_options(config)),
      output_(config.state + "/output"),
      jobs_(clock_, config.command),
      api_(store_, output_, jobs_, api_settings(config)),
      server_(address, api_, HttpLimits{}),
      executor_(process_options(guardian), signals.original_mask()) {
  api_.attach(server_);
  scheduler_.emplace(
      scheduler_options(), clock_, executor_, jobs_,
      [this](const Job& job, WorkerId worker) { return jobs_.build(job, worker); }, jobs_,
      [this] { return stop_request(); });
  jobs_.attach(api_, *scheduler_);
  announce(url_of(address, server_.port()));
}

void Daemon::announce(const std::string& url) const {
  // For scripts and tests that start it on port 0: the address it took, whole once it is there.
  const std::string file = config_.state + "/url";
  const std::string temporary = file + ".new";
  if (write_whole_file(temporary, url + "\n") != 0 ||
      std::rename(temporary.c_str(), file.c_str()) != 0) {
    throw Error(fmt::format("cannot write {}", file));
  }
  std::fputs(fmt::format("taskpool serve: listening on {} (state in {}, {} workers)\n", url,
                         config_.state, scheduler_->workers())
                 .c_str(),
             stderr);
  const Recovery& recovery = store_.recovery();
  if (recovery.requeued + recovery.failed != 0) {
    std::fputs(fmt::format("taskpool serve: {} jobs were running when the last server stopped: "
                           "{} queued again, {} failed\n",
                           recovery.requeued + recovery.failed, recovery.requeued, recovery.failed)
                   .c_str(),
               stderr);
  }
}

SchedulerOptions Daemon::scheduler_options() {
  SchedulerOptions options;
  options.workers = config_.workers > 0 ? config_.workers : cpu_count();
  options.kill_after = config_.kill_after;
  options.tick_interval = kTick;
  // The turn's starts are committed before their processes start (StoreJobs::before_start),
  // with whatever else the turn changed. At the top of the turn, requests that wait for a
  // commit (submits) are committed and answered first, so that starting the turn's jobs does not
  // hold up their answers; the ends of the last wait alone wait for the turn's commit: a pool
  // busy with short jobs syncs once a turn, not twice.
  options.live = [this](Scheduler&, TimePoint now) {
    if (api_.answers_waiting()) flush();
    return std::min(server_.next_deadline(), store_.next_rate_start(now));
  };
  // Before every wait: the rest of the turn is committed too (cancels, the ends of jobs that
  // could not start). A server with work left after the flush's runs (its socket out of the poll
  // set meanwhile) ends the wait at once.
  options.watch = [this](std::vector<pollfd>& fds) {
    flush();
    if (server_.next_deadline() <= clock_.now()) signals_.wake();
    fds.push_back(pollfd{server_.poll_fd(), POLLIN, 0});
  };
  options.on_watched = [this](std::span<const pollfd>) { server_.run(); };
  return options;
}

// Commits the turn (answering what waited for it), then lets the HTTP server send the answers,
// and commits what those runs brought in turn.
void Daemon::flush() {
  api_.commit();
  for (int i = 0; i < kMaxFlushes && server_.next_deadline() <= clock_.now(); ++i) {
    server_.run();
    api_.commit();
  }
}

StopOrder Daemon::stop_request() {
  const int signals = signals_.stop_count();
  if (signals >= 1) {
    if (!api_.draining()) api_.stop_accepting();
    jobs_.close();
    return {signals >= 2 ? StopRequest::kImmediate : StopRequest::kGraceful, StopCause::kSignal};
  }
  return {api_.drained() ? StopRequest::kGraceful : StopRequest::kNone, StopCause::kSignal};
}

int Daemon::run() {
  scheduler_->run();
  flush();
  const uint64_t left = store_.unfinished();
  std::fputs(
      fmt::format("taskpool serve: stopped; {} jobs left for the next start\n", left).c_str(),
      stderr);
  return 0;
}

}  // namespace

int serve(const ServeConfig& config) {
  ListenAddress address;
  try {
    address = parse_listen_address(config.listen);
  } catch (const Error& e) {
    throw UsageError(fmt::format("--listen: {}", e.what()));
  }
  if (!address.loopback && config.token.empty()) {
    throw UsageError(fmt::format(
        "--listen {}: not a loopback address: give --token-file, or anyone who can reach it "
        "runs commands here",
        config.listen));
  }
  std::string error;
  const std::unique_ptr<Guardian> guardian = Guardian::start(config.kill_after, error);
  if (!guardian) Guardian::warn_not_started("taskpool serve", error);
  Signals signals;
  Daemon daemon(config, address, signals, guardian.get());
  return daemon.run();
}

}  // namespace taskpool
