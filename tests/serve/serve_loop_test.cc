// The job server end to end over a real socket: the store, the HTTP layer and the API on one
// poll loop, a stand-in for the scheduler (tests/serve/serve_loop.h).
#include "tests/serve/serve_loop.h"

#include <doctest/doctest.h>

#include <string>

#include "cli/serve/sqlite.h"
#include "tests/serve/http_client.h"
#include "tests/serve/prometheus_text.h"

namespace taskpool {
namespace {

using testing::http_exchange;
using testing::PrometheusText;
using testing::RawClient;
using testing::RawReply;
using testing::ServeLoop;
using testing::ServeLoopOptions;

// Jobs in the database as another process would see them: what has been committed.
int64_t committed_jobs(const ServeLoop& loop) {
  Database db(loop.dir().sub("jobs.db"));
  Statement count(db, "SELECT count(*) FROM jobs");
  REQUIRE(count.step());
  return count.integer(0);
}

TEST_CASE("end to end: a submit is answered 202 once its jobs are in the database") {
  ServeLoopOptions options;
  options.workers = 0;  // nothing runs: the jobs stay queued
  ServeLoop loop(options);
  const RawReply submitted =
      http_exchange(loop.port(), "POST", "/v1/jobs", R"({"records": ["a", "b"]})");
  REQUIRE(submitted.status == 202);
  CHECK(submitted.body == "{\"ids\":[1,2]}\n");
  // The loop has answered: another connection to the database already sees both jobs.
  CHECK(committed_jobs(loop) == 2);
  const RawReply job = http_exchange(loop.port(), "GET", "/v1/jobs/2");
  CHECK(job.status == 200);
  CHECK(job.body.find(R"("id":2,"group":"default","state":"queued")") != std::string::npos);
  // A bad body adds nothing, and says which field.
  const RawReply bad = http_exchange(loop.port(), "POST", "/v1/jobs", R"({"records": [1]})");
  CHECK(bad.status == 400);
  CHECK(bad.body == "{\"error\":\"records[0]: must be a string or an array of strings\"}\n");
  CHECK(committed_jobs(loop) == 2);
}

TEST_CASE("end to end: jobs run, their state and output are served, the metrics count them") {
  ServeLoop loop;
  REQUIRE(http_exchange(loop.port(), "POST", "/v1/jobs", R"({"records": ["x", "fail"]})").status ==
          202);
  const RawReply jobs = http_exchange(loop.port(), "GET", "/v1/jobs?ids=1,2");
  CHECK(jobs.body.find(R"("id":1,"group":"default","state":"succeeded")") != std::string::npos);
  CHECK(jobs.body.find(R"("id":2,"group":"default","state":"failed")") != std::string::npos);
  const RawReply output = http_exchange(loop.port(), "GET", "/v1/jobs/1/output");
  CHECK(output.body == "out:x\n");
  CHECK(output.header("x-taskpool-state") == "succeeded");
  const RawReply metrics = http_exchange(loop.port(), "GET", "/metrics");
  CHECK(metrics.header("content-type") == "text/plain; version=0.0.4");
  const PrometheusText parsed(metrics.body);
  REQUIRE_MESSAGE(parsed.errors.empty(), parsed.errors.front());
  CHECK(parsed.value("taskpool_jobs_succeeded_total{group=\"default\"}") == 1);
  CHECK(parsed.value("taskpool_jobs_failed_total{group=\"default\"}") == 1);
  CHECK(parsed.value("taskpool_job_latency_seconds_count{group=\"default\"}") == 2);
  CHECK(http_exchange(loop.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("end to end: a full queue gets 429 with Retry-After; a retried key gets its ids") {
  ServeLoop loop;
  REQUIRE(
      http_exchange(loop.port(), "POST", "/v1/groups/small", R"({"queue_size": 2, "paused": true})")
          .status == 200);
  const std::string key = "Idempotency-Key: k1\r\n";
  const std::string two = R"({"records": ["a", "b"], "group": "small"})";
  CHECK(http_exchange(loop.port(), "POST", "/v1/jobs", two, key).body == "{\"ids\":[1,2]}\n");
  CHECK(http_exchange(loop.port(), "POST", "/v1/jobs", two, key).body == "{\"ids\":[1,2]}\n");
  const RawReply full =
      http_exchange(loop.port(), "POST", "/v1/jobs", R"({"record": "c", "group": "small"})");
  CHECK(full.status == 429);
  CHECK(full.header("retry-after") == "1");
  CHECK(committed_jobs(loop) == 2);
  const PrometheusText metrics(http_exchange(loop.port(), "GET", "/metrics").body);
  CHECK(metrics.value("taskpool_jobs_rejected_total{group=\"small\"}") == 1);
}

TEST_CASE("end to end: a job's state changes reach an event stream as they are committed") {
  ServeLoop loop;
  RawClient events(loop.port());
  REQUIRE(events.connected());
  REQUIRE(events.send("GET /v1/events?group=g HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string head = events.read_until(": taskpool job events");
  CHECK(head.find("text/event-stream") != std::string::npos);
  REQUIRE(http_exchange(loop.port(), "POST", "/v1/jobs", R"({"record": "hold", "group": "g"})")
              .status == 202);
  CHECK(
      events.read_until(R"("state":"running")").find(R"({"id":1,"group":"g","state":"running"})") !=
      std::string::npos);
  loop.call([&] { loop.pool().release(3); });
  CHECK(events.read_until(R"("state":"failed")").find(R"({"id":1,"group":"g","state":"failed"})") !=
        std::string::npos);
}

TEST_CASE("end to end: drain refuses new jobs, finishes the queued ones, then the loop may exit") {
  ServeLoopOptions options;
  options.workers = 1;
  ServeLoop loop(options);
  REQUIRE(http_exchange(loop.port(), "POST", "/v1/jobs", R"({"records": ["hold", "b"]})").status ==
          202);
  const RawReply drain = http_exchange(loop.port(), "POST", "/v1/drain");
  CHECK(drain.status == 202);
  CHECK(drain.body == "{\"draining\":true,\"unfinished\":2}\n");
  const RawReply refused = http_exchange(loop.port(), "POST", "/v1/jobs", R"({"record": "c"})");
  CHECK(refused.status == 503);
  CHECK(http_exchange(loop.port(), "GET", "/healthz").body == "{\"ok\":true,\"draining\":true}\n");
  CHECK(loop.exit_status() == -1);  // job 1 holds the one worker; job 2 waits
  loop.call([&] { loop.pool().release(); });
  // The next turn ran job 2; the one after saw nothing left.
  loop.call([] {});
  CHECK(loop.exit_status() == 0);
  CHECK(http_exchange(loop.port(), "GET", "/v1/jobs/2").body.find(R"("state":"succeeded")") !=
        std::string::npos);
}

TEST_CASE("end to end: the token, the body limit and unknown routes, over the socket") {
  ServeLoopOptions options;
  options.api.token = "tok-123";
  options.http.max_body = 1000;
  ServeLoop loop(options);
  CHECK(http_exchange(loop.port(), "POST", "/v1/jobs", R"({"record": "a"})").status == 401);
  const std::string auth = "Authorization: Bearer tok-123\r\n";
  CHECK(http_exchange(loop.port(), "POST", "/v1/jobs", R"({"record": "a"})", auth).status == 202);
  const std::string big = R"({"record": ")" + std::string(2000, 'x') + "\"}";
  CHECK(http_exchange(loop.port(), "POST", "/v1/jobs", big, auth).status == 413);
  CHECK(http_exchange(loop.port(), "GET", "/v1/nothing", "", auth).status == 404);
  CHECK(http_exchange(loop.port(), "PUT", "/v1/jobs/1", "", auth).status == 405);
  CHECK(http_exchange(loop.port(), "GET", "/healthz").status == 200);
  CHECK(committed_jobs(loop) == 1);
}

}  // namespace
}  // namespace taskpool
