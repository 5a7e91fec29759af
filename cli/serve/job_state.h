// The states of a job on the job server, and their names in its API.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace taskpool {

// Stored as their numbers: append new states, never renumber.
enum class JobState {
  kWaiting,  // for the jobs it depends on
  kQueued,   // for a worker
  kRunning,
  kSucceeded,
  kFailed,  // ran and failed, could not run, or a job it depended on did not succeed
  kCancelled,
};
inline constexpr size_t kJobStates = 6;

std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view name);
// Whether the job is over (it will not change again).
inline bool is_final(JobState state) { return state >= JobState::kSucceeded; }

}  // namespace taskpool
