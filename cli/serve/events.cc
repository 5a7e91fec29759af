#include "cli/serve/events.h"

#include <utility>

#include "cli/serve/api_json.h"

namespace taskpool {

void EventHub::subscribe(uint64_t stream, Filter filter) {
  subscribers_[stream] = std::move(filter);
}

void EventHub::unsubscribe(uint64_t stream) { subscribers_.erase(stream); }

void EventHub::add(StateChange change) {
  if (!subscribers_.empty()) pending_.push_back(std::move(change));
}

void EventHub::flush(ResponseSink& sink) {
  std::vector<uint64_t> gone;
  for (const StateChange& change : pending_) {
    // "id" lets a client tell events apart; they are numbered from 1 at each start.
    const std::string event = "id: " + std::to_string(next_event_++) +
                              "\nevent: job\ndata: " + event_json(change) + "\n\n";
    for (const auto& [stream, filter] : subscribers_) {
      if (!filter.group.empty() && filter.group != change.group) continue;
      if (filter.job != 0 && filter.job != change.id) continue;
      if (!sink.push(stream, event)) gone.push_back(stream);
    }
    for (const uint64_t stream : gone) subscribers_.erase(stream);
    gone.clear();
  }
  pending_.clear();
}

}  // namespace taskpool
