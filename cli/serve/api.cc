#include "cli/serve/api.h"

#include <cctype>
#include <utility>

#include "core/error.h"
#include "core/parse.h"

namespace taskpool {

namespace {

constexpr size_t kMaxIdempotencyKey = 200;

Response json_response(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response error(int status, std::string_view message) {
  return json_response(status, error_json(message));
}

Response field_error(const FieldError& problem) { return error(400, problem.message()); }

// Compares in a time that depends on the expected token's length alone, so that the time of a
// refusal tells nothing of how much of a guess was right.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    difference |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return difference == 0;
}

// FNV-1a: what makes two submits with one Idempotency-Key the same request (the same body).
uint64_t body_fingerprint(std::string_view body) {
  uint64_t hash = 14695981039346656037ULL;
  for (const char c : body) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

bool printable_ascii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Response method_not_allowed(const Request& request, const char* allowed) {
  Response response = error(405, request.method + " is not allowed on " + request.path);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

}  // namespace

Api::Api(Store& store, OutputStore& output, JobControl& pool, ApiSettings settings)
    : store_(store), output_(output), pool_(pool), settings_(std::move(settings)) {}

std::optional<Response> Api::handle(const Request& request) {
  try {
    if (request.path != "/healthz" && !authorized(request)) {
      Response response = error(401, "a valid token is needed (Authorization: Bearer TOKEN)");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    }
    return route(request);
  } catch (const Error& e) {
    return error(500, e.what());
  }
}

bool Api::authorized(const Request& request) const {
  if (settings_.token.empty()) return true;
  const std::optional<std::string> header = request.header("authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (!header || header->size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*header)[i])) != kScheme[i]) return false;
  }
  return same_secret(std::string_view(*header).substr(kScheme.size()), settings_.token);
}

std::optional<Response> Api::route(const Request& request) {
  const std::string_view path = request.path;
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (path == "/healthz") {
    if (!get) return method_not_allowed(request, "GET");
    return json_response(200, draining_ ? "{\"ok\":true,\"draining\":true}\n"
                                        : "{\"ok\":true,\"draining\":false}\n");
  }
  if (path == "/metrics") {
    if (!get) return method_not_allowed(request, "GET");
    Response response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = metrics_.render(store_.groups(), store_.paused_all(), draining_);
    return response;
  }
  if (path == "/v1/jobs") {
    if (post) return submit(request);
    if (get) return get_jobs(request);
    return method_not_allowed(request, "GET, POST");
  }
  if (path.starts_with("/v1/jobs/")) return route_job(request, path.substr(9));
  if (path == "/v1/groups") {
    if (!get) return method_not_allowed(request, "GET");
    return json_response(200, groups_json(store_.groups(), store_.paused_all(), draining_));
  }
  if (path.starts_with("/v1/groups/")) {
    if (!post) return method_not_allowed(request, "POST");
    return set_group(request, path.substr(11));
  }
  if (path == "/v1/pause" || path == "/v1/resume") {
    if (!post) return method_not_allowed(request, "POST");
    return set_paused(request, path == "/v1/pause");
  }
  if (path == "/v1/drain") {
    if (!post) return method_not_allowed(request, "POST");
    return drain();
  }
  if (path == "/v1/events") {
    if (!get) return method_not_allowed(request, "GET");
    return subscribe(request);
  }
  return error(404, "no such resource: " + request.path);
}

std::optional<Response> Api::route_job(const Request& request, std::string_view rest) {
  const size_t slash = rest.find('/');
  const std::string_view number = rest.substr(0, slash);
  const std::optional<uint64_t> id = parse_whole_number(number);
  if (!id) return error(404, "no job '" + std::string(number) + "' (job ids are numbers)");
  if (slash == std::string_view::npos) {
    if (request.method == "GET") return get_job(*id);
    if (request.method == "DELETE") return cancel(request, *id);
    return method_not_allowed(request, "GET, DELETE");
  }
  if (rest.substr(slash) == "/output") {
    if (request.method != "GET") return method_not_allowed(request, "GET");
    return get_output(request, *id);
  }
  return error(404, "no such resource: " + request.path);
}

std::nullopt_t Api::after_commit(const Request& request, Response response) {
  waiting_.emplace_back(request.id, std::move(response));
  return std::nullopt;
}

std::optional<Response> Api::submit(const Request& request) {
  if (draining_) return error(503, "the server is draining: it accepts no more jobs");
  const std::string key = request.header("idempotency-key").value_or("");
  if (key.size() > kMaxIdempotencyKey || !printable_ascii(key)) {
    return error(400, "Idempotency-Key: must be 1 to 200 printable ASCII characters");
  }
  auto parsed = parse_submit(request.body, settings_.submit);
  if (const auto* problem = std::get_if<FieldError>(&parsed)) return field_error(*problem);
  const auto& jobs = std::get<std::vector<NewJob>>(parsed);
  SubmitResult result = store_.submit(jobs, key, body_fingerprint(request.body));
  using Outcome = SubmitResult::Outcome;
  switch (result.outcome) {
    case Outcome::kAccepted:
    case Outcome::kReplayed:
      for (StateChange& change : result.changes) events_.add(std::move(change));
      // A replayed key's jobs may be of this very turn: they too wait for its commit.
      return after_commit(request, json_response(202, ids_json(result.ids)));
    case Outcome::kQueueFull: {
      metrics_.rejected(result.group);
      Response response = error(429, result.error);
      response.headers.emplace_back("Retry-After", std::to_string(settings_.retry_after.count()));
      return response;
    }
    case Outcome::kKeyReused:
      return error(422, result.error);
    case Outcome::kBadRequest:
      break;
  }
  return error(400, result.error);
}

Response Api::get_job(uint64_t id) {
  const std::optional<JobInfo> job = store_.job(id);
  if (!job) return error(404, "no job " + std::to_string(id));
  return json_response(200, job_json(*job));
}

Response Api::get_jobs(const Request& request) {
  const std::string list = request.parameter("ids").value_or("");
  std::vector<JobInfo> jobs;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const std::optional<uint64_t> id = parse_whole_number(item);
    if (!id) return error(400, "ids: '" + std::string(item) + "' is not a job id");
    std::optional<JobInfo> job = store_.job(*id);
    if (!job) return error(404, "no job " + std::to_string(*id));
    jobs.push_back(std::move(*job));
    if (jobs.size() > settings_.max_ids) {
      return error(400, "ids: more than " + std::to_string(settings_.max_ids) + " jobs at once");
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (jobs.empty()) return error(400, "ids: give the jobs' ids, as ?ids=1,2,3");
  return json_response(200, jobs_json(jobs));
}

Response Api::get_output(const Request& request, uint64_t id) {
  const std::optional<JobInfo> job = store_.job(id);
  if (!job) return error(404, "no job " + std::to_string(id));
  const std::string stream_name = request.parameter("stream").value_or("stdout");
  if (stream_name != "stdout" && stream_name != "stderr") {
    return error(400, "stream: must be stdout or stderr");
  }
  const OutputStream stream =
      stream_name == "stdout" ? OutputStream::kStdout : OutputStream::kStderr;
  const std::optional<uint64_t> offset =
      parse_whole_number(request.parameter("offset").value_or("0"));
  const std::optional<uint64_t> max = parse_whole_number(
      request.parameter("max").value_or(std::to_string(settings_.max_output_read)));
  if (!offset) return error(400, "offset: must be a number of bytes");
  if (!max || *max == 0) return error(400, "max: must be a number of bytes (1, 2, ...)");
  const uint64_t total = job->state == JobState::kRunning  ? output_.written(id, stream)
                         : stream == OutputStream::kStdout ? job->stdout_bytes
                                                           : job->stderr_bytes;
  const OutputSlice slice =
      output_.read(id, stream, total, *offset, std::min<uint64_t>(*max, settings_.max_output_read));
  Response response;
  response.content_type = "application/octet-stream";
  response.body = slice.data;
  response.headers = {{"X-Taskpool-Offset", std::to_string(slice.offset)},
                      {"X-Taskpool-Next", std::to_string(slice.next)},
                      {"X-Taskpool-Total", std::to_string(slice.total)},
                      {"X-Taskpool-State", std::string(to_string(job->state))}};
  return response;
}

std::optional<Response> Api::cancel(const Request& request, uint64_t id) {
  const std::optional<JobInfo> job = store_.job(id);
  if (!job) return error(404, "no job " + std::to_string(id));
  if (is_final(job->state)) {
    return error(409, "job " + std::to_string(id) + " has ended (" +
                          std::string(to_string(job->state)) + ")");
  }
  if (job->state == JobState::kRunning) {
    pool_.cancel(id);
    return json_response(202, "{\"id\":" + std::to_string(id) +
                                  ",\"state\":\"running\",\"cancel\":\"requested\"}\n");
  }
  for (StateChange& change : store_.cancel(id)) events_.add(std::move(change));
  return after_commit(request, json_response(200, job_json(*store_.job(id))));
}

std::optional<Response> Api::set_group(const Request& request, std::string_view name) {
  if (!valid_group_name(name)) {
    return error(400, "group '" + std::string(name) +
                          "': a name is 1 to 64 letters, digits, '_', '.' or '-'");
  }
  auto parsed = parse_group_settings(request.body, store_.group_settings(name));
  if (const auto* problem = std::get_if<FieldError>(&parsed)) return field_error(*problem);
  store_.set_group(name, std::get<GroupSettings>(parsed));
  return after_commit(request, json_response(200, group_json(*store_.group(name))));
}

std::optional<Response> Api::set_paused(const Request& request, bool paused) {
  store_.set_paused_all(paused);
  return after_commit(request,
                      json_response(200, paused ? "{\"paused\":true}\n" : "{\"paused\":false}\n"));
}

Response Api::drain() {
  draining_ = true;
  return json_response(
      202, "{\"draining\":true,\"unfinished\":" + std::to_string(store_.unfinished()) + "}\n");
}

Response Api::subscribe(const Request& request) {
  EventHub::Filter filter;
  filter.group = request.parameter("group").value_or("");
  if (const auto job = request.parameter("job")) {
    const std::optional<uint64_t> id = parse_whole_number(*job);
    if (!id) return error(400, "job: '" + *job + "' is not a job id");
    filter.job = *id;
  }
  events_.subscribe(request.id, std::move(filter));
  Response response;
  response.stream = true;
  response.body = ": taskpool job events\n\n";
  return response;
}

void Api::closed(uint64_t request_id) {
  events_.unsubscribe(request_id);
  std::erase_if(waiting_, [&](const auto& waiting) { return waiting.first == request_id; });
}

void Api::commit() {
  try {
    store_.commit();
  } catch (const Error& e) {
    for (auto& [id, response] : waiting_) {
      sink_->answer(id, error(503, std::string("the server could not store this: ") + e.what()));
    }
    waiting_.clear();
    events_.discard();
    throw;
  }
  for (auto& [id, response] : waiting_) sink_->answer(id, std::move(response));
  waiting_.clear();
  events_.flush(*sink_);
}

std::vector<RunnableJob> Api::take_runnable(size_t max_jobs, TimePoint now) {
  std::vector<RunnableJob> jobs = store_.take_runnable(max_jobs, now);
  for (const RunnableJob& job : jobs) {
    output_.start(job.id);
    running_[job.id] = Running{job.group, job.submitted_ms};
    events_.add({job.id, job.group, JobState::kRunning, ""});
  }
  return jobs;
}

void Api::attempt_started(uint64_t id) {
  store_.mark_attempt(id);
  output_.start(id);
}

void Api::output(uint64_t id, OutputStream stream, std::string_view data) {
  output_.append(id, stream, data);
}

void Api::job_ended(uint64_t id, JobEnd end) {
  end.stdout_bytes = output_.written(id, OutputStream::kStdout);
  end.stderr_bytes = output_.written(id, OutputStream::kStderr);
  output_.finish(id);
  for (StateChange& change : store_.mark_ended(id, end)) events_.add(std::move(change));
  const auto running = running_.find(id);
  if (running == running_.end()) return;
  const double seconds =
      static_cast<double>(store_.now_ms() - running->second.submitted_ms) / 1000.0;
  metrics_.ended(running->second.group, seconds);
  running_.erase(running);
}

}  // namespace taskpool
