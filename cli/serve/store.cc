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
#include "cli/serve/store_internal.h"
#include "core/error.h"

namespace taskpool {

using namespace store_rows;

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
  for (const NewJob& job : jobs) {
    for (const uint64_t after : job.after) {
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
