// Keyed limits (--limit): each job has one key per limit, a string the limit's template made of
// its record; per key, at most N jobs run at once and starts are paced to N a second, with
// per-value overrides and pauses (a server's Retry-After). The scheduler asks before it starts a
// job and says when one starts and ends; how keys are made is not known here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/time.h"

namespace taskpool {

// What a limit allows one key.
struct LimitRule {
  int concurrency = 0;  // at most this many jobs of the key at once; 0: no cap
  double rate = 0;      // at most this many starts of the key a second; 0: no pacing

  bool operator==(const LimitRule&) const = default;
};

struct KeyedLimit {
  std::string name;  // the template as the user wrote it, for the summary
  LimitRule rule;
  std::map<std::string, LimitRule> overrides;  // per key value (--limit-file)
  // A Retry-After from the other side pauses this limit's key ({host} limits).
  bool pauses_on_retry_after = false;

  bool operator==(const KeyedLimit&) const = default;
};

// One key's tallies, for the summary.
struct KeyStats {
  std::string limit;  // KeyedLimit::name
  std::string key;
  uint64_t started = 0;  // attempts started
  uint64_t waited = 0;   // attempts that waited for the key before they started
  Duration wait{0};      // the time they waited, in all
  uint64_t pauses = 0;   // pauses (Retry-After)
  Duration paused{0};    // the time the key was paused, in all

  bool operator==(const KeyStats&) const = default;
};

// Not thread-safe. Memory: one entry per limit and distinct key value.
class KeyedLimits {
 public:
  KeyedLimits() = default;
  explicit KeyedLimits(std::vector<KeyedLimit> limits);

  bool empty() const { return limits_.empty(); }
  size_t size() const { return limits_.size(); }

  // Whether a job of `keys` (one per limit, in order) may start at `now`. When it may not,
  // `limit` is the first limit that holds it back and `until` when that limit allows it at the
  // soonest (kNever: when a job of its key ends).
  struct Verdict {
    bool allowed = true;
    size_t limit = 0;
    TimePoint until = kNever;
  };
  Verdict check(const std::vector<std::string>& keys, TimePoint now) const;
  // A job of `keys` starts at `now` (after check() allowed it). `waited`: how long it waited
  // for the key of limit `waited_for` (zero: it did not wait).
  void start(const std::vector<std::string>& keys, TimePoint now, Duration waited = Duration{0},
             size_t waited_for = 0);
  // A job of `keys` that started has ended.
  void end(const std::vector<std::string>& keys);
  // The other side asked for `delay` before the next try: the keys of the limits that pause on
  // Retry-After start nothing before now + delay. Returns whether any key was paused.
  bool pause(const std::vector<std::string>& keys, TimePoint now, Duration delay);
  // When a job of `keys` started last, as a count of starts (0: never): the lowest was served
  // least recently, for round robin over keys. A job's is that of its most recently served key.
  uint64_t last_served(const std::vector<std::string>& keys) const;
  // The time `d` before now did not happen (the run was suspended).
  void shift(Duration d);
  // Every key's tallies, limit by limit, keys in order.
  std::vector<KeyStats> stats() const;

 private:
  struct KeyState {
    int running = 0;
    TimePoint next_start{};    // rate: no start before
    TimePoint paused_until{};  // Retry-After: no start before
    uint64_t served = 0;       // the start count at its latest start
    KeyStats stats;
  };
  const LimitRule& rule(size_t limit, const std::string& key) const;
  const KeyState* find(size_t limit, const std::string& key) const;
  KeyState& state(size_t limit, const std::string& key);

  std::vector<KeyedLimit> limits_;
  std::vector<std::unordered_map<std::string, KeyState>> keys_;  // index: limit
  uint64_t starts_ = 0;
};

}  // namespace taskpool
