// Runs attempts as child processes, all from one thread: posix_spawn into a new process group,
// stdout and stderr through pipes, one ppoll over every pipe.
#pragma once

#include <poll.h>
#include <signal.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/executor.h"
#include "core/unique_fd.h"
#include "tasks/guardian.h"
#include "tasks/program_path.h"
#include "tasks/spawn.h"
#include "tasks/wake_fd.h"
#include "tasks/worker_pipes.h"

namespace taskpool {

struct ChildOutput;
struct KeptPipes;
struct Pipe;
struct StartFailure;
struct StdinFeed;

enum class OutputMode {
  kCapture,  // collect each attempt's stdout and stderr into OutputBuffers (the completion's)
  kLines,    // pass complete lines to on_output as they arrive (--line-buffer)
  kDiscard,  // the child's stdout and stderr go to /dev/null
  // -u: the child writes to taskpool's own stdout and stderr, as it comes (lines of jobs may mix)
  kPassThrough,
};

enum class Stream { kStdout, kStderr };

// The most workers that keep their pipes from job to job (ProcessExecutorOptions::kept_pipes).
inline constexpr int kMaxKeptPipes = 64;

struct ProcessExecutorOptions {
  OutputMode output = OutputMode::kCapture;
  // Other parts of this process hold descriptors that come back on their own (the job server's
  // connections): a start that fails for this process's open-file limit is waited out as any
  // shortage, not failed at once when no job runs (Completion::own_shortage).
  bool descriptors_shared = false;
  // kLines: called with one or more complete lines (each ending in '\n'), or the unterminated
  // rest when the attempt ends. A line longer than memory_limit waits in a temporary file and
  // comes in several calls, one right after the other. On the scheduler's thread, inside wait().
  std::function<void(WorkerId, Stream, std::string_view)> on_output;
  // What runs command lines that need a shell (`shell -c LINE`): /bin/sh, or the caller's bash
  // or zsh. With bash, a command named after a function in the environment (export -f) runs
  // through it too.
  std::string shell = "/bin/sh";
  // When set, what `shell` is instead, asked the first time a command needs a shell (finding the
  // caller's shell reads /proc: a run of commands that need none does not pay for it).
  std::function<std::string()> find_shell;
  int nice = 0;  // not 0: every job runs under `nice -n nice` (--nice), as GNU parallel runs it
  size_t memory_limit = 256 * 1024;  // per captured stream, before spilling to a file
  // kCapture and kLines, unless background processes are kept: workers 1..kept_pipes keep
  // their stdout and stderr pipes from one job to the next (two descriptors more each, held for
  // the whole run), so that a job costs no pipes to make and close. What a job's output holds
  // is the same: what its processes wrote before it was reaped (its process group is killed
  // then). A process that left the job's group and writes to the job's output after that
  // writes into the worker's next job's output, where with a pipe of the job's own it would
  // get a broken pipe. Above the count, each job has pipes of its own: every descriptor
  // taskpool holds is copied into each child it starts, and each costs a spawn about as much
  // as making a pipe saves (doc/DEVELOPING.md).
  int kept_pipes = kMaxKeptPipes;
  // An eventfd that, besides wake(), ends wait() when written to (a signal handler's); a
  // duplicate is kept. -1: an eventfd of its own.
  int wake_fd = -1;
  // --feedback: every child gets a pipe as file descriptor 3, and each record it writes there
  // (ended by feed_delimiter, or by the end of the pipe) comes back in WaitResult::fed, read as
  // the scheduler's FeedOrder says (set_feed). What a child left in its pipe when it exited is
  // taken in any case; what its background processes write after that is not. Under kClose the
  // children's pipes are closed, so a job that goes on feeding (or starts to) gets a broken pipe
  // (SIGPIPE) rather than feeding for ever. A record longer than 1 MiB closes its job's pipe too
  // and fails the attempt.
  bool feedback = false;
  char feed_delimiter = '\n';
  // A job's background processes: what is left of its process group when its own process has
  // ended gets SIGKILL then, unless kept (--keep-background: daemons a job starts live on). A job
  // that was cancelled loses its group either way.
  bool keep_background = false;
  // When the process is a child subreaper (become_child_subreaper()) and background processes
  // are not kept: the time from SIGTERM to SIGKILL for the adopted processes that are still
  // there when the executor goes (see end_adopted_children()).
  Duration kill_after = std::chrono::seconds(5);
  // Told of each job's process group from its start until it is reaped, to end it if taskpool
  // is killed; never ended as an adopted process. Null: none.
  Guardian* guardian = nullptr;
};

// Signal handling contract: the caller blocks SIGCHLD (and the signals it handles, or has their
// handlers write to wake_fd) in every thread before constructing the executor, and passes the
// mask from before that. wait() unblocks that mask only inside ppoll, so handlers run there and
// wait() returns early; children
// get the original mask, default SIGPIPE/SIGXFSZ/SIGINT/SIGTERM/SIGHUP/SIGCHLD/SIGQUIT, stdin from
// /dev/null (or a pipe taskpool fills with the command's input, Command::input), and a process
// group of their own.
// Not thread-safe, except wake().
class ProcessExecutor final : public Executor {
 public:
  ProcessExecutor(ProcessExecutorOptions options, const sigset_t& original_mask);
  ~ProcessExecutor() override;  // kills and reaps anything still running
  ProcessExecutor(const ProcessExecutor&) = delete;
  ProcessExecutor& operator=(const ProcessExecutor&) = delete;

  void start(const Attempt& attempt) override;
  // As start(), with `stdin_fd` as the child's standard input instead of /dev/null (the caller
  // keeps its descriptor; the child gets a copy).
  void start(const Attempt& attempt, int stdin_fd);
  void cancel(WorkerId worker, CancelMode mode) override;
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override;
  void set_feed(FeedOrder order) override;
  void wake() override;
  // SIGSTOP or SIGCONT to every running child's process group.
  void suspend(bool stopped) override;

  // A child of this process that is not a job (an ssh control master, started elsewhere):
  // wait() leaves it for its owner to reap, and it is never ended as an adopted process. Every
  // other child that is not a job (adopted as child subreaper) is reaped when it ends. `leave`
  // false: forget it (its owner has reaped it).
  void leave_alone(pid_t pid, bool leave = true);

  size_t running() const;
  // The first failure to keep an attempt's output (no room for a temporary file), or empty. The
  // output that came after it is counted, not kept; wait() returns as soon as it happens.
  const std::string& output_error() const { return output_error_; }

 private:
  struct Child;
  void not_started(Completion& completion, const StartFailure& failure);
  // Whether the shell is bash and has a function NAME from the environment (export -f).
  bool exported_function(const std::string& name);
  const std::string& shell();
  int plumb(Dups& dups, int stdin_fd, Pipe& out, Pipe& err, Pipe& feed, WorkerId worker,
            KeptPipes*& kept);
  void reap_all(std::span<char> buffer);
  void reap_ended(std::span<char> buffer);
  void read_one_chunk_each(std::span<char> buffer);
  size_t feeders_waiting() const;
  void poll_set(std::span<const pollfd> also_watch);
  bool serve(std::span<char> buffer, std::span<pollfd> also_watch);

  ProcessExecutorOptions options_;
  sigset_t original_mask_;
  Spawner spawner_;             // every child's: original_mask_, its own process group
  JobEnvironment environment_;  // PARALLEL_SEQ, PARALLEL_JOBSLOT, PARALLEL_PID
  ProgramPath programs_;
  WakeFd wake_;
  WorkerPipes kept_;   // see ProcessExecutorOptions::kept_pipes
  UniqueFd dev_null_;  // every child's stdin, and its stdout and stderr for kDiscard
  std::vector<std::unique_ptr<Child>> children_;  // running ones
  std::vector<Completion> ready_;                 // ended, not yet returned by wait()
  std::vector<FedRecord> fed_;                    // fed, not yet returned by wait()
  FeedOrder feed_;
  std::unordered_set<pid_t> left_alone_;  // see leave_alone()
  std::string output_error_;
  bool exported_functions_ = false;  // the environment holds functions (bash's export -f)
  bool shell_found_ = false;         // options_.shell is final (find_shell asked, if any)
  // One wait()'s poll set (kept between waits for its memory): fds_[0] is the wake-up, then one
  // per sources_ (a child's output), one per feeders_ (a child's feedback pipe), one per writers_
  // (a child's stdin, --pipe), and the caller's.
  std::vector<pollfd> fds_;
  std::vector<std::pair<Child*, ChildOutput*>> sources_;
  std::vector<Child*> feeders_;
  std::vector<StdinFeed*> writers_;  // children's stdin pipes with room to fill
  std::unique_ptr<char[]> buffer_;   // what wait() reads into, made at the first
};

// Installs the SIGCHLD handler that ProcessExecutor relies on (a no-op handler, so the signal
// interrupts ppoll). Call once, before blocking signals.
void install_child_signal_handler();

}  // namespace taskpool
