#include "tasks/process_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "core/error.h"
#include "tasks/adopted.h"
#include "tasks/child_output.h"
#include "tasks/feed_pipe.h"
#include "tasks/pipes.h"
#include "tasks/spawn.h"
#include "tasks/stdin_feed.h"
#include "tasks/worker_pipes.h"

namespace taskpool {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// One child that writes without pause must not keep wait() from serving the others. ppoll is
// level-triggered, so what is left is read in the next round.
constexpr size_t kReadLimitPerRound = 16 * kReadChunk;

TimePoint now() { return std::chrono::steady_clock::now(); }

}  // namespace

struct ProcessExecutor::Child {
  pid_t pid = -1;  // -1 once reaped: the number may belong to another process from then on
  bool cancelled = false;
  Completion completion;
  ChildOutput out{Stream::kStdout};
  ChildOutput err{Stream::kStderr};
  FeedPipe feed;
  StdinFeed in;            // --pipe: what the child reads on its stdin
  std::string input_file;  // --cat, --fifo: the file it reads instead, removed once it has ended

  ~Child() {
    if (!input_file.empty()) ::unlink(input_file.c_str());
  }

  // The child has started: its output is read from the pipes' read ends from now on (its
  // worker's, when `kept`).
  void take_output(const ProcessExecutorOptions& options, Pipe& out_pipe, Pipe& err_pipe,
                   Pipe& feed_pipe, const KeptPipes* kept) {
    if (options.output == OutputMode::kLines) {
      out.partial = OutputBuffer(options.memory_limit);
      err.partial = OutputBuffer(options.memory_limit);
    }
    if (kept != nullptr) {
      out.borrow(kept->out.read.get());
      err.borrow(kept->err.read.get());
    } else {
      out.take(std::move(out_pipe.read));
      err.take(std::move(err_pipe.read));
    }
    feed.fd = std::move(feed_pipe.read);
  }

  // Returns true when the child has ended and been reaped. `exited`: the caller knows that it has
  // (waitid said so).
  bool collect_exit(const ProcessExecutorOptions& options, bool exited) {
    if (!exited) {
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR) return false;
        die_on_system_error("waitid");  // ECHILD: someone else reaped our child
      }
      if (info.si_pid != pid) return false;
    }
    // The job's own process has ended. Whatever is left of its process group (background
    // processes, one that ignored SIGTERM) is killed now, as CI runners end a job's orphans:
    // it would otherwise outlive the run. The leader is not reaped yet, so its number still
    // names the group. A job that was told to end loses its group whatever the options say.
    if (cancelled || !options.keep_background) kill(-pid, SIGKILL);
    if (options.guardian != nullptr) options.guardian->forget(pid);
    int status = 0;
    const pid_t reaped = waitpid(pid, &status, WNOHANG);
    if (reaped != pid) {
      if (reaped < 0 && errno == EINTR) return false;
      die_on_system_error("waitpid");
    }
    pid = -1;
    completion.end = now();
    if (WIFSIGNALED(status)) {
      completion.signal = WTERMSIG(status);
      completion.exit_status = 0;
    } else {
      completion.exit_status = WEXITSTATUS(status);
    }
    return true;
  }

  // Returns true when the child has ended and its completion is whole; what it fed last goes to
  // `fed`. `exited`: as collect_exit().
  bool reap(const ProcessExecutorOptions& options, std::span<char> buffer, std::string& error,
            std::vector<FedRecord>& fed, bool exited = false) {
    if (pid > 0 && !collect_exit(options, exited)) return false;
    in.fd.reset();
    finish_output(options, completion, out, buffer, error);
    finish_output(options, completion, err, buffer, error);
    if (options.feedback) feed.finish(completion.worker, options.feed_delimiter, buffer, fed);
    if (feed.too_long) {
      // Its records went on past the one cut off, so the job cannot have done what it meant to.
      completion.error =
          "a record fed on file descriptor 3 was longer than 1 MiB (--feedback); "
          "the job's pipe was closed";
      if (completion.exit_status == 0 && completion.signal == 0) completion.exit_status = 1;
    }
    return true;
  }
};

ProcessExecutor::ProcessExecutor(ProcessExecutorOptions options, const sigset_t& original_mask)
    : options_(std::move(options)),
      original_mask_(original_mask),
      spawner_(original_mask),
      programs_(search_path()),
      wake_(options_.wake_fd),
      kept_((options_.output == OutputMode::kCapture || options_.output == OutputMode::kLines) &&
                    !options_.keep_background
                ? options_.kept_pipes
                : 0),
      dev_null_(above_stdio(::open("/dev/null", O_RDWR | O_CLOEXEC))) {
  if (!dev_null_.valid()) throw system_error("cannot open /dev/null");
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("BASH_FUNC_")) exported_functions_ = true;
  }
}

const std::string& ProcessExecutor::shell() {
  if (!shell_found_) {
    shell_found_ = true;
    if (options_.find_shell) options_.shell = options_.find_shell();
  }
  return options_.shell;
}

ProcessExecutor::~ProcessExecutor() {
  for (const auto& child : children_) {
    if (child->pid > 0) signal_child(child->pid, SIGKILL);
  }
  for (const auto& child : children_) {
    if (child->pid <= 0) continue;
    int status;
    while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (options_.guardian != nullptr) options_.guardian->forget(child->pid);
  }
  children_.clear();
  if (!options_.keep_background && is_child_subreaper()) {
    // The run is over: the processes that escaped their jobs' groups and came back to taskpool
    // end with it.
    const pid_t guardian = options_.guardian != nullptr ? options_.guardian->pid() : 0;
    end_adopted_children(
        [this, guardian](pid_t pid) { return pid == guardian || left_alone_.contains(pid); },
        options_.kill_after);
  }
}

void ProcessExecutor::leave_alone(pid_t pid, bool leave) {
  if (leave) {
    left_alone_.insert(pid);
  } else {
    left_alone_.erase(pid);
  }
}

void ProcessExecutor::start(const Attempt& attempt) { start(attempt, dev_null_.get()); }

void ProcessExecutor::not_started(Completion& completion, const StartFailure& failure) {
  completion.started = false;
  completion.exit_status = failure.exit_status;
  completion.error = failure.error;
  completion.short_of_resources = failure.short_of_resources;
  completion.own_shortage = failure.own_shortage && !options_.descriptors_shared;
  completion.end = now();
  ready_.push_back(std::move(completion));
}

// The child's descriptors: stdin, stdout and stderr (pipes, its worker's kept ones or its own,
// or /dev/null), and its feedback pipe. Returns 0, or make_pipe's errno.
int ProcessExecutor::plumb(Dups& dups, int stdin_fd, Pipe& out, Pipe& err, Pipe& feed,
                           WorkerId worker, KeptPipes*& kept) {
  dups.add(stdin_fd, STDIN_FILENO);
  if (options_.output == OutputMode::kDiscard) {
    dups.add(dev_null_.get(), STDOUT_FILENO);
    dups.add(dev_null_.get(), STDERR_FILENO);
  } else if (options_.output != OutputMode::kPassThrough) {
    int error = 0;
    kept = kept_.get(worker, error);
    if (error != 0) return error;
    for (Pipe* pipe : {&out, &err}) {
      if (kept != nullptr) break;
      if (error = make_pipe(*pipe); error != 0) return error;
      set_nonblocking(pipe->read.get());
    }
    dups.add((kept != nullptr ? kept->out.write : out.write).get(), STDOUT_FILENO);
    dups.add((kept != nullptr ? kept->err.write : err.write).get(), STDERR_FILENO);
  }
  if (options_.feedback) {
    // Above 3, so that no dup2 before this one overwrites it, nor is it its own target.
    if (const int error = make_pipe(feed, kFeedFd); error != 0) return error;
    set_nonblocking(feed.read.get());
    dups.add(feed.write.get(), kFeedFd);
    // No fed record can run any more: a job that feeds gets a broken pipe at once.
    if (feed_.mode == FeedOrder::Mode::kClose) feed.read.reset();
  }
  return 0;
}

void ProcessExecutor::start(const Attempt& attempt, int stdin_fd) {
  auto child = std::make_unique<Child>();
  Completion& completion = child->completion;
  completion.worker = attempt.worker;
  completion.start = now();

  const Command& command = attempt.command;
  if (auto error = nul_byte_error(command)) return not_started(completion, {126, *error});
  // A function bash exported (`export -f NAME`) is run by the shell, before any program NAME.
  const bool direct = !command.argv.empty() && !exported_function(command.argv.front()) &&
                      command.input_fifo.empty();
  std::vector<std::string> shell_argv;
  if (!direct) shell_argv = {shell(), "-c", command.line};
  if (!command.input_fifo.empty()) shell_argv = fifo_argv(shell(), command);
  std::vector<std::string> niced;
  if (options_.nice != 0) {
    niced = {"nice", "-n", std::to_string(options_.nice)};
    const auto& job = direct ? command.argv : shell_argv;
    niced.insert(niced.end(), job.begin(), job.end());
  }
  const std::vector<std::string>& argv = options_.nice != 0 ? niced
                                         : direct           ? command.argv
                                                            : shell_argv;
  std::optional<std::string> path = programs_.resolve(argv.front());
  if (!path) return not_started(completion, {127, argv.front() + ": command not found"});

  UniqueFd input;  // the child's end of its stdin pipe
  if (command.input && !command.input_file.empty()) {
    if (const int error = write_input_file(*command.input, command.input_file); error != 0) {
      return not_started(completion, {126, "cannot write " + command.input_file +
                                               " (--cat): " + std::strerror(error)});
    }
    child->input_file = command.input_file;
  } else if (command.input) {
    child->input_file = command.input_fifo;  // --fifo: removed, whatever the command did
    if (const int error = child->in.open(command.input, input); error != 0) {
      return not_started(completion, pipe_failure(error, argv.front()));
    }
    stdin_fd = input.get();
  }
  Pipe out;
  Pipe err;
  Pipe feed;
  Dups dups;
  KeptPipes* kept = nullptr;
  if (const int error = plumb(dups, stdin_fd, out, err, feed, attempt.worker, kept); error != 0) {
    return not_started(completion, pipe_failure(error, argv.front()));
  }
  pid_t pid = -1;
  char* const* envp = environment_.get(attempt.seq, attempt.worker);
  uint64_t* group_table =
      options_.guardian != nullptr ? options_.guardian->before_start() : nullptr;
  int error = spawner_.spawn(*path, argv, dups, envp, group_table, pid);
  if (error == ENOEXEC && direct) {
    // A script without "#!": the shell runs such a file itself, so it goes through the shell.
    shell_argv = {shell(), "-c", command.line};
    path = programs_.resolve(shell());
    if (!path) return not_started(completion, {127, shell() + ": command not found"});
    error = spawner_.spawn(*path, shell_argv, dups, envp, group_table, pid);
  }
  if (error != 0)
    return not_started(completion, spawn_failure(error, *path, argv.front(), command));

  child->pid = pid;
  if (options_.guardian != nullptr) options_.guardian->watch(pid);
  child->take_output(options_, out, err, feed, kept);
  children_.push_back(std::move(child));
  // The write ends close here: from now on only the child (and its children) hold them, so the
  // pipes reach end of file when they are done.
}

bool ProcessExecutor::exported_function(const std::string& name) {
  if (!exported_functions_ || std::getenv(("BASH_FUNC_" + name + "%%").c_str()) == nullptr) {
    return false;
  }
  const std::string_view bash = shell();  // only bash reads the functions it exported
  return bash == "bash" || bash.ends_with("/bash");
}

void ProcessExecutor::cancel(WorkerId worker, CancelMode mode) {
  for (const auto& child : children_) {
    if (child->completion.worker != worker || child->pid <= 0) continue;
    child->cancelled = true;
    signal_child(child->pid, mode == CancelMode::kTerminate ? SIGTERM : SIGKILL);
    return;
  }
}

void ProcessExecutor::reap_all(std::span<char> buffer) {
  for (auto it = children_.begin(); it != children_.end();) {
    if ((*it)->reap(options_, buffer, output_error_, fed_)) {
      ready_.push_back(std::move((*it)->completion));
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
}

// The kernel says which children have ended, one call per ended child, instead of one waitpid
// per running child at every wake-up: with a thousand jobs running, that loop cost more than
// everything else taskpool does (WNOWAIT leaves the child for reap() to collect).
void ProcessExecutor::reap_ended(std::span<char> buffer) {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD: no child at all
    }
    if (info.si_pid == 0) return;  // none has ended
    const auto it = std::find_if(children_.begin(), children_.end(),
                                 [&](const auto& child) { return child->pid == info.si_pid; });
    if (it == children_.end()) {
      if (left_alone_.contains(info.si_pid)) {
        // Whoever started it reaps it: look at each of ours instead.
        reap_all(buffer);
        return;
      }
      // Not a job: a process adopted as child subreaper (a job's escaped background process)
      // that has ended. Reaped, or it would stay a zombie.
      int status = 0;
      while (waitpid(info.si_pid, &status, WNOHANG) < 0 && errno == EINTR) {
      }
      continue;
    }
    if (!(*it)->reap(options_, buffer, output_error_, fed_, /*exited=*/true)) {
      reap_all(buffer);
      return;
    }
    ready_.push_back(std::move((*it)->completion));
    children_.erase(it);
  }
}

void ProcessExecutor::set_feed(FeedOrder order) {
  feed_ = order;
  if (order.mode != FeedOrder::Mode::kClose) return;
  // No fed record can run any more: a job still feeding (a runaway loop) gets a broken pipe
  // rather than taskpool reading and dropping its records for ever.
  for (const auto& child : children_) child->feed.fd.reset();
}

void ProcessExecutor::read_one_chunk_each(std::span<char> buffer) {
  for (const auto& child : children_) {
    if (available(child->feed.fd) == 0) continue;
    child->feed.read(child->completion.worker, options_.feed_delimiter, buffer, kFeedChunk, fed_);
  }
}

size_t ProcessExecutor::feeders_waiting() const {
  if (!options_.feedback) return 0;
  return static_cast<size_t>(std::ranges::count_if(children_, [](const auto& child) {
    return child->pid > 0 && available(child->feed.fd) > 0;
  }));
}

// What one wait() polls: fds[0] is the wake-up, then sources_, feeders_, writers_, the caller's.
void ProcessExecutor::poll_set(std::span<const pollfd> also_watch) {
  fds_.clear();
  sources_.clear();
  feeders_.clear();
  writers_.clear();
  fds_.push_back({wake_.get(), POLLIN, 0});
  for (const auto& child : children_) {
    for (ChildOutput* output : {&child->out, &child->err}) {
      if (output->fd < 0) continue;
      fds_.push_back({output->fd, POLLIN, 0});
      sources_.emplace_back(child.get(), output);
    }
  }
  if (feed_.mode == FeedOrder::Mode::kRead) {
    for (const auto& child : children_) {
      if (!child->feed.fd.valid()) continue;
      fds_.push_back({child->feed.fd.get(), POLLIN, 0});
      feeders_.push_back(child.get());
    }
  }
  for (const auto& child : children_) {
    if (!child->in.fd.valid()) continue;
    fds_.push_back({child->in.fd.get(), POLLOUT, 0});
    writers_.push_back(&child->in);
  }
  for (const pollfd& fd : also_watch) fds_.push_back({fd.fd, fd.events, 0});
}

// Reads what poll_set()'s descriptors have for taskpool. Returns whether wait() is to return.
bool ProcessExecutor::serve(std::span<char> buffer, std::span<pollfd> also_watch) {
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (fds_[i + 1].revents == 0) continue;
    auto [child, output] = sources_[i];
    read_output(options_, child->completion, *output, buffer, kReadLimitPerRound, output_error_);
  }
  const size_t first_feeder = 1 + sources_.size();
  for (size_t i = 0; i < feeders_.size(); ++i) {
    if (fds_[first_feeder + i].revents == 0) continue;
    Child& child = *feeders_[i];
    child.feed.read(child.completion.worker, options_.feed_delimiter, buffer, kReadLimitPerRound,
                    fed_, [this] { return fed_.size() < feed_.records; });
  }
  const size_t first_writer = first_feeder + feeders_.size();
  for (size_t i = 0; i < writers_.size(); ++i) {
    if (fds_[first_writer + i].revents != 0) writers_[i]->write_some();
  }
  bool watched = false;
  const size_t first_watched = first_writer + writers_.size();
  for (size_t i = 0; i < also_watch.size(); ++i) {
    also_watch[i].revents = fds_[first_watched + i].revents;
    watched = watched || also_watch[i].revents != 0;
  }
  if (fds_[0].revents != 0) {
    wake_.drain();
    return true;
  }
  // Fed records: the scheduler starts jobs for them before more are read. An output error: the
  // caller decides whether the run goes on.
  return !fed_.empty() || !output_error_.empty() || watched;
}

WaitResult ProcessExecutor::wait(TimePoint deadline, std::span<pollfd> also_watch) {
  for (pollfd& fd : also_watch) fd.revents = 0;
  if (buffer_ == nullptr) buffer_ = std::make_unique_for_overwrite<char[]>(kReadChunk);
  const std::span<char> buffer(buffer_.get(), kReadChunk);
  reap_ended(buffer);
  if (feed_.mode == FeedOrder::Mode::kOneChunk) {
    // Held for a while: jobs may wait on each other, so one chunk of each, now, ends that.
    read_one_chunk_each(buffer);
    feed_.mode = FeedOrder::Mode::kHold;
  }
  while (ready_.empty() && fed_.empty()) {
    poll_set(also_watch);
    timespec timeout;
    if (deadline != kNever) timeout = timespec_until(deadline);
    // SIGCHLD (and whatever the caller handles) is blocked everywhere else, so a child that ends
    // at any moment, even before this call, interrupts it: no exit is missed.
    const int ready =
        ppoll(fds_.data(), fds_.size(), deadline == kNever ? nullptr : &timeout, &original_mask_);
    if (ready < 0) {
      if (errno != EINTR) throw system_error("ppoll");
      reap_ended(buffer);
      break;  // SIGCHLD, or a signal the caller wants to see to
    }
    if (ready == 0) break;  // the deadline
    if (serve(buffer, also_watch)) break;
    if (deadline != kNever && now() >= deadline) break;
  }
  return WaitResult{std::exchange(ready_, {}), std::exchange(fed_, {}), feeders_waiting()};
}

void ProcessExecutor::wake() { wake_.notify(); }

size_t ProcessExecutor::running() const { return children_.size(); }

void ProcessExecutor::suspend(bool stopped) {
  for (const auto& child : children_) {
    if (child->pid > 0) signal_child(child->pid, stopped ? SIGSTOP : SIGCONT);
  }
}

namespace {
void on_child_signal(int) {}
}  // namespace

void install_child_signal_handler() {
  struct sigaction action = {};
  action.sa_handler = on_child_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: the signal is there to interrupt ppoll. SA_NOCLDSTOP: a stopped child has not
  // ended.
  action.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &action, nullptr) != 0) die_on_system_error("sigaction");
}

}  // namespace taskpool
