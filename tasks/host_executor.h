// Runs each attempt on its worker's host: this machine, or one reached through OpenSSH (-S).
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/executor.h"
#include "tasks/process_executor.h"
#include "tasks/remote_steps.h"
#include "tasks/sshlogin.h"

namespace taskpool {

struct HostExecutorOptions {
  std::vector<SshLogin> hosts;
  std::vector<int> worker_host;  // worker - 1 -> index into hosts
  // The ssh program and its options (--ssh), as words; the first is looked up on PATH.
  std::vector<std::string> ssh = {"ssh"};
  // Called (inside wait()) when a host goes down: its connection could not be made or died.
  std::function<void(const SshLogin& host, const std::string& reason)> on_host_down;
  ProcessExecutorOptions process;  // for the local ssh clients and the jobs of ':'
  // --env: variables set for each remote command, in this order.
  std::vector<std::pair<std::string, std::string>> env;
  // --basefile: sent to each host once its connection is made, before its first job (a file
  // that cannot be sent takes the host down). --cleanup: removed from it at the end, as the
  // files of each attempt (Command::send_files, return_files) are after it.
  std::vector<std::string> basefiles;
  bool cleanup = false;
};

// Each remote host gets one OpenSSH control master per kSessionsPerConnection of its workers
// (started at construction, all at once), and each attempt is one `ssh -S SOCKET` client: a
// channel of that connection, not a handshake. The control sockets live in a private directory
// (mode 0700) removed with the executor.
//
// On the host, the command runs under a small /bin/sh wrapper (remote_command()): the command
// goes into a process group of its own (setsid); the wrapper reads the channel's input, where
// cancel() writes "TERM" or "KILL" for it to send to that group; when the channel ends (the
// connection died, the local ssh was killed) it sends SIGTERM, then SIGKILL two seconds later.
// A command killed by a signal exits the wrapper with 128 + the signal, never by the signal
// itself, so ssh's own 255 keeps meaning "ssh failed or the command exited 255". Which of the
// two: when an ssh client exits 255 and its connection's master has ended (within
// kVerdictDelay), the connection died; otherwise it is the command's own status.
//
// A host goes down when its master exits (it could not connect, or the connection died): the
// attempts running there end with `lost_worker` (failed attempts, retried elsewhere under
// --retries), attempts still waiting for the connection come back `never_ran`, and every later
// start() on it comes back `never_ran` at once. The scheduler retires the host's workers.
//
// Signals: as ProcessExecutor (the caller blocks SIGCHLD and passes the mask from before).
// Masters get SIGKILL when taskpool dies (PR_SET_PDEATHSIG), so no connection outlives it.
// Not thread-safe, except wake().
class HostExecutor final : public Executor {
 public:
  static constexpr int kSessionsPerConnection = 10;  // sshd's default MaxSessions

  // Throws Error when the ssh program cannot be found or the private directory not made.
  HostExecutor(HostExecutorOptions options, const sigset_t& original_mask);
  ~HostExecutor() override;  // ends attempts and masters, removes the control sockets
  HostExecutor(const HostExecutor&) = delete;
  HostExecutor& operator=(const HostExecutor&) = delete;

  void start(const Attempt& attempt) override;
  void cancel(WorkerId worker, CancelMode mode) override;
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override;
  void set_feed(FeedOrder order) override { processes_->set_feed(order); }
  void wake() override;
  // Stops or continues the local ssh clients; the remote commands go on meanwhile.
  void suspend(bool stopped) override { processes_->suspend(stopped); }

  struct Down {
    std::string host;    // its sshlogin as given
    std::string reason;  // ssh's last words, or what happened
  };
  // The hosts that went down, in the order they did.
  const std::vector<Down>& down_hosts() const { return down_; }
  // The executor of every local process: the ssh clients, the masters and the jobs of ':'.
  const ProcessExecutor& processes() const { return *processes_; }

 private:
  struct Connection;
  struct Host;
  struct Remote;
  int start_master(const Host& host, Connection& connection);  // 0, or fork's errno
  HostSteps host_steps(const Host& host, const Connection& connection) const;
  void spawn_waiting(int host, int connection);  // the attempts waiting for that connection
  void send_basefiles(int host, const Connection& connection);
  void check_basefiles(int host);
  void remove_basefiles();
  static void reap_by(pid_t& pid, TimePoint give_up);
  bool spawn(Remote& remote);  // false: it could not start, its completion is ready
  void check_masters();
  void host_down(int host_index, const std::string& reason);
  void finish(Completion completion);
  void decide_held();
  Remote* remote_on(WorkerId worker);

  HostExecutorOptions options_;
  sigset_t original_mask_;
  std::string ssh_path_;
  std::string directory_;  // the private directory of the control sockets
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<int> worker_connection_;            // worker - 1 -> which of its host's connections
  std::vector<std::unique_ptr<Remote>> remotes_;  // remote attempts, waiting or running
  struct Held {  // an ssh client that exited 255: did the connection die, or was it the command?
    Completion completion;
    int host;
    int connection;
    TimePoint decide_at;
  };
  std::vector<Held> held_;
  std::vector<Completion> ready_;
  std::vector<Down> down_;
  std::unique_ptr<ProcessExecutor> processes_;
};

}  // namespace taskpool
