// The job server's durable state: its jobs and groups, in SQLite (write-ahead log), under the
// server's state directory. What the store has committed survives kill -9 of the daemon; what
// the daemon acknowledges (a 202) it has committed first.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/serve/job_state.h"
#include "core/policy.h"
#include "core/time.h"

namespace taskpool {

class Database;
class Statement;

// What happens to a job that was running when the daemon stopped without finishing it (killed,
// crashed, the machine went down): it runs again, or it fails.
enum class InterruptPolicy { kRequeue, kFail };

// A group's settings. Every job belongs to one group.
struct GroupSettings {
  int worker_limit = 0;     // jobs of the group running at once at most; 0: no limit of its own
  bool paused = false;      // start none of its jobs
  double rate = 0;          // starts per second at most; 0: no pacing
  uint64_t queue_size = 0;  // waiting and queued jobs at most (a full queue refuses jobs)
  InterruptPolicy on_interrupt = InterruptPolicy::kRequeue;
};

// A job as submitted.
struct NewJob {
  std::string group = "default";
  int64_t priority = 0;  // higher runs first; equal priorities run in submission order
  std::vector<std::string> fields;
  std::string command;          // the command template, or empty for the server's
  std::vector<uint64_t> after;  // the jobs that must succeed before this one runs
};

// A job as stored.
struct JobInfo {
  uint64_t id = 0;
  std::string group;
  int64_t priority = 0;
  std::vector<std::string> fields;
  std::string command;
  std::vector<uint64_t> after;
  JobState state = JobState::kQueued;
  int attempts = 0;
  int interruptions = 0;           // how often the daemon stopped while it ran
  std::optional<int> exit_status;  // once it ended after running
  int signal = 0;
  std::string reason;        // why it failed or was cancelled without running, or empty
  int64_t submitted_ms = 0;  // Unix time in milliseconds; 0: not yet
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
};

// A job the scheduler may start now (the store has marked it running).
struct RunnableJob {
  uint64_t id = 0;
  std::string group;
  std::vector<std::string> fields;
  std::string command;
  int64_t submitted_ms = 0;
};

// How a running job ended.
struct JobEnd {
  int exit_status = 0;
  int signal = 0;
  bool cancelled = false;  // ended by a cancel request
  std::string reason;      // why it failed when its command says nothing (not found, timed out)
  int attempts = 0;        // the attempts it made in all, when the run retried it; 0: unchanged
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
};

// A job whose state changed, for the events clients follow.
struct StateChange {
  uint64_t id = 0;
  std::string group;
  JobState state = JobState::kQueued;
  std::string reason;
};

struct SubmitResult {
  enum class Outcome {
    kAccepted,    // the jobs are in the turn's transaction: durable once commit() returns
    kReplayed,    // the idempotency key was seen with the same request: `ids` are its jobs
    kQueueFull,   // `group`'s queue cannot take them: nothing was added
    kKeyReused,   // the idempotency key was seen with another request: nothing was added
    kBadRequest,  // `error` says what (a dependency that does not exist): nothing was added
  };
  Outcome outcome = Outcome::kAccepted;
  std::vector<uint64_t> ids;
  std::string group;
  std::string error;
  std::vector<StateChange> changes;  // jobs that failed at once (a dependency had failed)
};

// A group's settings and how many of its jobs are in each state.
struct GroupInfo {
  std::string name;
  GroupSettings settings;
  std::array<uint64_t, kJobStates> counts{};
  uint64_t count(JobState state) const { return counts[static_cast<size_t>(state)]; }
};

// What opening the store found of a daemon that stopped while jobs ran.
struct Recovery {
  uint64_t requeued = 0;
  uint64_t failed = 0;
};

// Owns the database and its lock. Not thread-safe: the daemon's loop alone calls it.
//
// Every change goes into the current turn's transaction, opened by the first change and made
// durable by commit(): the daemon commits once a loop turn, so the jobs accepted in a turn cost
// one commit together, not one each. Reads see the turn's changes.
class Store {
 public:
  struct Options {
    uint64_t queue_size = 100000;  // a new group's queue size
    // Sync the write-ahead log at every commit (survives a power loss) rather than at its
    // checkpoints only (survives the daemon's kill -9, not a power loss). See doc/guide.md.
    bool sync_every_commit = true;
    // A job interrupted this many times fails even when its group would run it again: a job
    // that takes the daemon down (its memory, say) must not do so forever.
    int max_interruptions = 3;
    std::function<int64_t()> wall_ms;  // the Unix time in milliseconds; default: the system's
  };

  // Opens DIR/jobs.db, creating DIR and the database when missing, and takes DIR/lock (one
  // daemon per directory). Jobs left running by a daemon that stopped are requeued or failed per
  // their group's policy, and committed. Throws Error naming the directory when it cannot.
  Store(const std::string& dir, Options options);
  explicit Store(const std::string& dir) : Store(dir, Options{}) {}
  ~Store();  // an open transaction is rolled back, as a crash would lose it
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const Recovery& recovery() const { return recovery_; }
  // The Unix time in milliseconds, by the store's clock.
  int64_t now_ms() const { return options_.wall_ms(); }

  // Adds `jobs` (all or none). A non-empty `idempotency_key` makes a repeated submit of the
  // same request (`fingerprint`) return the first one's ids without adding anything.
  SubmitResult submit(std::span<const NewJob> jobs, std::string_view idempotency_key = {},
                      uint64_t fingerprint = 0);

  // Makes the turn's changes durable. Throws Error when it cannot (disk full); the store is then
  // as it was at the last commit, and the turn's changes are lost.
  void commit();
  bool in_transaction() const { return in_transaction_; }

  // Up to `max_jobs` queued jobs that may start now, best first (priority, then id), within
  // their groups' worker limits, pause and rate; marks them running, with their first attempt.
  std::vector<RunnableJob> take_runnable(size_t max_jobs, TimePoint now);
  // When a group that is held back by its rate alone gets its next start; kNever when none is.
  TimePoint next_rate_start(TimePoint now);

  // A running job began another attempt (a retry).
  void mark_attempt(uint64_t id);
  // A running job ended. Returns its change and those of the jobs that depended on it (queued
  // now, or failed). REQUIRES: the job is running.
  std::vector<StateChange> mark_ended(uint64_t id, const JobEnd& end);
  // Cancels a waiting or queued job (and fails those that depended on it). A running job is not
  // changed here: the pool ends it, then mark_ended(cancelled). Returns the changes; none when the
  // job was running or had ended.
  std::vector<StateChange> cancel(uint64_t id);

  std::optional<JobInfo> job(uint64_t id);
  std::vector<GroupInfo> groups() const;
  std::optional<GroupInfo> group(std::string_view name) const;
  // The group's settings; a new group's when there is no such group yet.
  GroupSettings group_settings(std::string_view name) const;
  // Changes a group's settings, creating it when new.
  void set_group(std::string_view name, const GroupSettings& settings);
  // Pauses every group at once (their own pause stays as it is). Survives restarts.
  void set_paused_all(bool paused);
  bool paused_all() const { return paused_all_; }
  // Jobs waiting, queued or running, in all groups.
  uint64_t unfinished() const;
  // Idempotency keys older than `age_ms` are forgotten.
  void forget_keys_older_than(int64_t age_ms);

 private:
  struct Group {
    GroupSettings settings;
    std::array<uint64_t, kJobStates> counts{};
    std::optional<TokenBucket> bucket;
  };
  struct Statements;

  void create_schema();
  void load();
  void recover();
  void begin();
  Group& group_for(const std::string& name);
  void save_group(const std::string& name, const Group& group);
  void count(const std::string& group, JobState from, JobState to);
  std::optional<SubmitResult> replay(std::string_view key, uint64_t fingerprint);
  std::optional<SubmitResult> check_submit(std::span<const NewJob> jobs);
  JobState insert(const NewJob& job, uint64_t id, std::string& reason);
  void release_dependants(uint64_t id, JobState ended, std::vector<StateChange>& changes);
  void fail_dependants(uint64_t id, const std::string& reason, std::vector<StateChange>& changes);
  void set_state(uint64_t id, const std::string& group, JobState from, JobState to,
                 const std::string& reason, std::vector<StateChange>& changes);
  size_t free_slots(Group& group, TimePoint now) const;

  std::string dir_;
  Options options_;
  int lock_fd_ = -1;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Statements> sql_;
  std::map<std::string, Group, std::less<>> groups_;
  uint64_t next_id_ = 1;
  bool paused_all_ = false;
  bool in_transaction_ = false;
  // The in-memory state as at the last commit, restored when a commit fails.
  std::map<std::string, Group, std::less<>> saved_groups_;
  uint64_t saved_next_id_ = 1;
  bool saved_paused_all_ = false;
  Recovery recovery_;
};

}  // namespace taskpool
