#include "core/keyed_limits.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace taskpool {

KeyedLimits::KeyedLimits(std::vector<KeyedLimit> limits)
    : limits_(std::move(limits)), keys_(limits_.size()) {}

const LimitRule& KeyedLimits::rule(size_t limit, const std::string& key) const {
  const KeyedLimit& l = limits_[limit];
  const auto it = l.overrides.find(key);
  return it == l.overrides.end() ? l.rule : it->second;
}

const KeyedLimits::KeyState* KeyedLimits::find(size_t limit, const std::string& key) const {
  const auto it = keys_[limit].find(key);
  return it == keys_[limit].end() ? nullptr : &it->second;
}

KeyedLimits::KeyState& KeyedLimits::state(size_t limit, const std::string& key) {
  auto [it, added] = keys_[limit].try_emplace(key);
  if (added) {
    it->second.stats.limit = limits_[limit].name;
    it->second.stats.key = key;
  }
  return it->second;
}

KeyedLimits::Verdict KeyedLimits::check(const std::vector<std::string>& keys, TimePoint now) const {
  assert(keys.size() == limits_.size());
  Verdict verdict;
  for (size_t i = 0; i < limits_.size(); ++i) {
    const KeyState* s = find(i, keys[i]);
    if (s == nullptr) continue;  // never started: free
    const LimitRule& r = rule(i, keys[i]);
    TimePoint until = now;
    if (r.concurrency > 0 && s->running >= r.concurrency) until = kNever;
    until = std::max({until, s->paused_until, r.rate > 0 ? s->next_start : until});
    if (until <= now) continue;
    // The limit that frees last holds the job back longest; report it.
    if (verdict.allowed || until > verdict.until) verdict = Verdict{false, i, until};
  }
  return verdict;
}

void KeyedLimits::start(const std::vector<std::string>& keys, TimePoint now, Duration waited,
                        size_t waited_for) {
  assert(keys.size() == limits_.size());
  ++starts_;
  for (size_t i = 0; i < limits_.size(); ++i) {
    KeyState& s = state(i, keys[i]);
    const LimitRule& r = rule(i, keys[i]);
    ++s.running;
    ++s.stats.started;
    s.served = starts_;
    if (r.rate > 0) {
      const auto gap =
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1 / r.rate));
      s.next_start = std::max(s.next_start, now) + gap;
    }
    if (waited > Duration::zero() && i == waited_for) {
      ++s.stats.waited;
      s.stats.wait += waited;
    }
  }
}

void KeyedLimits::end(const std::vector<std::string>& keys) {
  assert(keys.size() == limits_.size());
  for (size_t i = 0; i < limits_.size(); ++i) {
    KeyState& s = state(i, keys[i]);
    if (s.running > 0) --s.running;
  }
}

bool KeyedLimits::pause(const std::vector<std::string>& keys, TimePoint now, Duration delay) {
  assert(keys.size() == limits_.size());
  bool paused = false;
  for (size_t i = 0; i < limits_.size(); ++i) {
    if (!limits_[i].pauses_on_retry_after) continue;
    KeyState& s = state(i, keys[i]);
    const TimePoint until = now + delay;
    paused = true;
    if (until <= s.paused_until) continue;  // paused for longer already
    // A pause that overlaps the one before counts only its new time.
    s.stats.paused += until - std::max(now, s.paused_until);
    ++s.stats.pauses;
    s.paused_until = until;
  }
  return paused;
}

uint64_t KeyedLimits::last_served(const std::vector<std::string>& keys) const {
  uint64_t served = 0;
  for (size_t i = 0; i < limits_.size() && i < keys.size(); ++i) {
    if (const KeyState* s = find(i, keys[i])) served = std::max(served, s->served);
  }
  return served;
}

void KeyedLimits::shift(Duration d) {
  for (auto& keys : keys_) {
    for (auto& [key, s] : keys) {
      if (s.next_start != TimePoint{}) s.next_start += d;
      if (s.paused_until != TimePoint{}) s.paused_until += d;
    }
  }
}

std::vector<KeyStats> KeyedLimits::stats() const {
  std::vector<KeyStats> all;
  for (const auto& keys : keys_) {
    const size_t first = all.size();
    for (const auto& [key, s] : keys) all.push_back(s.stats);
    std::sort(all.begin() + static_cast<std::ptrdiff_t>(first), all.end(),
              [](const KeyStats& a, const KeyStats& b) { return a.key < b.key; });
  }
  return all;
}

}  // namespace taskpool
