#include "tasks/process_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <utility>

#include "core/error.h"
#include "tasks/adopted.h"

namespace taskpool {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// One child that writes without pause must not keep wait() from serving the others. ppoll is
// level-triggered, so what is left is read in the next round.
constexpr size_t kReadLimitPerRound = 16 * kReadChunk;

// How long feeding jobs are held before one chunk of each is read anyway (see wait()).
constexpr auto kFeedRescueInterval = std::chrono::seconds(1);

TimePoint now() { return std::chrono::steady_clock::now(); }

// For the posix_spawn* calls that only fail without memory: they report the error as a value.
void check_spawn_call(int error, const char* call) {
  if (error == 0) return;
  errno = error;
  die_on_system_error(call);
}

// Owns one file descriptor.
class UniqueFd final {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Not retried on EINTR: Linux has released the descriptor even then, and a second close could
  // hit one that was opened in the meantime.
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The feedback pipe's number in a child.
constexpr int kFeedFd = 3;

// Moves `fd` above `highest` (2: out of 0..2). A child gets its stdin, stdout, stderr (and
// feedback pipe) by dup2 in that order; a source descriptor among them (possible when taskpool
// itself runs with one of them closed) would be overwritten before its own dup2. Returns -1 with
// errno set on failure.
int above_stdio(int fd, int highest = STDERR_FILENO) {
  if (fd < 0 || fd > highest) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, highest + 1);
  const int saved_errno = errno;
  ::close(fd);
  errno = saved_errno;
  return moved;
}

// Whether a failure to make a pipe or a process is for want of something other jobs hold (file
// descriptors, processes, memory), which they give back when they end.
bool lack_of_resources(int error) {
  return error == EAGAIN || error == ENOMEM || error == EMFILE || error == ENFILE;
}

struct StartFailure {
  int exit_status;
  std::string error;
  bool short_of_resources = false;
};

// How a spawn of `path` (for `program`) that failed with `error` is reported.
StartFailure spawn_failure(int error, const std::string& path, const std::string& program,
                           const Command& command) {
  if (error == E2BIG) {
    return {126, program + ": argument too long: the command line is " +
                     std::to_string(command.line.size()) +
                     " bytes, more than the system lets a program take"};
  }
  if (lack_of_resources(error)) {
    // No process could be made now (the user's process limit, `ulimit -u`, or memory): the job
    // did not run, and may once other processes end (see Completion::short_of_resources).
    return {126, path + ": cannot start: " + std::strerror(error), true};
  }
  // The statuses the shell gives for the same failures.
  return {error == ENOENT ? 127 : 126, path + ": " + std::strerror(error)};
}

struct Pipe {
  UniqueFd read;   // taskpool's end, non-blocking: one ppoll serves every child
  UniqueFd write;  // the child's end, blocking as programs expect
};

// Returns 0 or the errno of the failure. The write end goes above `highest`.
int make_pipe(Pipe& pipe, int highest = STDERR_FILENO) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  pipe.read = UniqueFd(fds[0]);
  pipe.write = UniqueFd(above_stdio(fds[1], highest));
  if (!pipe.write.valid()) return errno;
  // A new pipe's end has no other status flag to keep: no F_GETFL first.
  if (fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK) != 0) {
    die_on_system_error("fcntl");
  }
  return 0;
}

class SpawnAttributes final {
 public:
  explicit SpawnAttributes(const sigset_t& mask) {
    check_spawn_call(posix_spawnattr_init(&attributes_), "posix_spawnattr_init");
    // Ignored signals stay ignored across exec; a command must not inherit taskpool's SIG_IGN
    // for SIGPIPE (it would never die writing to a closed pipe), SIGXFSZ (nor past `ulimit -f`)
    // or any of these.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) {
      sigaddset(&defaults, sig);
    }
    check_spawn_call(posix_spawnattr_setsigdefault(&attributes_, &defaults),
                     "posix_spawnattr_setsigdefault");
    check_spawn_call(posix_spawnattr_setsigmask(&attributes_, &mask), "posix_spawnattr_setsigmask");
    // A group of its own: cancel reaches the command's whole tree, and the terminal's Ctrl-C
    // reaches taskpool alone, which then decides how the commands end.
    check_spawn_call(posix_spawnattr_setpgroup(&attributes_, 0), "posix_spawnattr_setpgroup");
    check_spawn_call(
        posix_spawnattr_setflags(&attributes_,
                                 static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF)),
        "posix_spawnattr_setflags");
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  const posix_spawnattr_t* get() const { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

class FileActions final {
 public:
  FileActions() {
    check_spawn_call(posix_spawn_file_actions_init(&actions_), "posix_spawn_file_actions_init");
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;

  void dup2(int from, int to) {
    check_spawn_call(posix_spawn_file_actions_adddup2(&actions_, from, to),
                     "posix_spawn_file_actions_adddup2");
  }
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Returns 0 and sets `pid`, or returns the errno of the failed spawn or exec (glibc's posix_spawn
// waits for the exec and reports its failure).
int spawn(const std::string& path, const std::vector<std::string>& argv, const FileActions& actions,
          const SpawnAttributes& attributes, pid_t& pid) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  return posix_spawn(&pid, path.c_str(), actions.get(), attributes.get(), args.data(), environ);
}

std::string search_path() {
  if (const char* path = std::getenv("PATH")) return path;
  // Without PATH the shell searches a default of its own; this is the system's.
  const size_t size = confstr(_CS_PATH, nullptr, 0);
  if (size == 0) return "/bin:/usr/bin";
  std::string path(size, '\0');
  confstr(_CS_PATH, path.data(), size);
  path.resize(size - 1);
  return path;
}

// Signals the process group of a child (its own, made at spawn), so the command's children end
// too. A command that moved to another group is signalled on its own as well.
void signal_child(pid_t pid, int sig) {
  const bool group_signalled = kill(-pid, sig) == 0;
  if (!group_signalled || getpgid(pid) != pid) kill(pid, sig);
}

// One of a child's output streams, as taskpool reads it.
struct ChildOutput {
  explicit ChildOutput(Stream s) : stream(s) {}

  Stream stream;
  UniqueFd fd;  // invalid at end of file, for kDiscard, and once the child has ended
  // kLines: the start of a line whose end has not come yet. A line longer than the memory limit
  // waits in a temporary file, as captured output does.
  OutputBuffer partial;
  bool lost = false;  // what came could not be kept (no room for a temporary file): count only
};

// Passes what `output.partial` holds to on_output, in order, and empties it.
void pass_partial(const ProcessExecutorOptions& options, WorkerId worker, ChildOutput& output) {
  if (output.partial.empty()) return;
  if (options.on_output) {
    output.partial.for_each_chunk(
        [&](std::string_view chunk) { options.on_output(worker, output.stream, chunk); });
  }
  output.partial = OutputBuffer(options.memory_limit);
}

void pass_lines(const ProcessExecutorOptions& options, WorkerId worker, ChildOutput& output,
                std::string_view data) {
  const size_t last_newline = data.rfind('\n');
  if (last_newline == std::string_view::npos) {
    output.partial.append(data);
    return;
  }
  const std::string_view lines = data.substr(0, last_newline + 1);
  if (output.partial.empty()) {
    if (options.on_output) options.on_output(worker, output.stream, lines);
  } else if (!output.partial.spilled() &&
             output.partial.size() + lines.size() <= options.memory_limit) {
    output.partial.append(lines);
    pass_partial(options, worker, output);
  } else {
    // A long line: its start goes first, then the rest, one call right after the other.
    pass_partial(options, worker, output);
    if (options.on_output) options.on_output(worker, output.stream, lines);
  }
  output.partial.append(data.substr(last_newline + 1));
}

// Throws Error when output that must be kept finds no room (see OutputBuffer::append).
void deliver(const ProcessExecutorOptions& options, Completion& completion, ChildOutput& output,
             std::string_view data) {
  const bool is_stdout = output.stream == Stream::kStdout;
  (is_stdout ? completion.stdout_bytes : completion.stderr_bytes) += data.size();
  if (output.lost) return;
  switch (options.output) {
    case OutputMode::kCapture:
      (is_stdout ? completion.stdout_data : completion.stderr_data)->append(data);
      break;
    case OutputMode::kLines:
      pass_lines(options, completion.worker, output, data);
      break;
    case OutputMode::kDiscard:
      break;
  }
}

// Reads what is there, up to `limit` bytes, without waiting; closes the stream at end of file.
// Output that cannot be kept is counted and dropped from then on; the first such error goes to
// `error`.
void read_output(const ProcessExecutorOptions& options, Completion& completion, ChildOutput& output,
                 std::span<char> buffer, size_t limit, std::string& error) {
  while (output.fd.valid() && limit > 0) {
    const ssize_t n = ::read(output.fd.get(), buffer.data(), std::min(buffer.size(), limit));
    if (n > 0) {
      const auto size = static_cast<size_t>(n);
      try {
        deliver(options, completion, output, std::string_view(buffer.data(), size));
      } catch (const Error& e) {
        output.lost = true;
        if (error.empty()) error = e.what();
      }
      limit -= size;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      output.fd.reset();  // end of file, or a read error that no retry would mend
    }
  }
}

// The longest record a job may feed: a path, a URL, a line of columns. Longer is an error of
// the job's (and keeps one job from filling taskpool's memory with one record).
constexpr size_t kMaxFedRecord = 1024 * 1024;

// A child's feedback pipe (file descriptor 3 in the child), as taskpool reads it.
struct ChildFeed {
  UniqueFd fd;            // invalid at end of file, and once the child has ended
  std::string partial;    // the start of a record whose delimiter has not come yet
  bool too_long = false;  // it fed a record past kMaxFedRecord: the pipe was closed
};

// Bytes waiting in a pipe.
size_t available(const UniqueFd& fd) {
  int count = 0;
  if (!fd.valid() || ioctl(fd.get(), FIONREAD, &count) != 0 || count < 0) return 0;
  return static_cast<size_t>(count);
}

// Passes every whole record in `data` (with what `feed.partial` held) to on_feed.
void pass_records(const ProcessExecutorOptions& options, WorkerId worker, ChildFeed& feed,
                  std::string_view data) {
  for (size_t end; (end = data.find(options.feed_delimiter)) != std::string_view::npos;) {
    feed.partial.append(data.substr(0, end));
    options.on_feed(worker, std::exchange(feed.partial, {}));
    data.remove_prefix(end + 1);
  }
  feed.partial.append(data);
  if (feed.partial.size() > kMaxFedRecord) {
    // The writer gets a broken pipe; its attempt fails (see Child::reap).
    feed.too_long = true;
    feed.partial.clear();
    feed.fd.reset();
  }
}

// Reads from the feedback pipe without waiting: while `more()` says so (room for records, or
// none needed), or up to `limit` bytes when `more` is empty. Closes it at end of file.
void read_feed(const ProcessExecutorOptions& options, WorkerId worker, ChildFeed& feed,
               std::span<char> buffer, size_t limit, const std::function<bool()>& more) {
  // Small reads, so that the records taken past a full window stay few.
  constexpr size_t kFeedChunk = 4096;
  while (feed.fd.valid() && limit > 0 && (!more || more())) {
    const ssize_t n =
        ::read(feed.fd.get(), buffer.data(), std::min({buffer.size(), limit, kFeedChunk}));
    if (n > 0) {
      pass_records(options, worker, feed, std::string_view(buffer.data(), static_cast<size_t>(n)));
      limit -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      feed.fd.reset();
    }
  }
}

// After the child has ended: takes what is in the feedback pipe now, and the last record even
// without its delimiter.
void finish_feed(const ProcessExecutorOptions& options, WorkerId worker, ChildFeed& feed,
                 std::span<char> buffer) {
  const size_t left = available(feed.fd);
  if (left > 0) read_feed(options, worker, feed, buffer, left, {});
  feed.fd.reset();
  if (!feed.partial.empty() && !feed.too_long) {
    options.on_feed(worker, std::exchange(feed.partial, {}));
  }
}

// After the child has ended: takes only what is in the pipe now. Its own children may keep the
// pipe open long after (`sleep 100 &`), and the attempt must not wait for them.
void finish_output(const ProcessExecutorOptions& options, Completion& completion,
                   ChildOutput& output, std::span<char> buffer, std::string& error) {
  int available = 0;
  if (output.fd.valid() && ioctl(output.fd.get(), FIONREAD, &available) == 0 && available > 0) {
    read_output(options, completion, output, buffer, static_cast<size_t>(available), error);
  }
  output.fd.reset();
  try {
    pass_partial(options, completion.worker, output);
  } catch (const Error& e) {
    if (error.empty()) error = e.what();
  }
}

}  // namespace

struct ProcessExecutor::Child {
  pid_t pid = -1;  // -1 once reaped: the number may belong to another process from then on
  bool cancelled = false;
  Completion completion;
  ChildOutput out{Stream::kStdout};
  ChildOutput err{Stream::kStderr};
  ChildFeed feed;

  // The child has started: its output is read from the pipes' read ends from now on.
  void take_output(const ProcessExecutorOptions& options, Pipe& out_pipe, Pipe& err_pipe,
                   Pipe& feed_pipe) {
    if (options.output == OutputMode::kLines) {
      out.partial = OutputBuffer(options.memory_limit);
      err.partial = OutputBuffer(options.memory_limit);
    }
    if (options.output == OutputMode::kCapture) {
      completion.stdout_data = std::make_unique<OutputBuffer>(options.memory_limit);
      completion.stderr_data = std::make_unique<OutputBuffer>(options.memory_limit);
    }
    out.fd = std::move(out_pipe.read);
    err.fd = std::move(err_pipe.read);
    feed.fd = std::move(feed_pipe.read);
  }

  // Returns true when the child has ended and its completion is whole. `exited`: the caller
  // knows that it has (waitid said so), and it is not reaped yet.
  bool reap(const ProcessExecutorOptions& options, std::span<char> buffer, std::string& error,
            bool exited = false) {
    if (pid > 0) {
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
    }
    finish_output(options, completion, out, buffer, error);
    finish_output(options, completion, err, buffer, error);
    if (options.on_feed) finish_feed(options, completion.worker, feed, buffer);
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
      programs_(search_path()),
      wake_(options_.wake_fd) {
  dev_null_fd_ = above_stdio(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (dev_null_fd_ < 0) throw system_error("cannot open /dev/null");
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
  ::close(dev_null_fd_);
}

void ProcessExecutor::leave_alone(pid_t pid, bool leave) {
  if (leave) {
    left_alone_.insert(pid);
  } else {
    left_alone_.erase(pid);
  }
}

void ProcessExecutor::start(const Attempt& attempt) { start(attempt, dev_null_fd_); }

void ProcessExecutor::start(const Attempt& attempt, int stdin_fd) {
  auto child = std::make_unique<Child>();
  Completion& completion = child->completion;
  completion.worker = attempt.worker;
  completion.start = now();
  const auto not_started = [&](int exit_status, std::string error, bool lacking = false) {
    completion.started = false;
    completion.exit_status = exit_status;
    completion.error = std::move(error);
    completion.short_of_resources = lacking;
    completion.end = now();
    ready_.push_back(std::move(completion));
  };

  const Command& command = attempt.command;
  if (auto error = nul_byte_error(command)) return not_started(126, std::move(*error));
  const bool direct = !command.argv.empty();
  std::vector<std::string> shell_argv;
  if (!direct) shell_argv = {options_.shell, "-c", command.line};
  const std::vector<std::string>& argv = direct ? command.argv : shell_argv;
  std::optional<std::string> path = programs_.resolve(argv.front());
  if (!path) return not_started(127, argv.front() + ": command not found");

  Pipe out;
  Pipe err;
  FileActions actions;
  actions.dup2(stdin_fd, STDIN_FILENO);
  if (options_.output == OutputMode::kDiscard) {
    actions.dup2(dev_null_fd_, STDOUT_FILENO);
    actions.dup2(dev_null_fd_, STDERR_FILENO);
  } else {
    int error = make_pipe(out);
    if (error == 0) error = make_pipe(err);
    if (error != 0) {
      return not_started(126, argv.front() + ": cannot create a pipe: " + std::strerror(error),
                         lack_of_resources(error));
    }
    actions.dup2(out.write.get(), STDOUT_FILENO);
    actions.dup2(err.write.get(), STDERR_FILENO);
  }
  Pipe feed;
  if (options_.on_feed) {
    // Above 3, so that no dup2 before this one overwrites it, nor is it its own target.
    if (const int error = make_pipe(feed, kFeedFd); error != 0) {
      return not_started(126, argv.front() + ": cannot create a pipe: " + std::strerror(error),
                         lack_of_resources(error));
    }
    actions.dup2(feed.write.get(), kFeedFd);
    // No fed record can run any more: a job that feeds gets a broken pipe at once.
    if (options_.feed_closed && options_.feed_closed()) feed.read.reset();
  }
  const SpawnAttributes attributes(original_mask_);

  pid_t pid = -1;
  int error = spawn(*path, argv, actions, attributes, pid);
  if (error == ENOEXEC && direct) {
    // A script without "#!": the shell runs such a file itself, so it goes through the shell.
    shell_argv = {options_.shell, "-c", command.line};
    path = programs_.resolve(options_.shell);
    if (!path) return not_started(127, options_.shell + ": command not found");
    error = spawn(*path, shell_argv, actions, attributes, pid);
  }
  if (error != 0) {
    const StartFailure failure = spawn_failure(error, *path, argv.front(), command);
    return not_started(failure.exit_status, failure.error, failure.short_of_resources);
  }

  child->pid = pid;
  if (options_.guardian != nullptr) options_.guardian->watch(pid);
  child->take_output(options_, out, err, feed);
  children_.push_back(std::move(child));
  // The write ends close here: from now on only the child (and its children) hold them, so the
  // pipes reach end of file when they are done.
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
    if ((*it)->reap(options_, buffer, output_error_)) {
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
    if (!(*it)->reap(options_, buffer, output_error_, /*exited=*/true)) {
      reap_all(buffer);
      return;
    }
    ready_.push_back(std::move((*it)->completion));
    children_.erase(it);
  }
}

bool ProcessExecutor::rescue_feeds(std::span<char> buffer) {
  // Held for a while: jobs may wait on each other (one on a lock a feeder holds) so that
  // neither rule of read_feeds() ever lets the feeders go. One chunk each, now and then, ends
  // that.
  last_feed_rescue_ = now();
  bool fed = false;
  for (const auto& child : children_) {
    if (available(child->feed.fd) == 0) continue;
    read_feed(options_, child->completion.worker, child->feed, buffer, kReadChunk,
              [first = true]() mutable { return std::exchange(first, false); });
    fed = true;
  }
  return fed;
}

std::vector<Completion> ProcessExecutor::wait(TimePoint deadline) {
  const std::unique_ptr<char[]> storage(new char[kReadChunk]);
  const std::span<char> buffer(storage.get(), kReadChunk);
  reap_ended(buffer);
  std::vector<pollfd> fds;
  std::vector<std::pair<Child*, ChildOutput*>> sources;  // fds[i + 1] belongs to sources[i]
  std::vector<Child*> feeders;  // then fds[1 + sources.size() + i] belongs to feeders[i]
  bool fed = false;
  while (ready_.empty() && !fed) {
    fds.clear();
    sources.clear();
    feeders.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    for (const auto& child : children_) {
      for (ChildOutput* output : {&child->out, &child->err}) {
        if (!output->fd.valid()) continue;
        fds.push_back({output->fd.get(), POLLIN, 0});
        sources.emplace_back(child.get(), output);
      }
    }
    if (options_.feed_closed && options_.feed_closed()) {
      // No fed record can run any more: a job still feeding (a runaway loop) gets a broken
      // pipe rather than taskpool reading and dropping its records for ever.
      for (const auto& child : children_) child->feed.fd.reset();
    }
    bool held = !read_feeds();
    if (held && now() >= last_feed_rescue_ + kFeedRescueInterval && rescue_feeds(buffer)) {
      fed = true;
      break;
    }
    if (!held) {
      for (const auto& child : children_) {
        if (!child->feed.fd.valid()) continue;
        fds.push_back({child->feed.fd.get(), POLLIN, 0});
        feeders.push_back(child.get());
      }
    }
    // Held feeders are looked at again now and then: when all running children come to wait on
    // their pipes, they are read after all.
    constexpr auto kHeldRecheck = std::chrono::milliseconds(50);
    const TimePoint until = held ? std::min(deadline, now() + kHeldRecheck) : deadline;
    timespec timeout;
    if (until != kNever) timeout = timespec_until(until);
    // SIGCHLD (and whatever the caller handles) is blocked everywhere else, so a child that ends
    // at any moment, even before this call, interrupts it: no exit is missed.
    const int ready =
        ppoll(fds.data(), fds.size(), until == kNever ? nullptr : &timeout, &original_mask_);
    if (ready < 0) {
      if (errno != EINTR) throw system_error("ppoll");
      reap_ended(buffer);
      break;  // SIGCHLD, or a signal the caller wants to see to
    }
    if (ready == 0) {
      if (until < deadline) continue;  // only the recheck of held feeders
      break;                           // the deadline
    }
    for (size_t i = 0; i < sources.size(); ++i) {
      if (fds[i + 1].revents == 0) continue;
      auto [child, output] = sources[i];
      read_output(options_, child->completion, *output, buffer, kReadLimitPerRound, output_error_);
    }
    for (size_t i = 0; i < feeders.size(); ++i) {
      if (fds[1 + sources.size() + i].revents == 0) continue;
      Child& child = *feeders[i];
      read_feed(options_, child.completion.worker, child.feed, buffer, kReadLimitPerRound,
                [this] { return read_feeds(); });
      fed = true;  // the scheduler starts jobs for the records before more are read
    }
    if (!output_error_.empty()) break;  // the caller decides whether the run goes on
    if (fds[0].revents != 0) {
      wake_.drain();
      break;
    }
    if (deadline != kNever && now() >= deadline) break;
  }
  return std::exchange(ready_, {});
}

void ProcessExecutor::wake() { wake_.notify(); }

size_t ProcessExecutor::running() const { return children_.size(); }

bool ProcessExecutor::read_feeds() {
  if (feed_room_now()) {
    last_feed_rescue_ = now();  // not held: the rescue clock starts when the holding does
    return true;
  }
  return every_child_waits_on_feed();
}

bool ProcessExecutor::feed_room_now() const { return !options_.feed_room || options_.feed_room(); }

bool ProcessExecutor::every_child_waits_on_feed() const {
  // No room: read only when every running child has a record waiting in its pipe, since none of
  // them might end otherwise and free a worker for the records already taken.
  size_t running = 0;
  size_t waiting = 0;
  for (const auto& child : children_) {
    if (child->pid <= 0) continue;
    ++running;
    if (available(child->feed.fd) > 0) ++waiting;
  }
  return running > 0 && waiting == running;
}

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
