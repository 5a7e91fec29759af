// The job server's parts on one poll loop, as the daemon will run them (the store, the output
// store, the API and the HTTP server on 127.0.0.1, a port of its own), with a stand-in for the
// scheduler that "runs" jobs by their first field. For the end-to-end and client tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/serve/api.h"
#include "cli/serve/http.h"
#include "cli/serve/output_store.h"
#include "cli/serve/store.h"
#include "tests/serve/loop_thread.h"
#include "tests/serve/serve_helpers.h"

namespace taskpool::testing {

// Stands in for the scheduler: each turn it takes the jobs the store lets start, up to its
// workers. A job whose first field is "hold" runs until release() (or a cancel); "fail" exits 1
// at once; any other writes "out:FIELDS\n" and "err\n" and succeeds at once. Loop thread only.
class StandInPool final : public JobControl {
 public:
  explicit StandInPool(size_t workers) : workers_(workers) {}
  void attach(Api& api) { api_ = &api; }

  void cancel(uint64_t id) override { cancels_.push_back(id); }

  void turn(TimePoint now) {
    for (const uint64_t id : cancels_) {
      if (held_.erase(id) == 0) continue;
      JobEnd end;
      end.cancelled = true;
      end.signal = 15;
      api_->job_ended(id, end);
    }
    cancels_.clear();
    if (held_.size() >= workers_) return;
    for (const RunnableJob& job : api_->take_runnable(workers_ - held_.size(), now)) {
      ++started_;
      if (!job.fields.empty() && job.fields[0] == "hold") {
        held_.insert(job.id);
        continue;
      }
      JobEnd end;
      if (!job.fields.empty() && job.fields[0] == "fail") {
        end.exit_status = 1;
      } else {
        std::string line = "out:";
        for (const std::string& field : job.fields) line += field;
        api_->output(job.id, OutputStream::kStdout, line + "\n");
        api_->output(job.id, OutputStream::kStderr, "err\n");
      }
      api_->job_ended(job.id, end);
    }
  }

  // Adds output to a held job.
  void write(uint64_t id, const std::string& data) {
    REQUIRE(held_.count(id) == 1);
    api_->output(id, OutputStream::kStdout, data);
  }
  // Ends every held job with `exit_status`.
  void release(int exit_status = 0) {
    for (const uint64_t id : held_) {
      JobEnd end;
      end.exit_status = exit_status;
      api_->job_ended(id, end);
    }
    held_.clear();
  }
  size_t held() const { return held_.size(); }
  uint64_t started() const { return started_; }

 private:
  size_t workers_;
  Api* api_ = nullptr;
  std::set<uint64_t> held_;
  std::vector<uint64_t> cancels_;
  uint64_t started_ = 0;
};

struct ServeLoopOptions {
  ApiSettings api;
  Store::Options store;
  HttpLimits http;
  size_t workers = 2;
};

// The parts, and the loop on a thread of its own: each turn runs the HTTP server, then the pool,
// then commits (answering what waited for the commit, sending the events), as the daemon's loop
// will. Once drained, the loop sets exit_status to 0, as the daemon exits.
class ServeLoop {
 public:
  explicit ServeLoop(const ServeLoopOptions& options = {})
      : store_(dir_.path(), options.store),
        output_(dir_.sub("output"), {size_t{1} << 20, size_t{1} << 20}),
        pool_(options.workers),
        api_(store_, output_, pool_, options.api),
        server_(parse_listen_address("127.0.0.1:0"), api_, options.http) {
    pool_.attach(api_);
    api_.attach(server_);
    loop_ = std::make_unique<LoopThread>([this] { return server_.poll_fd(); },
                                         [this] { return server_.next_deadline(); },
                                         [this] { turn(); });
  }
  ~ServeLoop() { loop_->stop(); }
  ServeLoop(const ServeLoop&) = delete;
  ServeLoop& operator=(const ServeLoop&) = delete;

  uint16_t port() const { return server_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  const ScratchDir& dir() const { return dir_; }

  // Runs `task` on the loop's thread (then a turn).
  template <typename F>
  auto call(F task) -> decltype(task()) {
    return loop_->call(std::move(task));
  }
  StandInPool& pool() { return pool_; }  // from call() alone
  Store& store() { return store_; }      // from call() alone
  // The daemon's exit status once drained; -1 before.
  int exit_status() {
    return call([this] { return exit_status_; });
  }

 private:
  void turn() {
    server_.run();
    pool_.turn(std::chrono::steady_clock::now());
    api_.commit();
    if (api_.drained()) exit_status_ = 0;
  }

  ScratchDir dir_;
  Store store_;
  OutputStore output_;
  StandInPool pool_;
  Api api_;
  HttpServer server_;
  std::unique_ptr<LoopThread> loop_;
  int exit_status_ = -1;
};

}  // namespace taskpool::testing
