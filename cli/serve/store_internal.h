// The job server's store, its parts shared by the files that define it: the prepared
// statements, and how rows are encoded (fields, ids, states). Not for other users.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/serve/sqlite.h"
#include "cli/serve/store.h"

namespace taskpool {
namespace store_rows {

// A record's fields in one blob: each as its length in decimal, ':', its bytes (any bytes).
std::string encode_fields(const std::vector<std::string>& fields);
// `blob`'s fields; throws Error naming job `id` when it is not such a blob.
std::vector<std::string> decode_fields(std::string_view blob, uint64_t id);
std::string encode_ids(const std::vector<uint64_t>& ids);
std::vector<uint64_t> decode_ids(std::string_view text);
int64_t system_wall_ms();
// The directory's lock: a second daemon on the same state would run its jobs twice.
int lock_directory(const std::string& dir);
JobState state_of(int64_t stored);
inline int64_t as_int(JobState state) { return static_cast<int64_t>(state); }
std::vector<uint64_t> dependants_of(Statement& statement, uint64_t id);

}  // namespace store_rows

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

}  // namespace taskpool
