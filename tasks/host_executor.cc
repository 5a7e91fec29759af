#include "tasks/host_executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/shell_quote.h"
#include "core/unique_fd.h"
#include "tasks/pipes.h"
#include "tasks/program_path.h"
#include "tasks/remote_steps.h"
#include "tasks/spawn.h"

namespace taskpool {

namespace {

using namespace std::chrono_literals;

// How long an ssh client's 255 waits for its master to end before it counts as the command's
// own status. The master ends first when a connection dies (its clients notice because it
// closed their sockets), so this is only a margin for the order in which the two are reaped.
constexpr Duration kVerdictDelay = 500ms;
// While a master connects: how often to look for its control socket.
constexpr Duration kConnectPoll = 10ms;
// A master that has made no control socket by then will not (ControlPath none in --ssh or the
// ssh config, a prompt nobody answers): its host is given up.
constexpr Duration kConnectLimit = 60s;
// After "KILL" went to the host: how long the local ssh client gets to end before it is killed
// here (the connection may be hung).
constexpr Duration kLocalKillDelay = 1s;

TimePoint now() { return std::chrono::steady_clock::now(); }

Completion not_run(WorkerId worker, bool lost, std::string error) {
  Completion c;
  c.worker = worker;
  c.started = false;
  c.exit_status = 255;
  c.never_ran = true;
  c.lost_worker = lost;
  c.error = std::move(error);
  c.start = c.end = now();
  return c;
}

}  // namespace

struct HostExecutor::Connection {
  std::string socket;
  std::string log;  // the master's stderr
  pid_t pid = -1;   // the master; -1 before it starts and once it is reaped
  TimePoint started{};
  bool ready = false;
  bool ended = false;
  bool given_up = false;  // no socket within kConnectLimit
};

struct HostExecutor::Host {
  SshLogin login;
  std::vector<Connection> connections;
  bool down = false;
  std::string reason;
  bool based = true;     // its --basefile files were sent (or there are none)
  pid_t basefiles = -1;  // the local script sending them, while it runs
  std::string base_log;  // that script's stderr
};

struct HostExecutor::Remote {
  Attempt attempt;  // as the scheduler gave it
  int host = 0;
  int connection = 0;
  bool spawned = false;
  UniqueFd control;  // the write end of the ssh client's stdin: "TERM" and "KILL" go there
  bool cancelled = false;
  TimePoint local_kill_at = kNever;
};

HostExecutor::HostExecutor(HostExecutorOptions options, const sigset_t& original_mask)
    : options_(std::move(options)), original_mask_(original_mask) {
  const char* path_env = std::getenv("PATH");
  ProgramPath programs(path_env != nullptr ? path_env : "/usr/bin:/bin");
  if (options_.ssh.empty()) throw Error("--ssh: the ssh command is empty");
  const auto ssh = programs.resolve(options_.ssh.front());
  if (!ssh) throw Error("--ssh: '" + options_.ssh.front() + "': command not found");
  ssh_path_ = *ssh;

  std::vector<int> workers(options_.hosts.size(), 0);
  for (const int host : options_.worker_host) {
    worker_connection_.push_back(workers.at(static_cast<size_t>(host))++ / kSessionsPerConnection);
  }
  const bool remote =
      std::ranges::any_of(options_.hosts, [](const SshLogin& h) { return !h.local; });
  if (remote) {
    std::string pattern = socket_root() + "/taskpool-ssh-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw system_error("cannot make a private directory for ssh's control sockets in " +
                         socket_root());
    }
    directory_ = pattern;
  }
  for (size_t h = 0; h < options_.hosts.size(); ++h) {
    auto host = std::make_unique<Host>();
    host->login = options_.hosts[h];
    host->based = options_.basefiles.empty() || host->login.local;
    if (!host->login.local) host->base_log = fmt::format("{}/h{}.base.log", directory_, h);
    if (!host->login.local) {
      const int count = (workers[h] + kSessionsPerConnection - 1) / kSessionsPerConnection;
      for (int c = 0; c < count; ++c) {
        Connection& connection = host->connections.emplace_back();
        connection.socket = fmt::format("{}/h{}c{}", directory_, h, c);
        connection.log = connection.socket + ".log";
      }
    }
    hosts_.push_back(std::move(host));
  }
  processes_ = std::make_unique<ProcessExecutor>(options_.process, original_mask_);
  // Every connection at once: a slow or dead host delays only its own jobs.
  for (size_t h = 0; h < hosts_.size(); ++h) {
    for (Connection& connection : hosts_[h]->connections) {
      if (const int error = start_master(*hosts_[h], connection); error != 0) {
        // No process for ssh (`ulimit -u`): the host is given up, as one that cannot connect.
        connection.ended = true;
        host_down(static_cast<int>(h),
                  std::string("ssh could not be started: ") + std::strerror(error));
      }
    }
  }
}

HostExecutor::~HostExecutor() {
  processes_.reset();  // kills and reaps the ssh clients and local jobs still running
  for (auto& host : hosts_) {
    if (host->basefiles > 0) kill(host->basefiles, SIGKILL);
    reap_by(host->basefiles, now());
  }
  if (options_.cleanup && !options_.basefiles.empty()) remove_basefiles();
  for (const auto& host : hosts_) {
    for (Connection& connection : host->connections) {
      if (connection.pid > 0) kill(connection.pid, SIGTERM);
    }
  }
  const TimePoint give_up = now() + 2s;
  for (auto& host : hosts_) {
    for (Connection& connection : host->connections) {
      reap_by(connection.pid, give_up);
      ::unlink(connection.socket.c_str());
      ::unlink(connection.log.c_str());
    }
    if (!host->base_log.empty()) ::unlink(host->base_log.c_str());
  }
  if (!directory_.empty()) ::rmdir(directory_.c_str());
}

// Waits for `pid` to end until `give_up`, then kills it; sets it to -1.
void HostExecutor::reap_by(pid_t& pid, TimePoint give_up) {
  while (pid > 0) {
    int status;
    const pid_t reaped = waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) {
      pid = -1;
    } else if (now() >= give_up) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
}

// --cleanup: the --basefile files leave every host that got them, all hosts at once.
void HostExecutor::remove_basefiles() {
  std::vector<pid_t> pids;
  for (auto& host : hosts_) {
    if (host->login.local || host->down || !host->based) continue;
    const auto ready = std::ranges::find_if(
        host->connections, [](const Connection& c) { return c.ready && c.pid > 0; });
    if (ready == host->connections.end()) continue;
    const std::string script =
        basefile_cleanup_script(options_.basefiles, host_steps(*host, *ready));
    const pid_t pid = spawn_tied("/bin/sh", {"/bin/sh", "-c", script}, original_mask_, -1, -1, -1);
    if (pid > 0) pids.push_back(pid);
  }
  const TimePoint give_up = now() + 10s;
  for (pid_t& pid : pids) reap_by(pid, give_up);
}

HostSteps HostExecutor::host_steps(const Host& host, const Connection& connection) const {
  HostSteps steps;
  steps.ssh = options_.ssh;
  steps.ssh[0] = ssh_path_;
  for (const char* arg : {"-S"}) steps.ssh.emplace_back(arg);
  steps.ssh.push_back(connection.socket);
  for (const char* arg : {"-o", "ControlMaster=no", "-T"}) steps.ssh.emplace_back(arg);
  for (std::string& arg : ssh_login_args(host.login)) steps.ssh.push_back(std::move(arg));
  steps.host = host.login.text;
  steps.cleanup = options_.cleanup;
  return steps;
}

int HostExecutor::start_master(const Host& host, Connection& connection) {
  std::vector<std::string> argv = options_.ssh;
  argv[0] = ssh_path_;
  // The user's --ssh options come first, and ssh keeps the first value it gets for an option.
  for (const char* arg : {"-M", "-N", "-S"}) argv.emplace_back(arg);
  argv.push_back(connection.socket);
  for (const char* arg :
       {"-o", "ControlPersist=no", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"}) {
    argv.emplace_back(arg);
  }
  for (std::string& arg : ssh_login_args(host.login)) argv.push_back(std::move(arg));
  const UniqueFd log(
      ::open(connection.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  // No descriptor for the master's log: the host cannot be reached, as when fork fails.
  if (!log.valid() || !null.valid()) return errno;
  // Tied to taskpool: a killed run leaves no connection open.
  const pid_t pid =
      spawn_tied(ssh_path_, std::move(argv), original_mask_, null.get(), null.get(), log.get());
  if (pid < 0) return errno;
  connection.pid = pid;
  connection.started = now();
  processes_->leave_alone(pid);  // reaped in check_masters(), and not a leftover of a job
  return 0;
}

void HostExecutor::start(const Attempt& attempt) {
  const auto index = static_cast<size_t>(attempt.worker - 1);
  const int h = options_.worker_host.at(index);
  Host& host = *hosts_[static_cast<size_t>(h)];
  if (host.login.local) return processes_->start(attempt);
  if (host.down) {
    ready_.push_back(
        not_run(attempt.worker, true, fmt::format("{} is down: {}", host.login.text, host.reason)));
    return;
  }
  auto remote = std::make_unique<Remote>();
  remote->attempt = attempt;
  remote->host = h;
  remote->connection = worker_connection_[index];
  Remote& r = *remote;
  remotes_.push_back(std::move(remote));
  if (host.based && host.connections[static_cast<size_t>(r.connection)].ready && !spawn(r)) {
    remotes_.pop_back();
  }
}

bool HostExecutor::spawn(Remote& remote) {
  const Host& host = *hosts_[static_cast<size_t>(remote.host)];
  const Connection& connection = host.connections[static_cast<size_t>(remote.connection)];
  Pipe control;
  if (const int error = make_pipe(control); error != 0) {
    // One attempt that cannot start, as the process executor reports it; the run goes on.
    const StartFailure failure = pipe_failure(error, options_.ssh.front());
    Completion& c = ready_.emplace_back();
    c.worker = remote.attempt.worker;
    c.started = false;
    c.exit_status = failure.exit_status;
    c.error = failure.error;
    c.short_of_resources = failure.short_of_resources;
    c.own_shortage = failure.own_shortage;
    c.start = c.end = now();
    return false;
  }
  // "TERM" and "KILL" are a few bytes; they must never block the scheduler.
  set_nonblocking(control.write.get());

  Attempt attempt = remote.attempt;
  const HostSteps steps = host_steps(host, connection);
  const std::string line = remote_command(env_exports(options_.env) + attempt.command.line);
  if (has_file_steps(attempt.command)) {
    attempt.command.argv = {"/bin/sh", "-c", attempt_script(attempt.command, steps, line)};
  } else {
    attempt.command.argv = steps.ssh;
    attempt.command.argv.push_back(line);
  }
  processes_->start(attempt, control.read.get());
  remote.control = std::move(control.write);
  remote.spawned = true;
  return true;
}

HostExecutor::Remote* HostExecutor::remote_on(WorkerId worker) {
  for (auto& remote : remotes_) {
    if (remote->attempt.worker == worker) return remote.get();
  }
  return nullptr;
}

void HostExecutor::cancel(WorkerId worker, CancelMode mode) {
  Remote* remote = remote_on(worker);
  if (remote == nullptr) return processes_->cancel(worker, mode);
  remote->cancelled = true;
  if (!remote->spawned) {
    // Still waiting for its connection: it never ran, and never will.
    ready_.push_back(not_run(worker, false, {}));
    std::erase_if(remotes_, [&](const auto& r) { return r.get() == remote; });
    return;
  }
  const std::string_view message = mode == CancelMode::kTerminate ? "TERM\n" : "KILL\n";
  if (remote->control.valid()) {
    [[maybe_unused]] const ssize_t n =
        ::write(remote->control.get(), message.data(), message.size());
  }
  if (mode == CancelMode::kKill) {
    remote->control.reset();
    remote->local_kill_at = std::min(remote->local_kill_at, now() + kLocalKillDelay);
  }
}

void HostExecutor::finish(Completion completion) {
  const auto it = std::ranges::find_if(remotes_, [&](const auto& r) {
    return r->spawned && r->attempt.worker == completion.worker;
  });
  if (it == remotes_.end()) {  // a job of this machine
    ready_.push_back(std::move(completion));
    return;
  }
  const Remote& remote = **it;
  // The wrapper reports a signal as 128 + N; when taskpool sent it, say so as for local jobs.
  if (remote.cancelled && completion.signal == 0 &&
      (completion.exit_status == 128 + SIGTERM || completion.exit_status == 128 + SIGKILL)) {
    completion.signal = completion.exit_status - 128;
    completion.exit_status = 0;
  }
  const int host = remote.host;
  const int connection = remote.connection;
  remotes_.erase(it);
  if (completion.started && completion.signal == 0 && completion.exit_status == 255) {
    held_.push_back(Held{std::move(completion), host, connection, now() + kVerdictDelay});
    return;
  }
  ready_.push_back(std::move(completion));
}

void HostExecutor::check_masters() {
  for (size_t h = 0; h < hosts_.size(); ++h) {
    Host& host = *hosts_[h];
    for (size_t c = 0; c < host.connections.size(); ++c) {
      Connection& connection = host.connections[c];
      if (connection.pid <= 0) continue;
      int status = 0;
      const pid_t reaped = waitpid(connection.pid, &status, WNOHANG);
      if (reaped == connection.pid) {
        processes_->leave_alone(connection.pid, false);
        connection.pid = -1;
        connection.ended = true;
        std::string reason = last_words(connection.log);
        if (connection.given_up) {
          reason = fmt::format(
              "no control socket after {} s (ControlPath none in --ssh or the ssh config, or "
              "ssh waits for a password?)",
              std::chrono::duration_cast<std::chrono::seconds>(kConnectLimit).count());
        } else if (reason.empty()) {
          reason = WIFSIGNALED(status)
                       ? fmt::format("ssh was killed by signal {}", WTERMSIG(status))
                       : fmt::format("ssh exited with status {}", WEXITSTATUS(status));
        }
        host_down(static_cast<int>(h), reason);
        continue;
      }
      if (!connection.ready && !connection.given_up && now() - connection.started > kConnectLimit &&
          ::access(connection.socket.c_str(), F_OK) != 0) {
        connection.given_up = true;
        kill(connection.pid, SIGTERM);  // reaped, and its host marked down, on a later round
        continue;
      }
      if (!connection.ready && ::access(connection.socket.c_str(), F_OK) == 0) {
        connection.ready = true;
        if (!host.based && host.basefiles < 0) send_basefiles(static_cast<int>(h), connection);
        if (host.based) spawn_waiting(static_cast<int>(h), static_cast<int>(c));
      }
    }
    if (host.basefiles > 0) check_basefiles(static_cast<int>(h));
  }
}

void HostExecutor::spawn_waiting(int host, int connection) {
  std::erase_if(remotes_, [&](const std::unique_ptr<Remote>& remote) {
    return !remote->spawned && remote->host == host && remote->connection == connection &&
           !spawn(*remote);
  });
}

// Starts the script that sends --basefile to a host, through its first connection made.
void HostExecutor::send_basefiles(int h, const Connection& connection) {
  Host& host = *hosts_[static_cast<size_t>(h)];
  const std::string script = basefile_script(options_.basefiles, host_steps(host, connection));
  const UniqueFd log(::open(host.base_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  pid_t pid = -1;
  if (log.valid() && null.valid()) {
    pid = spawn_tied("/bin/sh", {"/bin/sh", "-c", script}, original_mask_, null.get(), null.get(),
                     log.get());
  }
  if (pid < 0) {
    host_down(h, fmt::format("--basefile: cannot start sending: {}", std::strerror(errno)));
    return;
  }
  host.basefiles = pid;
  processes_->leave_alone(pid);
}

void HostExecutor::check_basefiles(int h) {
  Host& host = *hosts_[static_cast<size_t>(h)];
  int status = 0;
  if (waitpid(host.basefiles, &status, WNOHANG) != host.basefiles) return;
  processes_->leave_alone(host.basefiles, false);
  host.basefiles = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    host.based = true;
    for (size_t c = 0; c < host.connections.size(); ++c) {
      if (host.connections[c].ready) spawn_waiting(h, static_cast<int>(c));
    }
    return;
  }
  std::string reason = last_words(host.base_log);
  if (reason.starts_with("taskpool: ")) reason.erase(0, 10);
  host_down(h, reason.empty() ? "--basefile: the files could not be sent" : reason);
}

void HostExecutor::host_down(int host_index, const std::string& reason) {
  Host& host = *hosts_[static_cast<size_t>(host_index)];
  if (host.down) return;
  host.down = true;
  host.reason = reason;
  down_.push_back(Down{host.login.text, reason});
  if (options_.on_host_down) options_.on_host_down(host.login, reason);
  // What has not begun there runs elsewhere; what runs on a dead connection ends by itself
  // (its ssh client exits 255) and is decided in decide_held().
  std::erase_if(remotes_, [&](const std::unique_ptr<Remote>& remote) {
    if (remote->host != host_index || remote->spawned) return false;
    ready_.push_back(not_run(remote->attempt.worker, true,
                             fmt::format("{} is down: {}", host.login.text, reason)));
    return true;
  });
}

void HostExecutor::decide_held() {
  const TimePoint current = now();
  std::erase_if(held_, [&](Held& held) {
    const Host& host = *hosts_[static_cast<size_t>(held.host)];
    if (host.connections[static_cast<size_t>(held.connection)].ended) {
      held.completion.lost_worker = true;
      held.completion.error = fmt::format("{}: the connection was lost while the job ran ({})",
                                          host.login.text, host.reason);
      ready_.push_back(std::move(held.completion));
      return true;
    }
    if (held.decide_at > current) return false;
    ready_.push_back(std::move(held.completion));  // the command's own 255
    return true;
  });
}

WaitResult HostExecutor::wait(TimePoint deadline, std::span<pollfd> also_watch) {
  for (pollfd& fd : also_watch) fd.revents = 0;
  WaitResult result;
  if (ready_.empty()) {
    TimePoint until = deadline;
    for (const auto& host : hosts_) {
      for (const Connection& connection : host->connections) {
        if (!connection.ready && !connection.ended) until = std::min(until, now() + kConnectPoll);
      }
    }
    for (const Held& held : held_) until = std::min(until, held.decide_at);
    for (const auto& remote : remotes_) until = std::min(until, remote->local_kill_at);
    result = processes_->wait(until, also_watch);
    for (Completion& completion : result.completions) finish(std::move(completion));
  }
  check_masters();
  decide_held();
  const TimePoint current = now();
  for (const auto& remote : remotes_) {
    if (remote->spawned && remote->local_kill_at <= current) {
      remote->local_kill_at = kNever;
      processes_->cancel(remote->attempt.worker, CancelMode::kKill);
    }
  }
  result.completions = std::exchange(ready_, {});
  return result;
}

void HostExecutor::wake() { processes_->wake(); }

}  // namespace taskpool
