#include "core/feed_gate.h"

#include <algorithm>

namespace taskpool {

FeedOrder FeedGate::decide(const State& state, TimePoint now) {
  using Mode = FeedOrder::Mode;
  recheck_at_ = kNever;
  if (state.closed) return {Mode::kClose, 0};
  if (state.stopping) return {Mode::kRead, SIZE_MAX};
  if (state.fed_waiting < window_) {
    held_since_ = now;  // not held: the rescue clock starts when the holding does
    return {Mode::kRead, window_ - state.fed_waiting};
  }
  if (held_since_ == kNever) held_since_ = now;
  if (state.running > 0 && state.feeders_waiting == state.running) {
    // None of them can end while it waits: read on, a record at a time.
    return {Mode::kRead, 1};
  }
  if (state.running == 0) return {Mode::kHold, 0};  // nobody feeds: nothing to look at
  if (now >= held_since_ + kRescueAfter) {
    held_since_ = now;
    recheck_at_ = now + kRecheck;
    return {Mode::kOneChunk, 0};
  }
  recheck_at_ = std::min(now + kRecheck, held_since_ + kRescueAfter);
  return {Mode::kHold, 0};
}

}  // namespace taskpool
