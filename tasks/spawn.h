// Starting a child process with posix_spawn: its signals, its process group, its descriptors.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/command.h"

namespace taskpool {

// A child's spawn attributes: the signal mask `mask`, default dispositions for the signals
// taskpool handles or ignores, a process group of its own.
class SpawnAttributes final {
 public:
  explicit SpawnAttributes(const sigset_t& mask);
  ~SpawnAttributes();
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  const posix_spawnattr_t* get() const { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

// The descriptors a child gets, as dup2s done in order.
class FileActions final {
 public:
  FileActions();
  ~FileActions();
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;

  void dup2(int from, int to);
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// A child's descriptors as the dup2s to do, in order: at most four (stdin, stdout, stderr and the
// feedback pipe).
struct Dups {
  std::array<std::pair<int, int>, 4> pairs{};  // {from, to}
  size_t size = 0;

  void add(int from, int to) { pairs.at(size++) = {from, to}; }
  bool operator==(const Dups& other) const {
    return size == other.size &&
           std::equal(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(size),
                      other.pairs.begin());
  }
};

// The file actions that do `dups`.
std::unique_ptr<FileActions> make_file_actions(const Dups& dups);

// FileActions made once for each set of dups seen: a child's pipes come out of the same few
// descriptor numbers (the lowest free ones) job after job, and glibc checks each descriptor of a
// new action against the descriptor limit with a system call (six a job for three dup2s).
class FileActionsCache final {
 public:
  const FileActions& get(const Dups& dups);

 private:
  static constexpr size_t kMaxEntries = 16;  // more sets of descriptors than this: start over
  std::vector<std::pair<Dups, std::unique_ptr<FileActions>>> entries_;
};

// Returns 0 and sets `pid`, or returns the errno of the failed spawn or exec (glibc's posix_spawn
// waits for the exec and reports its failure). `envp`: the child's environment (null: this
// process's). `args`: room for the argument vector, kept by a caller that spawns often.
int spawn(const std::string& path, const std::vector<std::string>& argv, const FileActions& actions,
          const SpawnAttributes& attributes, pid_t& pid, char* const* envp,
          std::vector<char*>& args);

// A job's environment, as GNU parallel gives it: this process's, with PARALLEL_SEQ (the job
// number), PARALLEL_JOBSLOT (the worker, {%}) and PARALLEL_PID (taskpool's pid) set. The
// environment is copied once; each job adds its three strings. Not thread-safe.
class JobEnvironment {
 public:
  JobEnvironment();
  // envp_ points into the object itself.
  JobEnvironment(const JobEnvironment&) = delete;
  JobEnvironment& operator=(const JobEnvironment&) = delete;
  // The environment for attempt `seq` on `worker`: valid until the next call.
  char* const* get(uint64_t seq, int worker);

 private:
  // "NAME=" and room for the digits of a uint64_t and the NUL: each job's values are written in
  // place, so that a job costs no allocation.
  template <size_t N>
  struct Variable {
    std::array<char, N + 21> text{};
    void set(const char (&name)[N], uint64_t value);
  };
  Variable<sizeof("PARALLEL_SEQ=")> seq_;
  Variable<sizeof("PARALLEL_JOBSLOT=")> slot_;
  Variable<sizeof("PARALLEL_PID=")> pid_;
  std::vector<char*> envp_;  // environ without the three, then the three, then null
};

// How an attempt that could not start is reported.
struct StartFailure {
  int exit_status;
  std::string error;
  bool short_of_resources = false;
};

// For a spawn of `path` (for `program`, running `command`) that failed with `error`.
StartFailure spawn_failure(int error, const std::string& path, const std::string& program,
                           const Command& command);

// For a pipe for `program` that could not be made (`error`, make_pipe's).
StartFailure pipe_failure(int error, const std::string& program);

// The directories a program name is looked up in: PATH, or the system's default.
std::string search_path();

// Forks and execs `path` with `argv` in a process group of its own, tied to this process: it
// gets SIGKILL when taskpool dies (PR_SET_PDEATHSIG), which posix_spawn cannot ask for. Its
// standard streams are `in`, `out` and `err` (-1: inherited), its signal mask `mask`, and the
// signals taskpool handles or ignores are set back to their defaults. Returns its pid, or -1
// with errno set when fork failed (an exec that fails exits 127).
pid_t spawn_tied(const std::string& path, std::vector<std::string> argv, const sigset_t& mask,
                 int in, int out, int err);

// Signals the process group of a child (its own, made at spawn), so the command's children end
// too. A command that moved to another group is signalled on its own as well.
void signal_child(pid_t pid, int sig);

}  // namespace taskpool
