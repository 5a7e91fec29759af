#include "cli/serve/store.h"

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
#include "core/error.h"

namespace taskpool {

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

// A record's fields in one blob: each as its length in decimal, ':', its bytes (any bytes).
std::string encode_fields(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& field : fields) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
  }
  return out;
}

std::vector<std::string> decode_fields(std::string_view blob, uint64_t id) {
  std::vector<std::string> fields;
  while (!blob.empty()) {
    size_t size = 0;
    const auto [end, ec] = std::from_chars(blob.data(), blob.data() + blob.size(), size);
    const size_t digits = static_cast<size_t>(end - blob.data());
    if (ec != std::errc() || digits == blob.size() || *end != ':' ||
        size > blob.size() - digits - 1) {
      throw Error("the stored record of job " + std::to_string(id) + " is damaged");
    }
    fields.emplace_back(blob.substr(digits + 1, size));
    blob.remove_prefix(digits + 1 + size);
  }
  return fields;
}

std::string encode_ids(const std::vector<uint64_t>& ids) {
  std::string out;
  for (const uint64_t id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

std::vector<uint64_t> decode_ids(std::string_view text) {
  std::vector<uint64_t> ids;
  while (!text.empty()) {
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc()) break;
    ids.push_back(id);
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (!text.empty()) text.remove_prefix(1);  // the comma
  }
  return ids;
}

int64_t system_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The directory's lock: a second daemon on the same state would run its jobs twice.
int lock_directory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw system_error(dir + ": cannot create the state directory");
  }
  const std::string path = dir + "/lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw system_error(path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char pid[32] = {};
    [[maybe_unused]] const ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    if (error == EWOULDBLOCK) {
      throw Error(dir + ": the state directory is in use by another taskpool serve (pid " +
                  std::string(pid) + ")");
    }
    errno = error;
    throw system_error(path + ": cannot lock");
  }
  const std::string pid = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    throw system_error(path);
  }
  return fd;
}

JobState state_of(int64_t stored) {
  if (stored < 0 || stored >= static_cast<int64_t>(kJobStates)) return JobState::kFailed;
  return static_cast<JobState>(stored);
}

int64_t as_int(JobState state) { return static_cast<int64_t>(state); }

std::vector<uint64_t> dependants_of(Statement& statement, uint64_t id) {
  StatementUse select(statement);
  select->bind(1, static_cast<int64_t>(id));
  std::vector<uint64_t> ids;
  while (select->step()) ids.push_back(static_cast<uint64_t>(select->integer(0)));
  return ids;
}

}  // namespace

// Prepared once: the statements of every turn cost no parsing.
struct Store::Statements {
  explicit Statements(Database& db) : db(db) {}
  Database& db;
  Statement begin{db, "BEGIN IMMEDIATE"};
  Statement commit{db, "COMMIT"};
  Statement insert_job{db,
                       "INSERT INTO jobs(id, grp, priority, fields, command, after, pending_deps,"
                       " state, reason, submitted_ms, ended_ms)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"};
  Statement insert_dep{db, "INSERT OR IGNORE INTO deps(after, job) VALUES(?1, ?2)"};
  Statement state{db, "SELECT state, grp FROM jobs WHERE id = ?1"};
  Statement job{db,
                "SELECT grp, priority, fields, command, after, state, attempts, interruptions,"
                " exit_status, signal, reason, submitted_ms, started_ms, ended_ms, stdout_bytes,"
                " stderr_bytes FROM jobs WHERE id = ?1"};
  Statement queue_head{db,
                       "SELECT id, priority FROM jobs WHERE grp = ?1 AND state = 1"
                       " ORDER BY priority DESC, id LIMIT ?2"};
  Statement runnable{db, "SELECT fields, command, submitted_ms FROM jobs WHERE id = ?1"};
  Statement start{db,
                  "UPDATE jobs SET state = 2, attempts = attempts + 1, started_ms = ?2"
                  " WHERE id = ?1"};
  Statement attempt{db, "UPDATE jobs SET attempts = attempts + 1 WHERE id = ?1"};
  Statement end{db,
                "UPDATE jobs SET state = ?2, exit_status = ?3, signal = ?4, reason = ?5,"
                " ended_ms = ?6, attempts = max(attempts, ?7), stdout_bytes = ?8,"
                " stderr_bytes = ?9 WHERE id = ?1"};
  Statement set_state{db, "UPDATE jobs SET state = ?2, reason = ?3, ended_ms = ?4 WHERE id = ?1"};
  Statement dependants{db, "SELECT job FROM deps WHERE after = ?1"};
  Statement release{db,
                    "UPDATE jobs SET pending_deps = pending_deps - 1 WHERE id = ?1"
                    " RETURNING pending_deps, state, grp"};
  Statement save_group{db,
                       "INSERT INTO groups(name, worker_limit, paused, rate, queue_size,"
                       " on_interrupt) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE"
                       " SET worker_limit = ?2, paused = ?3, rate = ?4, queue_size = ?5,"
                       " on_interrupt = ?6"};
  Statement set_meta{db,
                     "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                     " ON CONFLICT(key) DO UPDATE SET value = ?2"};
  Statement find_key{db, "SELECT fingerprint, first_id, count FROM idempotency WHERE key = ?1"};
  Statement insert_key{db,
                       "INSERT INTO idempotency(key, fingerprint, first_id, count, created_ms)"
                       " VALUES(?1, ?2, ?3, ?4, ?5)"};
  Statement forget_keys{db, "DELETE FROM idempotency WHERE created_ms < ?1"};
};

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

void Store::begin() {
  if (in_transaction_) return;
  sql_->begin.run();
  in_transaction_ = true;
}

void Store::commit() {
  if (!in_transaction_) return;
  try {
    if (next_id_ != saved_next_id_) {
      sql_->set_meta.bind(1, std::string_view("next_id"))
          .bind(2, static_cast<int64_t>(next_id_))
          .run();
    }
    sql_->commit.run();
  } catch (const Error&) {
    try {
      db_->exec("ROLLBACK");
    } catch (const Error&) {  // SQLite rolled back already
    }
    in_transaction_ = false;
    groups_ = saved_groups_;
    next_id_ = saved_next_id_;
    paused_all_ = saved_paused_all_;
    throw;
  }
  in_transaction_ = false;
  saved_groups_ = groups_;
  saved_next_id_ = next_id_;
  saved_paused_all_ = paused_all_;
}

Store::Group& Store::group_for(const std::string& name) {
  const auto found = groups_.find(name);
  if (found != groups_.end()) return found->second;
  Group& group = groups_[name];
  group.settings.queue_size = options_.queue_size;
  if (in_transaction_) save_group(name, group);
  return group;
}

void Store::save_group(const std::string& name, const Group& group) {
  const GroupSettings& s = group.settings;
  sql_->save_group.bind(1, name)
      .bind(2, int64_t{s.worker_limit})
      .bind(3, int64_t{s.paused})
      .bind(4, s.rate)
      .bind(5, static_cast<int64_t>(s.queue_size))
      .bind(6, int64_t{s.on_interrupt == InterruptPolicy::kFail})
      .run();
}

void Store::count(const std::string& group, JobState from, JobState to) {
  auto& counts = group_for(group).counts;
  --counts[static_cast<size_t>(from)];
  ++counts[static_cast<size_t>(to)];
}

std::optional<SubmitResult> Store::replay(std::string_view key, uint64_t fingerprint) {
  StatementUse find(sql_->find_key);
  find->bind(1, key);
  if (!find->step()) return std::nullopt;
  SubmitResult result;
  if (static_cast<uint64_t>(find->integer(0)) != fingerprint) {
    result.outcome = SubmitResult::Outcome::kKeyReused;
    result.error = "Idempotency-Key '" + std::string(key) + "' was used for another request";
    return result;
  }
  result.outcome = SubmitResult::Outcome::kReplayed;
  const auto first = static_cast<uint64_t>(find->integer(1));
  const auto count = static_cast<uint64_t>(find->integer(2));
  for (uint64_t i = 0; i < count; ++i) result.ids.push_back(first + i);
  return result;
}

std::optional<SubmitResult> Store::check_submit(std::span<const NewJob> jobs) {
  std::map<std::string_view, uint64_t> added;
  for (const NewJob& job : jobs) ++added[job.group];
  for (const auto& [name, count] : added) {
    const auto found = groups_.find(name);
    const uint64_t limit =
        found != groups_.end() ? found->second.settings.queue_size : options_.queue_size;
    const uint64_t held =
        found != groups_.end() ? found->second.counts[0] + found->second.counts[1] : 0;
    if (held + count > limit) {
      SubmitResult result;
      result.outcome = SubmitResult::Outcome::kQueueFull;
      result.group = std::string(name);
      result.error = "the queue of group '" + result.group + "' is full (" + std::to_string(held) +
                     " of " + std::to_string(limit) + " jobs)";
      return result;
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    for (const uint64_t after : jobs[i].after) {
      if (after == 0 || after >= next_id_) {
        SubmitResult result;
        result.outcome = SubmitResult::Outcome::kBadRequest;
        result.error = "after: there is no job " + std::to_string(after);
        return result;
      }
    }
  }
  return std::nullopt;
}

SubmitResult Store::submit(std::span<const NewJob> jobs, std::string_view idempotency_key,
                           uint64_t fingerprint) {
  if (!idempotency_key.empty()) {
    if (auto replayed = replay(idempotency_key, fingerprint)) return *replayed;
  }
  if (auto refused = check_submit(jobs)) return *refused;
  begin();
  SubmitResult result;
  for (const NewJob& job : jobs) {
    const uint64_t id = next_id_++;
    std::string reason;
    const JobState state = insert(job, id, reason);
    ++group_for(job.group).counts[static_cast<size_t>(state)];
    result.ids.push_back(id);
    if (state == JobState::kFailed) result.changes.push_back({id, job.group, state, reason});
  }
  if (!idempotency_key.empty() && !result.ids.empty()) {
    sql_->insert_key.bind(1, idempotency_key)
        .bind(2, static_cast<int64_t>(fingerprint))
        .bind(3, static_cast<int64_t>(result.ids.front()))
        .bind(4, static_cast<int64_t>(result.ids.size()))
        .bind(5, options_.wall_ms())
        .run();
  }
  return result;
}

JobState Store::insert(const NewJob& job, uint64_t id, std::string& reason) {
  const std::set<uint64_t> after(job.after.begin(), job.after.end());
  int64_t pending = 0;
  for (const uint64_t dependency : after) {
    StatementUse lookup(sql_->state);
    lookup->bind(1, static_cast<int64_t>(dependency));
    if (!lookup->step()) continue;  // checked before: cannot happen
    const JobState state = state_of(lookup->integer(0));
    if (state == JobState::kFailed || state == JobState::kCancelled) {
      reason = "dependency " + std::to_string(dependency) +
               (state == JobState::kFailed ? " failed" : " was cancelled");
    } else if (state != JobState::kSucceeded) {
      ++pending;
    }
  }
  const JobState state = !reason.empty() ? JobState::kFailed
                         : pending > 0   ? JobState::kWaiting
                                         : JobState::kQueued;
  const int64_t now = options_.wall_ms();
  StatementUse insert(sql_->insert_job);
  insert->bind(1, static_cast<int64_t>(id))
      .bind(2, job.group)
      .bind(3, job.priority)
      .bind_blob(4, encode_fields(job.fields))
      .bind(5, job.command)
      .bind(6, encode_ids(std::vector<uint64_t>(after.begin(), after.end())))
      .bind(7, pending)
      .bind(8, as_int(state))
      .bind(9, reason)
      .bind(10, now);
  if (state == JobState::kFailed) insert->bind(11, now);
  insert->run();
  if (state == JobState::kWaiting) {
    for (const uint64_t dependency : after) {
      sql_->insert_dep.bind(1, static_cast<int64_t>(dependency))
          .bind(2, static_cast<int64_t>(id))
          .run();
    }
  }
  return state;
}

size_t Store::free_slots(Group& group, TimePoint now) const {
  if (paused_all_ || group.settings.paused || group.counts[1] == 0) return 0;
  size_t free = std::numeric_limits<size_t>::max();
  if (group.settings.worker_limit > 0) {
    const auto limit = static_cast<uint64_t>(group.settings.worker_limit);
    const uint64_t running = group.counts[2];
    free = running >= limit ? 0 : static_cast<size_t>(limit - running);
  }
  if (group.bucket && free > 0 && group.bucket->next_token(now) > now) return 0;
  return free;
}

std::vector<RunnableJob> Store::take_runnable(size_t max_jobs, TimePoint now) {
  struct Head {
    int64_t priority;
    uint64_t id;
    const std::string* group;
  };
  std::vector<Head> heads;
  std::map<const std::string*, size_t> room;
  for (auto& [name, group] : groups_) {
    if (group.settings.rate > 0 && !group.bucket) group.bucket.emplace(group.settings.rate, 1, now);
    const size_t free = std::min(free_slots(group, now), max_jobs);
    if (free == 0) continue;
    room[&name] = free;
    StatementUse head(sql_->queue_head);
    head->bind(1, name).bind(2, static_cast<int64_t>(free));
    while (head->step()) {
      heads.push_back({head->integer(1), static_cast<uint64_t>(head->integer(0)), &name});
    }
  }
  std::sort(heads.begin(), heads.end(), [](const Head& a, const Head& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
  });
  std::vector<RunnableJob> taken;
  for (const Head& head : heads) {
    if (taken.size() == max_jobs) break;
    Group& group = groups_.find(*head.group)->second;
    if (room[head.group] == 0 || (group.bucket && !group.bucket->try_take(now))) continue;
    --room[head.group];
    begin();
    sql_->start.bind(1, static_cast<int64_t>(head.id)).bind(2, options_.wall_ms()).run();
    count(*head.group, JobState::kQueued, JobState::kRunning);
    StatementUse row(sql_->runnable);
    row->bind(1, static_cast<int64_t>(head.id));
    row->step();
    taken.push_back({head.id, *head.group, decode_fields(row->text(0), head.id), row->text(1),
                     row->integer(2)});
  }
  return taken;
}

TimePoint Store::next_rate_start(TimePoint now) {
  TimePoint next = kNever;
  for (auto& [name, group] : groups_) {
    if (!group.bucket || paused_all_ || group.settings.paused || group.counts[1] == 0) continue;
    if (group.settings.worker_limit > 0 &&
        group.counts[2] >= static_cast<uint64_t>(group.settings.worker_limit)) {
      continue;
    }
    next = std::min(next, group.bucket->next_token(now));
  }
  return next;
}

void Store::mark_attempt(uint64_t id) {
  begin();
  sql_->attempt.bind(1, static_cast<int64_t>(id)).run();
}

std::vector<StateChange> Store::mark_ended(uint64_t id, const JobEnd& end) {
  std::string group;
  {
    StatementUse lookup(sql_->state);
    lookup->bind(1, static_cast<int64_t>(id));
    if (!lookup->step() || state_of(lookup->integer(0)) != JobState::kRunning) return {};
    group = lookup->text(1);
  }
  const JobState state = end.cancelled ? JobState::kCancelled
                         : end.exit_status == 0 && end.signal == 0 && end.reason.empty()
                             ? JobState::kSucceeded
                             : JobState::kFailed;
  begin();
  sql_->end.bind(1, static_cast<int64_t>(id))
      .bind(2, as_int(state))
      .bind(3, int64_t{end.exit_status})
      .bind(4, int64_t{end.signal})
      .bind(5, end.reason)
      .bind(6, options_.wall_ms())
      .bind(7, int64_t{end.attempts})
      .bind(8, static_cast<int64_t>(end.stdout_bytes))
      .bind(9, static_cast<int64_t>(end.stderr_bytes))
      .run();
  count(group, JobState::kRunning, state);
  std::vector<StateChange> changes{{id, group, state, end.reason}};
  release_dependants(id, state, changes);
  return changes;
}

std::vector<StateChange> Store::cancel(uint64_t id) {
  std::string group;
  JobState state{};
  {
    StatementUse lookup(sql_->state);
    lookup->bind(1, static_cast<int64_t>(id));
    if (!lookup->step()) return {};
    state = state_of(lookup->integer(0));
    group = lookup->text(1);
  }
  if (state != JobState::kWaiting && state != JobState::kQueued) return {};
  begin();
  std::vector<StateChange> changes;
  set_state(id, group, state, JobState::kCancelled, "cancelled before it ran", changes);
  fail_dependants(id, "dependency " + std::to_string(id) + " was cancelled", changes);
  return changes;
}

void Store::set_state(uint64_t id, const std::string& group, JobState from, JobState to,
                      const std::string& reason, std::vector<StateChange>& changes) {
  StatementUse update(sql_->set_state);
  update->bind(1, static_cast<int64_t>(id)).bind(2, as_int(to)).bind(3, reason);
  if (is_final(to)) update->bind(4, options_.wall_ms());
  update->run();
  count(group, from, to);
  changes.push_back({id, group, to, reason});
}

void Store::release_dependants(uint64_t id, JobState ended, std::vector<StateChange>& changes) {
  if (ended != JobState::kSucceeded) {
    fail_dependants(id,
                    "dependency " + std::to_string(id) +
                        (ended == JobState::kCancelled ? " was cancelled" : " failed"),
                    changes);
    return;
  }
  for (const uint64_t dependant : dependants_of(sql_->dependants, id)) {
    StatementUse release(sql_->release);
    release->bind(1, static_cast<int64_t>(dependant));
    if (!release->step()) continue;
    const int64_t pending = release->integer(0);
    const JobState state = state_of(release->integer(1));
    const std::string group = release->text(2);
    release->step();  // to its end: the update is done
    if (pending == 0 && state == JobState::kWaiting) {
      set_state(dependant, group, state, JobState::kQueued, "", changes);
    }
  }
}

void Store::fail_dependants(uint64_t id, const std::string& reason,
                            std::vector<StateChange>& changes) {
  // Depth first, without recursion: a chain of a million jobs must not overflow the stack.
  std::vector<std::pair<uint64_t, std::string>> todo{{id, reason}};
  while (!todo.empty()) {
    auto [failed, why] = std::move(todo.back());
    todo.pop_back();
    for (const uint64_t dependant : dependants_of(sql_->dependants, failed)) {
      std::string group;
      {
        StatementUse lookup(sql_->state);
        lookup->bind(1, static_cast<int64_t>(dependant));
        if (!lookup->step() || state_of(lookup->integer(0)) != JobState::kWaiting) continue;
        group = lookup->text(1);
      }
      set_state(dependant, group, JobState::kWaiting, JobState::kFailed, why, changes);
      todo.emplace_back(dependant, "dependency " + std::to_string(dependant) + " failed");
    }
  }
}

std::optional<JobInfo> Store::job(uint64_t id) {
  StatementUse select(sql_->job);
  select->bind(1, static_cast<int64_t>(id));
  if (!select->step()) return std::nullopt;
  JobInfo job;
  job.id = id;
  job.group = select->text(0);
  job.priority = select->integer(1);
  job.fields = decode_fields(select->text(2), id);
  job.command = select->text(3);
  job.after = decode_ids(select->text(4));
  job.state = state_of(select->integer(5));
  job.attempts = static_cast<int>(select->integer(6));
  job.interruptions = static_cast<int>(select->integer(7));
  if (!select->is_null(8)) job.exit_status = static_cast<int>(select->integer(8));
  job.signal = static_cast<int>(select->integer(9));
  job.reason = select->text(10);
  job.submitted_ms = select->integer(11);
  job.started_ms = select->integer(12);
  job.ended_ms = select->integer(13);
  job.stdout_bytes = static_cast<uint64_t>(select->integer(14));
  job.stderr_bytes = static_cast<uint64_t>(select->integer(15));
  return job;
}

std::vector<GroupInfo> Store::groups() const {
  std::vector<GroupInfo> out;
  for (const auto& [name, group] : groups_) out.push_back({name, group.settings, group.counts});
  return out;
}

std::optional<GroupInfo> Store::group(std::string_view name) const {
  const auto found = groups_.find(name);
  if (found == groups_.end()) return std::nullopt;
  return GroupInfo{found->first, found->second.settings, found->second.counts};
}

GroupSettings Store::group_settings(std::string_view name) const {
  const auto found = groups_.find(name);
  if (found != groups_.end()) return found->second.settings;
  GroupSettings settings;
  settings.queue_size = options_.queue_size;
  return settings;
}

void Store::set_group(std::string_view name, const GroupSettings& settings) {
  begin();
  Group& group = group_for(std::string(name));
  if (group.settings.rate != settings.rate) group.bucket.reset();
  group.settings = settings;
  save_group(std::string(name), group);
}

void Store::set_paused_all(bool paused) {
  begin();
  paused_all_ = paused;
  sql_->set_meta.bind(1, std::string_view("paused_all")).bind(2, int64_t{paused}).run();
}

uint64_t Store::unfinished() const {
  uint64_t total = 0;
  for (const auto& [name, group] : groups_)
    total += group.counts[0] + group.counts[1] + group.counts[2];
  return total;
}

void Store::forget_keys_older_than(int64_t age_ms) {
  begin();
  sql_->forget_keys.bind(1, options_.wall_ms() - age_ms).run();
}

}  // namespace taskpool
