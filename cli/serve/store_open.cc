#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <limits>
#include <set>
#include <utility>

#include "cli/serve/sqlite.h"
#include "cli/serve/store.h"
#include "cli/serve/store_internal.h"
#include "core/error.h"

namespace taskpool {

using namespace store_rows;

namespace {

constexpr int64_t kSchemaVersion = 1;

// Jobs are never deleted, so ids are never reused. The partial indexes hold only the jobs the
// loop looks for on every turn (queued, running): finished jobs cost them nothing.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups(
  name TEXT PRIMARY KEY, worker_limit INTEGER NOT NULL, paused INTEGER NOT NULL,
  rate REAL NOT NULL, queue_size INTEGER NOT NULL, on_interrupt INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY, grp TEXT NOT NULL, priority INTEGER NOT NULL, fields BLOB NOT NULL,
  command TEXT NOT NULL, after TEXT NOT NULL, pending_deps INTEGER NOT NULL,
  state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0, exit_status INTEGER, signal INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '', submitted_ms INTEGER NOT NULL, started_ms INTEGER,
  ended_ms INTEGER, stdout_bytes INTEGER NOT NULL DEFAULT 0,
  stderr_bytes INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(grp, priority DESC, id) WHERE state = 1;
CREATE INDEX IF NOT EXISTS jobs_running ON jobs(grp) WHERE state = 2;
CREATE TABLE IF NOT EXISTS deps(after INTEGER NOT NULL, job INTEGER NOT NULL,
  PRIMARY KEY(after, job)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, fingerprint INTEGER NOT NULL,
  first_id INTEGER NOT NULL, count INTEGER NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;
)sql";

}  // namespace

Store::Store(const std::string& dir, Options options)
    : dir_(dir), options_(std::move(options)), lock_fd_(lock_directory(dir)) {
  if (!options_.wall_ms) options_.wall_ms = system_wall_ms;
  try {
    db_ = std::make_unique<Database>(dir + "/jobs.db");
    create_schema();
    sql_ = std::make_unique<Statements>(*db_);
    load();
    recover();
  } catch (...) {
    sql_.reset();
    db_.reset();
    close(lock_fd_);
    throw;
  }
}

Store::~Store() {
  if (in_transaction_) {
    try {
      db_->exec("ROLLBACK");
    } catch (const Error&) {  // closing the database rolls back all the same
    }
  }
  sql_.reset();
  db_.reset();
  close(lock_fd_);
}

void Store::create_schema() {
  db_->exec("PRAGMA journal_mode = WAL");
  Statement mode(*db_, "PRAGMA journal_mode");
  if (!mode.step() || mode.text(0) != "wal") {
    throw Error(db_->path() + ": the file system cannot hold a write-ahead log (journal_mode " +
                mode.text(0) + ")");
  }
  mode.reset();
  db_->exec(options_.sync_every_commit ? "PRAGMA synchronous = FULL"
                                       : "PRAGMA synchronous = NORMAL");
  Statement version(*db_, "PRAGMA user_version");
  version.step();
  const int64_t stored = version.integer(0);
  version.reset();
  if (stored > kSchemaVersion) {
    throw Error(db_->path() + ": written by a newer taskpool (schema " + std::to_string(stored) +
                "); this one reads schema " + std::to_string(kSchemaVersion) + " and older");
  }
  db_->exec("BEGIN IMMEDIATE");
  db_->exec(kSchema);
  db_->exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  db_->exec("COMMIT");
}

void Store::load() {
  Statement groups(*db_,
                   "SELECT name, worker_limit, paused, rate, queue_size, on_interrupt FROM groups");
  while (groups.step()) {
    Group& group = groups_[groups.text(0)];
    group.settings =
        GroupSettings{static_cast<int>(groups.integer(1)), groups.integer(2) != 0, groups.real(3),
                      static_cast<uint64_t>(groups.integer(4)),
                      groups.integer(5) == 1 ? InterruptPolicy::kFail : InterruptPolicy::kRequeue};
  }
  groups.reset();
  // The one scan of all jobs, at open: from here on the counts are kept as jobs change.
  Statement counts(*db_, "SELECT grp, state, count(*) FROM jobs GROUP BY grp, state");
  while (counts.step()) {
    Group& group = group_for(counts.text(0));
    group.counts[static_cast<size_t>(state_of(counts.integer(1)))] +=
        static_cast<uint64_t>(counts.integer(2));
  }
  counts.reset();
  Statement last(*db_, "SELECT max(id) FROM jobs");
  if (last.step()) next_id_ = static_cast<uint64_t>(last.integer(0)) + 1;
  last.reset();
  Statement meta(*db_, "SELECT key, value FROM meta");
  while (meta.step()) {
    if (meta.text(0) == "next_id") {
      next_id_ = std::max(next_id_, static_cast<uint64_t>(meta.integer(1)));
    } else if (meta.text(0) == "paused_all") {
      paused_all_ = meta.integer(1) != 0;
    }
  }
  meta.reset();
  saved_groups_ = groups_;
  saved_next_id_ = next_id_;
  saved_paused_all_ = paused_all_;
}

void Store::recover() {
  struct Interrupted {
    uint64_t id;
    std::string group;
    int interruptions;
  };
  std::vector<Interrupted> running;
  Statement select(*db_, "SELECT id, grp, interruptions FROM jobs WHERE state = 2");
  while (select.step()) {
    running.push_back({static_cast<uint64_t>(select.integer(0)), select.text(1),
                       static_cast<int>(select.integer(2)) + 1});
  }
  select.reset();
  if (running.empty()) return;
  Statement requeue(*db_,
                    "UPDATE jobs SET state = 1, interruptions = ?2, started_ms = NULL"
                    " WHERE id = ?1");
  Statement fail(*db_,
                 "UPDATE jobs SET state = 4, interruptions = ?2, reason = ?3, ended_ms = ?4"
                 " WHERE id = ?1");
  begin();
  std::vector<StateChange> unused;
  for (const Interrupted& job : running) {
    const Group& group = group_for(job.group);
    const bool again = group.settings.on_interrupt == InterruptPolicy::kRequeue &&
                       job.interruptions < options_.max_interruptions;
    if (again) {
      requeue.bind(1, static_cast<int64_t>(job.id)).bind(2, int64_t{job.interruptions}).run();
      count(job.group, JobState::kRunning, JobState::kQueued);
      ++recovery_.requeued;
      continue;
    }
    const std::string reason = job.interruptions == 1
                                   ? "interrupted: the server stopped while it ran"
                                   : "interrupted: the server stopped while it ran, " +
                                         std::to_string(job.interruptions) + " times";
    fail.bind(1, static_cast<int64_t>(job.id))
        .bind(2, int64_t{job.interruptions})
        .bind(3, reason)
        .bind(4, options_.wall_ms())
        .run();
    count(job.group, JobState::kRunning, JobState::kFailed);
    fail_dependants(job.id, "dependency " + std::to_string(job.id) + " failed", unused);
    ++recovery_.failed;
  }
  commit();
}

}  // namespace taskpool
