// The guardian: a small process that ends the running jobs when taskpool itself dies without a
// chance to (kill -9, the OOM killer, a crash).
//
// taskpool starts it before any thread: the small program taskpool-guard installed beside
// taskpool (tasks/guard_main.cc); where that is missing, a new run of its own program
// (/proc/self/exe, with arguments that Guardian::run_if_asked recognizes; so every program that
// starts a guardian calls run_if_asked first thing in main); a fork when neither can be run. It
// holds one end of a socket pair whose other end only taskpool holds (close-on-exec, so no job
// inherits it), and shares a table with taskpool: one bit per process id, set while the job whose
// process group has that number runs. When taskpool ends in order, it says so on the socket and the
// guardian exits. When the socket reaches its end without that word, taskpool is gone: the guardian
// sends SIGTERM (and SIGCONT, for a stopped job) to every group in the table, SIGKILL `kill_after`
// later to those still there, and exits.
//
// Telling it of a job costs a bit set in shared memory, not a system call: the spawn rate is
// kept. The job's child sets it itself, in its own group, before its exec. The socket's other end
// stays open in that child until then (close-on-exec), so a taskpool killed while a job starts
// leaves the guardian waiting until the bit is set and the job is in the table. What a cgroup would
// add (processes that left their job's group) is discussed in doc/DEVELOPING.md; a cgroup needs a
// living process to kill it too, so the guardian would be needed anyway.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/time.h"
#include "core/unique_fd.h"

namespace taskpool {

class DetachedStart;

class Guardian final {
 public:
  enum class Launch {
    kSpawn,      // taskpool-guard beside this program, or as kSpawnSelf when that fails
    kSpawnSelf,  // a new run of this program, or a fork when that fails
    kFork,       // a fork
  };
  // Readies the guardian: its table now, its process at the first before_start() (a run that
  // starts no job starts no guardian), or now when it is to be forked. Returns null, with `error`
  // saying why, when it cannot be readied or forked (then nothing ends the jobs if taskpool is
  // killed); a guardian that cannot be spawned at the first job says so on stderr. REQUIRES: no
  // other thread runs yet.
  static std::unique_ptr<Guardian> start(Duration kill_after, std::string& error,
                                         Launch launch = Launch::kSpawn);
  // Says on stderr that the guardian could not be started, and why: "WHO: warning: ...".
  static void warn_not_started(std::string_view who, std::string_view why);
  // When this process was started by `start` to be a guardian, it is one from now on, and this
  // does not return. Otherwise it does nothing.
  static void run_if_asked(int argc, char** argv);
  // Tells the guardian that taskpool ends in order (when no group is watched any more): it
  // exits at once, and is not waited for.
  ~Guardian();
  Guardian(const Guardian&) = delete;
  Guardian& operator=(const Guardian&) = delete;

  // Before each job's start: starts the guardian's process at the first (a run that starts no
  // job starts none), and returns the table in which the job's child sets its group's bit before
  // its exec (ProcessStart::group_table, tasks/process_start.h). A taskpool killed while the child
  // starts, before watch(), then still has it ended. Not thread-safe.
  uint64_t* before_start();
  // A job's process group, from its start until its leader is reaped: once each, after its start
  // returned. Not thread-safe.
  void watch(pid_t group);
  void forget(pid_t group);

  // The guardian's process id; -1 until it is started.
  pid_t pid() const { return pid_; }

 private:
  Guardian(uint64_t* table, Duration kill_after);
  void spawn();
  void warn_not_spawned(int error);

  pid_t pid_ = -1;
  UniqueFd socket_;
  uint64_t* table_;  // shared with the guardian: bit p is process group p
  Duration kill_after_;
  UniqueFd table_file_;  // until the guardian is spawned
  Launch launch_ = Launch::kSpawn;
  uint64_t watched_ = 0;
  // How it was started, while it may yet turn out not to have started (an exec that failed).
  std::unique_ptr<DetachedStart> started_;
};

}  // namespace taskpool
