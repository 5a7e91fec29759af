#include "cli/serve/api_json.h"

#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace taskpool {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Bodies nest two levels (records in a list); anything deeper than this is refused before
// parsing, so no body can make the parser or the destructor recurse far.
constexpr int kMaxDepth = 8;
constexpr int64_t kMaxPriority = 1'000'000'000;
constexpr uint64_t kMaxUnsignedPriority = 1'000'000'000;

// Whether `body` nests arrays and objects deeper than `max`. Strings are skipped, escapes and
// all; what is not JSON is left to the parser to name.
bool too_deep(std::string_view body, int max) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Where in the body the parser is, as a field path ("records[3][0]"): a SAX handler that keeps
// nothing but the path, run again over a body the parser refused, so that its error (a bad
// byte of UTF-8, say) names the field it is in.
class FieldPath {
 public:
  std::string path;

  bool null() { return value(); }
  bool boolean(bool /*value*/) { return value(); }
  bool number_integer(Json::number_integer_t /*value*/) { return value(); }
  bool number_unsigned(Json::number_unsigned_t /*value*/) { return value(); }
  bool number_float(Json::number_float_t /*value*/, const std::string& /*text*/) { return value(); }
  bool string(std::string& /*value*/) { return value(); }
  bool binary(Json::binary_t& /*value*/) { return value(); }
  bool start_object(size_t /*elements*/) { return open(false); }
  bool start_array(size_t /*elements*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  // nlohmann's SAX interface passes keys by non-const reference.
  // cppcheck-suppress constParameter
  bool key(std::string& name) {
    frames_.back().name = name;
    return true;
  }
  bool parse_error(size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*error*/) {
    for (size_t i = 1; i < frames_.size(); ++i) path += frames_[i].text(i == 1);
    return false;
  }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;
    std::string name;
    std::string text(bool first) const {
      if (array) return "[" + std::to_string(index) + "]";
      return first || name.empty() ? name : "." + name;
    }
  };
  // A value ended: an array's next one has the next index; an object's next key is not known
  // until it is read whole.
  bool value() {
    Frame& frame = frames_.back();
    if (frame.array) {
      ++frame.index;
    } else {
      frame.name.clear();
    }
    return true;
  }
  bool open(bool array) {
    frames_.push_back({array, 0, ""});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return value();
  }
  // The top-level value's frame first: a path begins with the field of the object it opens.
  std::vector<Frame> frames_ = {Frame{}};
};

std::string field_at_error(std::string_view body) {
  FieldPath path;
  Json::sax_parse(body, &path);
  return path.path;
}

std::variant<Json, FieldError> parse_object(std::string_view body) {
  if (body.empty()) return FieldError{"", "the body is empty: send a JSON object"};
  if (too_deep(body, kMaxDepth)) {
    return FieldError{"", "the body nests deeper than " + std::to_string(kMaxDepth) + " levels"};
  }
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." less its tag.
    std::string what = e.what();
    const size_t tag = what.find("] ");
    if (tag != std::string::npos) what.erase(0, tag + 2);
    return FieldError{field_at_error(body), "the body is not valid JSON: " + what};
  }
  if (!json.is_object()) return FieldError{"", "the body must be a JSON object"};
  return json;
}

std::optional<FieldError> only_known(const Json& object, std::initializer_list<const char*> known) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (const char* name : known) found = found || key == name;
    if (!found) return FieldError{key, "unknown field"};
  }
  return std::nullopt;
}

std::optional<FieldError> read_field_text(const Json& value, const std::string& where,
                                          std::string& out) {
  if (!value.is_string()) return FieldError{where, "must be a string"};
  out = value.get<std::string>();
  if (out.find('\0') != std::string::npos) {
    return FieldError{where, "cannot hold a NUL byte (no command line can)"};
  }
  return std::nullopt;
}

std::optional<FieldError> read_record(const Json& value, const std::string& where,
                                      std::vector<std::string>& fields) {
  if (value.is_string()) {
    fields.emplace_back();
    return read_field_text(value, where, fields.back());
  }
  if (!value.is_array()) return FieldError{where, "must be a string or an array of strings"};
  if (value.empty()) return FieldError{where, "has no field"};
  for (size_t i = 0; i < value.size(); ++i) {
    fields.emplace_back();
    if (auto error =
            read_field_text(value[i], where + "[" + std::to_string(i) + "]", fields.back())) {
      return error;
    }
  }
  return std::nullopt;
}

// The fields the jobs of one submit share.
std::optional<FieldError> read_shared(const Json& body, const SubmitLimits& limits, NewJob& job) {
  if (body.contains("group")) {
    const Json& group = body["group"];
    if (!group.is_string() || !valid_group_name(group.get<std::string>())) {
      return FieldError{"group", "must be 1 to 64 letters, digits, '_', '.' or '-'"};
    }
    job.group = group.get<std::string>();
  }
  if (body.contains("priority")) {
    const Json& priority = body["priority"];
    const bool in_range = priority.is_number_unsigned()
                              ? priority.get<uint64_t>() <= kMaxUnsignedPriority
                          : priority.is_number_integer() ? priority.get<int64_t>() >= -kMaxPriority
                                                         : false;
    if (!in_range) {
      return FieldError{"priority", "must be an integer from -1000000000 to 1000000000"};
    }
    job.priority = priority.get<int64_t>();
  }
  if (body.contains("after")) {
    const Json& after = body["after"];
    if (!after.is_array()) return FieldError{"after", "must be an array of job ids"};
    if (after.size() > limits.max_after) {
      return FieldError{"after", "more than " + std::to_string(limits.max_after) + " jobs"};
    }
    for (size_t i = 0; i < after.size(); ++i) {
      if (!after[i].is_number_unsigned() || after[i].get<uint64_t>() == 0) {
        return FieldError{"after[" + std::to_string(i) + "]", "must be a job id (1, 2, ...)"};
      }
      job.after.push_back(after[i].get<uint64_t>());
    }
  }
  if (body.contains("command")) {
    if (limits.fixed_template) {
      return FieldError{"command", "this server runs a fixed --template: send records only"};
    }
    if (auto error = read_field_text(body["command"], "command", job.command)) return error;
    if (job.command.empty()) return FieldError{"command", "is empty"};
  }
  return std::nullopt;
}

OrderedJson nullable(int64_t value) { return value == 0 ? OrderedJson() : OrderedJson(value); }

OrderedJson time_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? OrderedJson() : OrderedJson(rfc3339(unix_ms));
}

std::string dump(const OrderedJson& json) {
  // Records may hold bytes that are not UTF-8 (a command's reason, say): shown as U+FFFD.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

OrderedJson job_object(const JobInfo& job) {
  OrderedJson out;
  out["id"] = job.id;
  out["group"] = job.group;
  out["state"] = std::string(to_string(job.state));
  out["priority"] = job.priority;
  out["record"] = job.fields;
  out["command"] = job.command;
  out["after"] = job.after;
  out["attempts"] = job.attempts;
  out["interruptions"] = job.interruptions;
  out["exit_status"] = job.exit_status ? OrderedJson(*job.exit_status) : OrderedJson();
  out["signal"] = nullable(job.signal);
  out["reason"] = job.reason;
  out["submitted"] = time_or_null(job.submitted_ms);
  out["started"] = time_or_null(job.started_ms);
  out["ended"] = time_or_null(job.ended_ms);
  out["stdout_bytes"] = job.stdout_bytes;
  out["stderr_bytes"] = job.stderr_bytes;
  return out;
}

OrderedJson group_object(const GroupInfo& group) {
  OrderedJson out;
  out["name"] = group.name;
  out["limit"] = group.settings.worker_limit;
  out["paused"] = group.settings.paused;
  out["rate"] = group.settings.rate;
  out["queue_size"] = group.settings.queue_size;
  out["on_interrupt"] = group.settings.on_interrupt == InterruptPolicy::kFail ? "fail" : "requeue";
  OrderedJson counts = OrderedJson::object();
  for (size_t i = 0; i < kJobStates; ++i) {
    counts[std::string(to_string(static_cast<JobState>(i)))] = group.counts[i];
  }
  out["jobs"] = counts;
  return out;
}

}  // namespace

bool valid_group_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::variant<std::vector<NewJob>, FieldError> parse_submit(std::string_view body,
                                                           const SubmitLimits& limits) {
  auto parsed = parse_object(body);
  if (auto* error = std::get_if<FieldError>(&parsed)) return *error;
  const Json& json = std::get<Json>(parsed);
  if (auto error =
          only_known(json, {"record", "records", "group", "priority", "after", "command"})) {
    return *error;
  }
  NewJob shared;
  if (auto error = read_shared(json, limits, shared)) return *error;
  if (json.contains("record") == json.contains("records")) {
    return FieldError{"records", "give either record (one job) or records (a list of jobs)"};
  }
  std::vector<NewJob> jobs;
  if (json.contains("record")) {
    jobs.push_back(shared);
    if (auto error = read_record(json["record"], "record", jobs.back().fields)) return *error;
    return jobs;
  }
  const Json& records = json["records"];
  if (!records.is_array() || records.empty()) {
    return FieldError{"records", "must be a non-empty array of records"};
  }
  if (records.size() > limits.max_jobs) {
    return FieldError{"records", "more than " + std::to_string(limits.max_jobs) +
                                     " records in one submit: send them in batches"};
  }
  jobs.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    jobs.push_back(shared);
    if (auto error =
            read_record(records[i], "records[" + std::to_string(i) + "]", jobs.back().fields)) {
      return *error;
    }
  }
  return jobs;
}

std::variant<GroupSettings, FieldError> parse_group_settings(std::string_view body,
                                                             GroupSettings current) {
  if (body.empty()) return current;
  auto parsed = parse_object(body);
  if (auto* error = std::get_if<FieldError>(&parsed)) return *error;
  const Json& json = std::get<Json>(parsed);
  if (auto error = only_known(json, {"limit", "paused", "rate", "queue_size", "on_interrupt"})) {
    return *error;
  }
  if (json.contains("limit")) {
    const Json& limit = json["limit"];
    if (!limit.is_number_unsigned() || limit.get<uint64_t>() > 1'000'000) {
      return FieldError{"limit", "must be a number of workers from 0 (no limit) to 1000000"};
    }
    current.worker_limit = limit.get<int>();
  }
  if (json.contains("paused")) {
    if (!json["paused"].is_boolean()) return FieldError{"paused", "must be true or false"};
    current.paused = json["paused"].get<bool>();
  }
  if (json.contains("rate")) {
    const Json& rate = json["rate"];
    if (!rate.is_number() || rate.get<double>() < 0 || rate.get<double>() > 1e6) {
      return FieldError{"rate", "must be starts per second from 0 (no pacing) to 1000000"};
    }
    current.rate = rate.get<double>();
  }
  if (json.contains("queue_size")) {
    const Json& size = json["queue_size"];
    if (!size.is_number_unsigned() || size.get<uint64_t>() == 0) {
      return FieldError{"queue_size", "must be a number of jobs (1, 2, ...)"};
    }
    current.queue_size = size.get<uint64_t>();
  }
  if (json.contains("on_interrupt")) {
    const Json& policy = json["on_interrupt"];
    if (policy != "requeue" && policy != "fail") {
      return FieldError{"on_interrupt", "must be \"requeue\" or \"fail\""};
    }
    current.on_interrupt = policy == "fail" ? InterruptPolicy::kFail : InterruptPolicy::kRequeue;
  }
  return current;
}

std::string job_json(const JobInfo& job) { return dump(job_object(job)) + "\n"; }

std::string jobs_json(const std::vector<JobInfo>& jobs) {
  OrderedJson list = OrderedJson::array();
  for (const JobInfo& job : jobs) list.push_back(job_object(job));
  OrderedJson out;
  out["jobs"] = std::move(list);
  return dump(out) + "\n";
}

std::string group_json(const GroupInfo& group) { return dump(group_object(group)) + "\n"; }

std::string groups_json(const std::vector<GroupInfo>& groups, bool paused_all, bool draining) {
  OrderedJson list = OrderedJson::array();
  for (const GroupInfo& group : groups) list.push_back(group_object(group));
  OrderedJson out;
  out["paused"] = paused_all;
  out["draining"] = draining;
  out["groups"] = std::move(list);
  return dump(out) + "\n";
}

std::string ids_json(const std::vector<uint64_t>& ids) {
  OrderedJson out;
  out["ids"] = ids;
  return dump(out) + "\n";
}

std::string error_json(std::string_view message) {
  OrderedJson out;
  out["error"] = message;
  return dump(out) + "\n";
}

std::string event_json(const StateChange& change) {
  OrderedJson out;
  out["id"] = change.id;
  out["group"] = change.group;
  out["state"] = std::string(to_string(change.state));
  if (!change.reason.empty()) out["reason"] = change.reason;
  return dump(out);
}

std::string rfc3339(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return text;
}

}  // namespace taskpool
