#include "cli/serve/api.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/serve/serve_helpers.h"

namespace taskpool {
namespace {

using testing::ScratchDir;

constexpr TimePoint kStart{};

// What the API sent later: answers and stream data.
struct RecordingSink : ResponseSink {
  std::map<uint64_t, Response> answers;
  std::map<uint64_t, std::string> streams;
  std::vector<uint64_t> ended;
  bool accept_pushes = true;

  void answer(uint64_t id, Response response) override { answers[id] = std::move(response); }
  bool push(uint64_t id, std::string_view data) override {
    if (!accept_pushes) return false;
    streams[id] += data;
    return true;
  }
  void end(uint64_t id) override { ended.push_back(id); }
};

struct RecordingPool : JobControl {
  std::vector<uint64_t> cancelled;
  void cancel(uint64_t id) override { cancelled.push_back(id); }
};

// An API over a store in a temporary directory, with requests made by hand.
struct ApiServer {
  explicit ApiServer(ApiSettings settings = {}, Store::Options options = {})
      : store(dir.path(), std::move(options)),
        output(dir.sub("output"), {1000, 1000}),
        api(store, output, pool, std::move(settings)) {
    api.attach(sink);
  }

  Request request(std::string method, const std::string& target, std::string body = {},
                  Headers headers = {}) {
    Request request;
    request.id = next_id++;
    request.method = std::move(method);
    const size_t question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) {
      std::string_view query = std::string_view(target).substr(question + 1);
      while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const size_t equals = pair.find('=');
        request.query.emplace_back(
            std::string(pair.substr(0, equals)),
            equals == std::string_view::npos ? "" : std::string(pair.substr(equals + 1)));
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      }
    }
    request.headers = std::move(headers);
    request.body = std::move(body);
    return request;
  }

  // The response, given now or at the turn's commit.
  Response call(std::string method, const std::string& target, std::string body = {},
                Headers headers = {}) {
    const Request r = request(std::move(method), target, std::move(body), std::move(headers));
    std::optional<Response> now = api.handle(r);
    if (now) return *now;
    REQUIRE(sink.answers.count(r.id) == 0);  // nothing before the commit
    api.commit();
    REQUIRE(sink.answers.count(r.id) == 1);
    return sink.answers[r.id];
  }

  ScratchDir dir;
  Store store;
  OutputStore output;
  RecordingPool pool;
  RecordingSink sink;
  Api api;
  uint64_t next_id = 1;
};

std::string header_of(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST_CASE("a submit is answered 202 with its ids once committed, and the jobs can be looked up") {
  ApiServer server;
  const Request submit =
      server.request("POST", "/v1/jobs", R"({"records": ["a", ["b", "c"]], "group": "g"})");
  CHECK_FALSE(server.api.handle(submit).has_value());
  CHECK(server.store.in_transaction());
  CHECK(server.sink.answers.empty());
  server.api.commit();
  CHECK_FALSE(server.store.in_transaction());
  REQUIRE(server.sink.answers.count(submit.id) == 1);
  CHECK(server.sink.answers[submit.id].status == 202);
  CHECK(server.sink.answers[submit.id].body == "{\"ids\":[1,2]}\n");

  const Response job = server.call("GET", "/v1/jobs/2");
  CHECK(job.status == 200);
  CHECK(job.body.find(R"("id":2,"group":"g","state":"queued")") != std::string::npos);
  CHECK(job.body.find(R"("record":["b","c"])") != std::string::npos);
  const Response both = server.call("GET", "/v1/jobs?ids=1,2");
  CHECK(both.body.starts_with(R"({"jobs":[{"id":1,)"));
  CHECK(server.call("GET", "/v1/jobs?ids=1,9").body == "{\"error\":\"no job 9\"}\n");
  CHECK(server.call("GET", "/v1/jobs?ids=1,x").status == 400);
  CHECK(server.call("GET", "/v1/jobs/3").status == 404);
  CHECK(server.call("GET", "/v1/jobs/abc").body ==
        "{\"error\":\"no job 'abc' (job ids are numbers)\"}\n");
}

TEST_CASE("with a token, every request but /healthz needs it, in a Bearer header") {
  ApiSettings settings;
  settings.token = "s3cret-token";
  ApiServer server(settings);
  const Response none = server.call("GET", "/v1/groups");
  CHECK(none.status == 401);
  CHECK(header_of(none, "WWW-Authenticate") == "Bearer");
  for (const char* wrong : {"Bearer s3cret-toke", "Bearer s3cret-token2", "Bearer S3cret-token",
                            "Basic s3cret-token", "s3cret-token", "Bearer "}) {
    CAPTURE(wrong);
    CHECK(server.call("GET", "/v1/groups", "", {{"authorization", wrong}}).status == 401);
  }
  CHECK(server.call("GET", "/v1/groups", "", {{"authorization", "Bearer s3cret-token"}}).status ==
        200);
  CHECK(server.call("GET", "/v1/groups", "", {{"authorization", "bearer s3cret-token"}}).status ==
        200);
  CHECK(server.call("GET", "/healthz").status == 200);
  CHECK(server.call("POST", "/v1/jobs", R"({"record": "a"})").status == 401);
  CHECK(server.store.unfinished() == 0);
}

TEST_CASE("a bad submit gets 400 naming the field, and adds nothing") {
  ApiSettings settings;
  settings.submit.fixed_template = true;
  ApiServer server(settings);
  CHECK(server.call("POST", "/v1/jobs", R"({"records": ["a", 3]})").body ==
        "{\"error\":\"records[1]: must be a string or an array of strings\"}\n");
  CHECK(server.call("POST", "/v1/jobs", R"({"record": "a", "command": "sh"})").body ==
        "{\"error\":\"command: this server runs a fixed --template: send records only\"}\n");
  CHECK(server.call("POST", "/v1/jobs", R"({"record": "a", "after": [5]})").body ==
        "{\"error\":\"after: there is no job 5\"}\n");
  CHECK(server.call("POST", "/v1/jobs", "{\"record\": \"\xc3\x28\"}").status == 400);
  CHECK(server.store.unfinished() == 0);
}

TEST_CASE("a full queue gets 429 with Retry-After, and the metrics count it") {
  ApiSettings settings;
  settings.retry_after = std::chrono::seconds(5);
  Store::Options options;
  options.queue_size = 2;
  ApiServer server(settings, options);
  CHECK(server.call("POST", "/v1/jobs", R"({"records": ["a", "b"]})").status == 202);
  const Response full = server.call("POST", "/v1/jobs", R"({"record": "c"})");
  CHECK(full.status == 429);
  CHECK(header_of(full, "Retry-After") == "5");
  CHECK(full.body == "{\"error\":\"the queue of group 'default' is full (2 of 2 jobs)\"}\n");
  const Response metrics = server.call("GET", "/metrics");
  CHECK(metrics.content_type == "text/plain; version=0.0.4");
  CHECK(metrics.body.find("taskpool_jobs_rejected_total{group=\"default\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.body.find("taskpool_jobs_queued{group=\"default\"} 2\n") != std::string::npos);
  CHECK(metrics.body.find("taskpool_jobs_accepted_total{group=\"default\"} 2\n") !=
        std::string::npos);
}

TEST_CASE("an Idempotency-Key makes a retried submit return the same ids, and adds nothing") {
  ApiServer server;
  const Headers key = {{"idempotency-key", "batch-7"}};
  const std::string body = R"({"records": ["a", "b"]})";
  // The retry comes in the same turn as the first: both wait for its commit.
  const Request first = server.request("POST", "/v1/jobs", body, key);
  const Request retry = server.request("POST", "/v1/jobs", body, key);
  CHECK_FALSE(server.api.handle(first).has_value());
  CHECK_FALSE(server.api.handle(retry).has_value());
  server.api.commit();
  CHECK(server.sink.answers[first.id].body == "{\"ids\":[1,2]}\n");
  CHECK(server.sink.answers[retry.id].body == "{\"ids\":[1,2]}\n");
  CHECK(server.call("POST", "/v1/jobs", body, key).body == "{\"ids\":[1,2]}\n");
  CHECK(server.store.unfinished() == 2);
  const Response other = server.call("POST", "/v1/jobs", R"({"records": ["c"]})", key);
  CHECK(other.status == 422);
  CHECK(server.call("POST", "/v1/jobs", body, {{"idempotency-key", "a b"}}).status == 400);
  CHECK(
      server.call("POST", "/v1/jobs", body, {{"idempotency-key", std::string(201, 'k')}}).status ==
      400);
}

TEST_CASE("job state changes reach the event streams after their commit, filtered") {
  ApiServer server;
  const Request all = server.request("GET", "/v1/events");
  const Request only_b = server.request("GET", "/v1/events?group=b");
  const std::optional<Response> stream = server.api.handle(all);
  REQUIRE(stream.has_value());
  CHECK(stream->stream);
  CHECK(server.api.handle(only_b)->stream);
  server.call("POST", "/v1/jobs", R"({"record": "x", "group": "a"})");
  server.call("POST", "/v1/jobs", R"({"record": "y", "group": "b"})");
  REQUIRE(server.api.take_runnable(10, kStart).size() == 2);
  CHECK(server.sink.streams.empty());  // not committed yet
  server.api.commit();
  CHECK(server.sink.streams[all.id] ==
        "id: 1\nevent: job\ndata: {\"id\":1,\"group\":\"a\",\"state\":\"running\"}\n\n"
        "id: 2\nevent: job\ndata: {\"id\":2,\"group\":\"b\",\"state\":\"running\"}\n\n");
  CHECK(server.sink.streams[only_b.id] ==
        "id: 2\nevent: job\ndata: {\"id\":2,\"group\":\"b\",\"state\":\"running\"}\n\n");
  JobEnd failed;
  failed.exit_status = 1;
  server.api.job_ended(2, failed);
  server.api.closed(all.id);
  server.api.commit();
  CHECK(server.sink.streams[only_b.id].ends_with(
      "id: 3\nevent: job\ndata: {\"id\":2,\"group\":\"b\",\"state\":\"failed\"}\n\n"));
  CHECK(server.sink.streams[all.id].find("failed") == std::string::npos);
  // A stream that cannot take more is dropped.
  server.sink.accept_pushes = false;
  server.call("POST", "/v1/jobs", R"({"record": "z", "group": "b"})");
  server.api.take_runnable(10, kStart);
  server.api.commit();
  CHECK(server.api.events().subscribers() == 0);
}

TEST_CASE("cancel: a queued job at once, a running one through the pool, an ended one not") {
  ApiServer server;
  server.call("POST", "/v1/jobs", R"({"records": ["a", "b", "c"]})");
  server.api.take_runnable(1, kStart);
  const Response queued = server.call("DELETE", "/v1/jobs/2");
  CHECK(queued.status == 200);
  CHECK(queued.body.find(R"("state":"cancelled")") != std::string::npos);
  const Response running = server.call("DELETE", "/v1/jobs/1");
  CHECK(running.status == 202);
  CHECK(server.pool.cancelled == std::vector<uint64_t>{1});
  JobEnd cancelled;
  cancelled.cancelled = true;
  cancelled.signal = 15;
  server.api.job_ended(1, cancelled);
  server.api.commit();
  const Response ended = server.call("DELETE", "/v1/jobs/1");
  CHECK(ended.status == 409);
  CHECK(ended.body == "{\"error\":\"job 1 has ended (cancelled)\"}\n");
  CHECK(server.call("DELETE", "/v1/jobs/9").status == 404);
}

TEST_CASE("groups: settings changed and shown, pause and resume, bad names and fields refused") {
  ApiServer server;
  const Response set = server.call("POST", "/v1/groups/render", R"({"limit": 2, "paused": true})");
  CHECK(set.status == 200);
  CHECK(set.body.find(R"("name":"render","limit":2,"paused":true)") != std::string::npos);
  server.call("POST", "/v1/jobs", R"({"record": "a", "group": "render"})");
  CHECK(server.api.take_runnable(10, kStart).empty());
  server.call("POST", "/v1/groups/render", R"({"paused": false})");
  CHECK(server.call("POST", "/v1/pause").body == "{\"paused\":true}\n");
  CHECK(server.api.take_runnable(10, kStart).empty());
  server.call("POST", "/v1/resume");
  CHECK(server.api.take_runnable(10, kStart).size() == 1);
  const Response groups = server.call("GET", "/v1/groups");
  CHECK(groups.body.starts_with(R"({"paused":false,"draining":false,"groups":[{"name":"render")"));
  CHECK(groups.body.find(R"("running":1)") != std::string::npos);
  CHECK(server.call("POST", "/v1/groups/a%2Fb").body ==
        "{\"error\":\"group 'a%2Fb': a name is 1 to 64 letters, digits, '_', '.' or '-'\"}\n");
  CHECK(server.call("POST", "/v1/groups/render", R"({"limit": "2"})").body ==
        "{\"error\":\"limit: must be a number of workers from 0 (no limit) to 1000000\"}\n");
}

TEST_CASE("a job's output is served from its offset, with where it goes on") {
  ApiServer server;
  server.call("POST", "/v1/jobs", R"({"record": "a"})");
  server.api.take_runnable(1, kStart);
  server.api.output(1, OutputStream::kStdout, "hello ");
  server.api.output(1, OutputStream::kStderr, "warning\n");
  const Response partial = server.call("GET", "/v1/jobs/1/output");
  CHECK(partial.body == "hello ");
  CHECK(header_of(partial, "X-Taskpool-State") == "running");
  CHECK(header_of(partial, "X-Taskpool-Next") == "6");
  server.api.output(1, OutputStream::kStdout, "world\n");
  server.api.job_ended(1, JobEnd{});
  server.api.commit();
  const Response rest = server.call("GET", "/v1/jobs/1/output?offset=6");
  CHECK(rest.body == "world\n");
  CHECK(rest.content_type == "application/octet-stream");
  CHECK(header_of(rest, "X-Taskpool-Total") == "12");
  CHECK(header_of(rest, "X-Taskpool-State") == "succeeded");
  CHECK(server.call("GET", "/v1/jobs/1/output?stream=stderr&max=4").body == "warn");
  CHECK(server.call("GET", "/v1/jobs/1/output?stream=both").status == 400);
  CHECK(server.call("GET", "/v1/jobs/1/output?offset=-1").status == 400);
  CHECK(server.call("GET", "/v1/jobs/1").body.find(R"("stdout_bytes":12,"stderr_bytes":8)") !=
        std::string::npos);
}

TEST_CASE("drain: no more submits, and drained once the jobs have ended") {
  ApiServer server;
  server.call("POST", "/v1/jobs", R"({"records": ["a", "b"]})");
  CHECK(server.call("POST", "/v1/drain").body == "{\"draining\":true,\"unfinished\":2}\n");
  CHECK(server.api.draining());
  const Response refused = server.call("POST", "/v1/jobs", R"({"record": "c"})");
  CHECK(refused.status == 503);
  CHECK(server.call("GET", "/healthz").body == "{\"ok\":true,\"draining\":true}\n");
  for (const RunnableJob& job : server.api.take_runnable(10, kStart)) {
    CHECK_FALSE(server.api.drained());
    server.api.job_ended(job.id, JobEnd{});
  }
  server.api.commit();
  CHECK(server.api.drained());
}

TEST_CASE("metrics: a latency histogram per group, of the jobs that ended") {
  int64_t now = 1'000'000;
  Store::Options options;
  options.wall_ms = [&now] { return now; };
  ApiServer server({}, options);
  server.call("POST", "/v1/jobs", R"({"records": ["a", "b"], "group": "g"})");
  server.api.take_runnable(10, kStart);
  now += 70;
  server.api.job_ended(1, JobEnd{});
  now += 2000;
  server.api.job_ended(2, JobEnd{});
  server.api.commit();
  const std::string metrics = server.call("GET", "/metrics").body;
  CHECK(metrics.find("taskpool_job_latency_seconds_bucket{group=\"g\",le=\"0.05\"} 0\n") !=
        std::string::npos);
  CHECK(metrics.find("taskpool_job_latency_seconds_bucket{group=\"g\",le=\"0.1\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("taskpool_job_latency_seconds_bucket{group=\"g\",le=\"5\"} 2\n") !=
        std::string::npos);
  CHECK(metrics.find("taskpool_job_latency_seconds_count{group=\"g\"} 2\n") != std::string::npos);
  CHECK(metrics.find("taskpool_jobs_succeeded_total{group=\"g\"} 2\n") != std::string::npos);
}

TEST_CASE("unknown resources get 404, known ones with the wrong method 405 with Allow") {
  ApiServer server;
  CHECK(server.call("GET", "/v2/jobs").body == "{\"error\":\"no such resource: /v2/jobs\"}\n");
  const Response wrong = server.call("PUT", "/v1/jobs");
  CHECK(wrong.status == 405);
  CHECK(header_of(wrong, "Allow") == "GET, POST");
  CHECK(server.call("POST", "/v1/jobs/1").status == 405);
  CHECK(server.call("GET", "/v1/jobs/1/logs").status == 404);
}

}  // namespace
}  // namespace taskpool
