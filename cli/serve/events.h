// The job server's events (GET /v1/events): job state changes as server-sent events, to every
// stream whose filter they pass. Changes are held until the turn that made them is committed, so
// no client hears of a state that a crash could still take back.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/serve/http.h"
#include "cli/serve/store.h"

namespace taskpool {

// Not thread-safe.
class EventHub {
 public:
  struct Filter {
    std::string group;  // empty: every group
    uint64_t job = 0;   // 0: every job
  };

  void subscribe(uint64_t stream, Filter filter);
  void unsubscribe(uint64_t stream);
  size_t subscribers() const { return subscribers_.size(); }

  // A change of the current turn.
  void add(StateChange change);
  // The turn is committed: sends its changes; a stream that cannot take them is dropped.
  void flush(ResponseSink& sink);
  // The turn is lost: its changes did not happen.
  void discard() { pending_.clear(); }

 private:
  std::map<uint64_t, Filter> subscribers_;
  std::vector<StateChange> pending_;
  uint64_t next_event_ = 1;
};

}  // namespace taskpool
