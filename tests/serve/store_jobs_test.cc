// The store as the scheduler's job source and observer: what the database holds at the moment a
// job's process starts, with the real scheduler on the fake executor and clock.
#include "cli/serve/store_jobs.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cli/serve/sqlite.h"
#include "tests/core/fake_executor.h"
#include "tests/serve/serve_helpers.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeExecutor;
using testing::Outcome;
using testing::ScratchDir;

struct DiscardingSink final : ResponseSink {
  void answer(uint64_t, Response) override {}
  bool push(uint64_t, std::string_view) override { return true; }
  void end(uint64_t) override {}
};

// A job's row as another process (the next daemon) would read it.
struct CommittedRow {
  int64_t state = -1;
  int64_t attempts = -1;
  bool started = false;
  int64_t interruptions = -1;
};

CommittedRow committed_row(const std::string& database, uint64_t id) {
  Database db(database);
  Statement row(db,
                "SELECT state, attempts, started_ms IS NOT NULL, interruptions FROM jobs "
                "WHERE id = ?1");
  row.bind(1, static_cast<int64_t>(id));
  REQUIRE(row.step());
  return {row.integer(0), row.integer(1), row.integer(2) != 0, row.integer(3)};
}

// The job server's pieces around the scheduler, as the daemon wires them, with a fake executor:
// each job's command is "job ID".
struct StoreJobsRun {
  explicit StoreJobsRun(std::function<Outcome(uint64_t, int)> script)
      : store(dir.path()),
        output(dir.sub("output"), {1000, 1000}),
        jobs(clock, "job {#}"),
        api(store, output, jobs, ApiSettings{}),
        executor(clock, std::move(script)) {
    api.attach(sink);
  }

  void submit(size_t count) {
    std::vector<NewJob> batch(count);
    for (NewJob& job : batch) job.fields = {"x"};
    REQUIRE(store.submit(batch).outcome == SubmitResult::Outcome::kAccepted);
    api.commit();
  }

  void run(SchedulerOptions options) {
    Scheduler scheduler(
        std::move(options), clock, executor, jobs,
        [this](const Job& job, WorkerId worker) { return jobs.build(job, worker); }, jobs,
        [this] {
          return StopOrder{store.unfinished() == 0 ? StopRequest::kGraceful : StopRequest::kNone,
                           StopCause::kSignal};
        });
    jobs.attach(api, scheduler);
    scheduler.run();
    api.commit();
  }

  static uint64_t id_of(const Attempt& attempt) {
    return std::stoull(attempt.command.line.substr(attempt.command.line.find(' ') + 1));
  }

  ScratchDir dir;
  Store store;
  OutputStore output;
  FakeClock clock;
  StoreJobs jobs;
  Api api;
  DiscardingSink sink;
  FakeExecutor executor;
};

TEST_CASE("a job's start, with its attempt number, is committed before its process starts") {
  // Job 2's first attempt fails and the run retries it once.
  StoreJobsRun run([](uint64_t seq, int attempt) {
    Outcome o;
    o.duration = 1s;
    o.exit_status = seq == 2 && attempt == 1 ? 1 : 0;
    return o;
  });
  run.submit(3);
  std::map<uint64_t, std::vector<CommittedRow>> seen;  // at each start of the job
  run.executor.on_attempt = [&](const Attempt& attempt) {
    const uint64_t id = StoreJobsRun::id_of(attempt);
    const CommittedRow row = committed_row(run.dir.sub("jobs.db"), id);
    CHECK_MESSAGE(row.attempts == attempt.number, "job ", id);
    seen[id].push_back(row);
  };
  SchedulerOptions options;
  options.workers = 2;
  options.retry.retries = 1;
  options.retry.backoff = 0s;
  run.run(options);
  REQUIRE(seen.size() == 3);
  for (const auto& entry : seen) {
    const uint64_t id = entry.first;  // not a structured binding: doctest's checks capture it
    REQUIRE(entry.second.size() == (id == 2 ? 2 : 1));
    for (const CommittedRow& row : entry.second) {
      CHECK_MESSAGE(row.state == static_cast<int64_t>(JobState::kRunning), "job ", id);
      CHECK_MESSAGE(row.started, "job ", id);
    }
  }
  CHECK(committed_row(run.dir.sub("jobs.db"), 2).attempts == 2);
  CHECK(run.store.job(2)->state == JobState::kSucceeded);
  CHECK(run.store.unfinished() == 0);
}

TEST_CASE("a daemon killed right after it started a job's process counts an interruption") {
  StoreJobsRun run([](uint64_t, int) { return Outcome{}; });
  run.submit(3);
  // The database's files as kill -9 would leave them the moment the first process started.
  const std::string crashed = run.dir.sub("crashed");
  run.executor.on_attempt = [&](const Attempt&) {
    if (std::filesystem::exists(crashed)) return;
    std::filesystem::create_directory(crashed);
    for (const char* name : {"jobs.db", "jobs.db-wal"}) {
      if (std::filesystem::exists(run.dir.sub(name))) {
        std::filesystem::copy_file(run.dir.sub(name), crashed + "/" + name);
      }
    }
  };
  SchedulerOptions options;
  options.workers = 2;
  run.run(options);
  Store next(crashed);
  // Both jobs of the first turn were committed as running: the next daemon queues them again,
  // each with one interruption, and job 3, not started then, is queued as it was.
  CHECK(next.recovery().requeued == 2);
  CHECK(next.job(1)->interruptions == 1);
  CHECK(next.job(2)->interruptions == 1);
  CHECK(next.job(3)->interruptions == 0);
  for (uint64_t id = 1; id <= 3; ++id) CHECK(next.job(id)->state == JobState::kQueued);
}

}  // namespace
}  // namespace taskpool
