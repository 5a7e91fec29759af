// The job server's API: its routes as functions of a request, the store and the server's state,
// testable without sockets; and the calls by which the pool that runs the jobs reports back.
//
//   GET    /healthz                 200, no token needed
//   GET    /metrics                 Prometheus text
//   POST   /v1/jobs                 submit one job or a batch: 202 {"ids": [...]} once committed
//   GET    /v1/jobs?ids=1,2         several jobs
//   GET    /v1/jobs/ID              one job: state, attempts, exit status, times
//   GET    /v1/jobs/ID/output       its output: ?stream=stdout|stderr&offset=N&max=N
//   DELETE /v1/jobs/ID              cancel it
//   GET    /v1/groups               every group: settings and counts
//   POST   /v1/groups/NAME          change a group: limit, paused, rate, queue_size, on_interrupt
//   POST   /v1/pause, /v1/resume    every group at once
//   POST   /v1/drain                accept no more jobs; the server exits once the rest are done
//   GET    /v1/events               job state changes, as server-sent events: ?group=G&job=ID
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/serve/api_json.h"
#include "cli/serve/events.h"
#include "cli/serve/http.h"
#include "cli/serve/metrics.h"
#include "cli/serve/output_store.h"
#include "cli/serve/store.h"

namespace taskpool {

// What the API needs of the pool that runs the jobs (the daemon's scheduler; a fake in tests).
class JobControl {
 public:
  virtual ~JobControl() = default;
  // Ends running job `id`; the pool reports its end with Api::job_ended(cancelled).
  virtual void cancel(uint64_t id) = 0;
};

struct ApiSettings {
  // A request without "Authorization: Bearer TOKEN" gets 401 (but GET /healthz). Empty: none is
  // asked for (the daemon listens on loopback alone then).
  std::string token;
  SubmitLimits submit;
  std::chrono::seconds retry_after{1};  // the Retry-After of a 429
  size_t max_output_read = size_t{1} << 20;
  size_t max_ids = 1000;  // jobs in one GET /v1/jobs?ids=
};

// Not thread-safe: the daemon's loop calls it, and libmicrohttpd from that loop.
class Api final : public HttpHandler {
 public:
  Api(Store& store, OutputStore& output, JobControl& pool, ApiSettings settings);
  // Where deferred answers and events go. REQUIRES: before the first request.
  void attach(ResponseSink& sink) { sink_ = &sink; }

  std::optional<Response> handle(const Request& request) override;
  void closed(uint64_t request_id) override;

  // At least once a loop turn, after the requests and the pool's reports, and before the turn's
  // jobs start: commits the turn, answers the requests that waited for it, sends its events. Throws
  // Error when the commit fails; the requests that waited get 503, and the turn's changes are lost
  // (the daemon must stop: the store's recovery sorts out the jobs it started).
  void commit();

  // The pool's side. Up to `max_jobs` jobs to start now (they are running from here on).
  std::vector<RunnableJob> take_runnable(size_t max_jobs, TimePoint now);
  // A running job began another attempt (its output starts over).
  void attempt_started(uint64_t id);
  void output(uint64_t id, OutputStream stream, std::string_view data);
  // A running job ended (its output's sizes are filled in here).
  void job_ended(uint64_t id, JobEnd end);

  // Requests wait for the next commit() to be answered.
  bool answers_waiting() const { return !waiting_.empty(); }
  bool draining() const { return draining_; }
  // Submits get 503 from now on, as while draining (the daemon is stopping).
  void stop_accepting() { draining_ = true; }
  // Draining, and nothing is left to run: the daemon may exit.
  bool drained() const { return draining_ && store_.unfinished() == 0; }
  EventHub& events() { return events_; }

 private:
  std::optional<Response> route(const Request& request);
  std::optional<Response> route_job(const Request& request, std::string_view rest);
  bool authorized(const Request& request) const;
  std::optional<Response> submit(const Request& request);
  Response get_jobs(const Request& request);
  Response get_job(uint64_t id);
  Response get_output(const Request& request, uint64_t id);
  std::optional<Response> cancel(const Request& request, uint64_t id);
  std::optional<Response> set_group(const Request& request, std::string_view name);
  std::optional<Response> set_paused(const Request& request, bool paused);
  Response drain();
  Response subscribe(const Request& request);
  // Answers `request` once the turn is committed.
  std::nullopt_t after_commit(const Request& request, Response response);

  Store& store_;
  OutputStore& output_;
  JobControl& pool_;
  ApiSettings settings_;
  ResponseSink* sink_ = nullptr;
  EventHub events_;
  ServeMetrics metrics_;
  std::vector<std::pair<uint64_t, Response>> waiting_;
  struct Running {
    std::string group;
    int64_t submitted_ms = 0;
  };
  std::map<uint64_t, Running> running_;
  bool draining_ = false;
};

}  // namespace taskpool
