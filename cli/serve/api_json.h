// The job server's API bodies: what clients send (read strictly: a bad field is named) and what
// the server answers, as JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cli/serve/store.h"

namespace taskpool {

// What is wrong with a request body, and where: `field` as a path ("records[3][0]"), empty when
// it is the body as a whole.
struct FieldError {
  std::string field;
  std::string problem;
  std::string message() const { return field.empty() ? problem : field + ": " + problem; }
};

struct SubmitLimits {
  size_t max_jobs = 100000;     // records in one submit
  size_t max_after = 1000;      // dependencies of one job
  bool fixed_template = false;  // the server runs its --template: a job may not bring a command
};

// A POST /v1/jobs body: one job, {"record": FIELDS, ...} or a batch, {"records": [FIELDS, ...],
// ...}, FIELDS being a string (one field) or an array of strings; the batch's jobs share the
// other fields: "group" (a name of letters, digits, '_', '.', '-'), "priority" (an integer,
// higher first), "after" (the ids of jobs that must succeed first), "command" (its template).
std::variant<std::vector<NewJob>, FieldError> parse_submit(std::string_view body,
                                                           const SubmitLimits& limits);

// A POST /v1/groups/NAME body: {"limit": N, "paused": BOOL, "rate": STARTS_PER_SECOND,
// "queue_size": N, "on_interrupt": "requeue" | "fail"}, each optional, applied to `current`.
std::variant<GroupSettings, FieldError> parse_group_settings(std::string_view body,
                                                             GroupSettings current);

// Whether `name` can name a group: 1 to 64 letters, digits, '_', '.', '-'.
bool valid_group_name(std::string_view name);

// Answers, each a JSON object on one line.
std::string job_json(const JobInfo& job);
std::string jobs_json(const std::vector<JobInfo>& jobs);
std::string group_json(const GroupInfo& group);
std::string groups_json(const std::vector<GroupInfo>& groups, bool paused_all, bool draining);
std::string ids_json(const std::vector<uint64_t>& ids);
std::string error_json(std::string_view message);
std::string event_json(const StateChange& change);

// A Unix time in milliseconds as RFC 3339 in UTC, with milliseconds.
std::string rfc3339(int64_t unix_ms);

}  // namespace taskpool
