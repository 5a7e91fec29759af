#include "cli/serve/job_state.h"

#include <array>

namespace taskpool {

namespace {

constexpr std::array<std::string_view, kJobStates> kStateNames = {
    "waiting", "queued", "running", "succeeded", "failed", "cancelled"};

}  // namespace

std::string_view to_string(JobState state) { return kStateNames.at(static_cast<size_t>(state)); }

std::optional<JobState> parse_job_state(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

}  // namespace taskpool
