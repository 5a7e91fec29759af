// Starting a child process: its signals, its process group, its descriptors.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/command.h"
#include "tasks/process_start.h"

namespace taskpool {

// Starts jobs (tasks/process_start.h): every child gets a process group of its own, the signal
// mask `mask`, and the default disposition for SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGCHLD
// and SIGQUIT (an ignored signal stays ignored across exec: a command must not inherit
// taskpool's SIG_IGN for SIGPIPE, or it would never die writing to a closed pipe), and for the
// signals taskpool has a handler for when the Spawner is made.
// REQUIRES: the caller's signal handlers are installed before the Spawner is made.
// Not thread-safe: one spawn at a time (they share the child's stack).
class Spawner final {
 public:
  explicit Spawner(const sigset_t& mask);

  // Starts `path` with `argv` and the environment `envp`, its descriptors as `dups` make them,
  // its group marked in `group_table` (ProcessStart::group_table) when that is not null.
  // Returns 0 and sets `pid`, or returns the errno of the step or the exec that failed (the
  // child has been reaped then).
  int spawn(const std::string& path, const std::vector<std::string>& argv, const Dups& dups,
            char* const* envp, uint64_t* group_table, pid_t& pid);

 private:
  ProcessStart start_;  // what every child shares: its mask, defaults and group
  ChildStack stack_;
  std::vector<char*> args_;  // the argument vector, kept from one spawn to the next
};

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
  bool own_shortage = false;  // Completion::own_shortage: EMFILE, taskpool's `ulimit -n`
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
