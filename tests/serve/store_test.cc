#include "cli/serve/store.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "cli/serve/sqlite.h"
#include "core/error.h"
#include "tests/serve/serve_helpers.h"

namespace taskpool {
namespace {

using std::chrono::milliseconds;
using testing::ScratchDir;

NewJob new_job(std::vector<std::string> fields, std::string group = "default", int64_t priority = 0,
               std::vector<uint64_t> after = {}) {
  NewJob job;
  job.fields = std::move(fields);
  job.group = std::move(group);
  job.priority = priority;
  job.after = std::move(after);
  return job;
}

std::vector<uint64_t> ids_of(const std::vector<RunnableJob>& jobs) {
  std::vector<uint64_t> ids;
  for (const RunnableJob& job : jobs) ids.push_back(job.id);
  return ids;
}

JobState state_of(Store& store, uint64_t id) {
  const auto job = store.job(id);
  REQUIRE(job.has_value());
  return job->state;
}

Store::Options fixed_time(int64_t* now_ms) {
  Store::Options options;
  options.wall_ms = [now_ms] { return *now_ms; };
  return options;
}

const TimePoint kT0{};

TEST_CASE("a submitted job is stored whole and can be looked up once committed") {
  ScratchDir dir;
  int64_t now = 1'700'000'000'000;
  Store store(dir.path(), fixed_time(&now));
  NewJob job = new_job({"a b", "", std::string("nul\0byte", 8), "\xff\n"}, "render", 7);
  job.command = "convert {} {.}.png";
  const SubmitResult result = store.submit(std::span(&job, 1));
  REQUIRE(result.outcome == SubmitResult::Outcome::kAccepted);
  REQUIRE(result.ids == std::vector<uint64_t>{1});
  CHECK(store.in_transaction());
  store.commit();
  CHECK_FALSE(store.in_transaction());

  const auto info = store.job(1);
  REQUIRE(info.has_value());
  CHECK(info->fields == job.fields);
  CHECK(info->command == "convert {} {.}.png");
  CHECK(info->group == "render");
  CHECK(info->priority == 7);
  CHECK(info->state == JobState::kQueued);
  CHECK(info->attempts == 0);
  CHECK_FALSE(info->exit_status.has_value());
  CHECK(info->submitted_ms == now);
  CHECK(info->started_ms == 0);
  CHECK_FALSE(store.job(2).has_value());
  const auto group = store.group("render");
  REQUIRE(group.has_value());
  CHECK(group->count(JobState::kQueued) == 1);
}

TEST_CASE("runnable jobs come by priority, then in submission order, across groups") {
  ScratchDir dir;
  Store store(dir.path());
  std::vector<NewJob> jobs = {new_job({"1"}, "a", 0), new_job({"2"}, "b", 5),
                              new_job({"3"}, "a", 5), new_job({"4"}, "b", 0),
                              new_job({"5"}, "a", -1)};
  store.submit(jobs);
  store.commit();
  const auto first = store.take_runnable(3, kT0);
  CHECK(ids_of(first) == std::vector<uint64_t>{2, 3, 1});
  CHECK(first[0].group == "b");
  CHECK(first[0].fields == std::vector<std::string>{"2"});
  CHECK(state_of(store, 2) == JobState::kRunning);
  CHECK(store.job(2)->attempts == 1);
  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{4, 5});
  CHECK(store.take_runnable(10, kT0).empty());
  CHECK(store.unfinished() == 5);
}

TEST_CASE("a group's worker limit and pause hold its jobs back, not the other groups'") {
  ScratchDir dir;
  Store store(dir.path());
  GroupSettings two;
  two.worker_limit = 2;
  two.queue_size = 100;
  store.set_group("small", two);
  std::vector<NewJob> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(new_job({std::to_string(i)}, "small"));
  jobs.push_back(new_job({"other"}, "big"));
  store.submit(jobs);
  store.commit();

  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{1, 2, 5});
  CHECK(store.take_runnable(10, kT0).empty());
  store.mark_ended(1, JobEnd{});
  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{3});

  GroupSettings paused = two;
  paused.paused = true;
  store.set_group("small", paused);
  store.mark_ended(2, JobEnd{});
  CHECK(store.take_runnable(10, kT0).empty());
  store.set_group("small", two);
  store.set_paused_all(true);
  CHECK(store.take_runnable(10, kT0).empty());
  store.set_paused_all(false);
  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{4});
}

TEST_CASE("a group's rate paces its starts") {
  ScratchDir dir;
  Store store(dir.path());
  GroupSettings paced;
  paced.rate = 2;  // a start every 500 ms
  paced.queue_size = 100;
  store.set_group("paced", paced);
  std::vector<NewJob> jobs(3, new_job({"x"}, "paced"));
  store.submit(jobs);
  store.commit();
  CHECK(store.take_runnable(10, kT0).size() == 1);
  CHECK(store.take_runnable(10, kT0 + milliseconds(100)).empty());
  CHECK(store.next_rate_start(kT0 + milliseconds(100)) == kT0 + milliseconds(500));
  CHECK(store.take_runnable(10, kT0 + milliseconds(500)).size() == 1);
  CHECK(store.take_runnable(10, kT0 + milliseconds(1000)).size() == 1);
  CHECK(store.next_rate_start(kT0 + milliseconds(1000)) == kNever);  // nothing left to start
}

TEST_CASE("a job waits for the jobs it depends on, and fails when one of them does not succeed") {
  ScratchDir dir;
  Store store(dir.path());
  std::vector<NewJob> first = {new_job({"build"}), new_job({"fetch"})};
  store.submit(first);
  std::vector<NewJob> second = {new_job({"test"}, "default", 0, {1, 2, 2})};
  store.submit(second);
  std::vector<NewJob> third = {new_job({"deploy"}, "default", 0, {3})};
  store.submit(third);
  store.commit();
  CHECK(state_of(store, 3) == JobState::kWaiting);
  CHECK(store.job(3)->after == std::vector<uint64_t>{1, 2});
  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{1, 2});

  SUBCASE("all succeeded: it is queued") {
    const auto changes = store.mark_ended(1, JobEnd{});
    REQUIRE(changes.size() == 1);
    CHECK(state_of(store, 3) == JobState::kWaiting);
    const auto more = store.mark_ended(2, JobEnd{});
    REQUIRE(more.size() == 2);
    CHECK(more[1].id == 3);
    CHECK(more[1].state == JobState::kQueued);
    CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{3});
  }
  SUBCASE("one failed: it fails, and so do the jobs that depend on it") {
    JobEnd failed;
    failed.exit_status = 2;
    const auto changes = store.mark_ended(2, failed);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].state == JobState::kFailed);
    CHECK(changes[1].id == 3);
    CHECK(changes[1].reason == "dependency 2 failed");
    CHECK(changes[2].id == 4);
    CHECK(changes[2].reason == "dependency 3 failed");
    CHECK(state_of(store, 4) == JobState::kFailed);
    CHECK(store.job(2)->exit_status == 2);
    store.mark_ended(1, JobEnd{});
    CHECK(store.take_runnable(10, kT0).empty());
    CHECK(store.unfinished() == 0);
  }
  SUBCASE("a job submitted after its dependency failed fails at once") {
    JobEnd killed;
    killed.signal = 9;
    store.mark_ended(1, killed);
    std::vector<NewJob> late = {new_job({"late"}, "default", 0, {1})};
    const SubmitResult result = store.submit(late);
    REQUIRE(result.outcome == SubmitResult::Outcome::kAccepted);
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].reason == "dependency 1 failed");
    CHECK(state_of(store, result.ids[0]) == JobState::kFailed);
  }
}

TEST_CASE("a dependency on a job that does not exist (yet) refuses the whole submit") {
  ScratchDir dir;
  Store store(dir.path());
  std::vector<NewJob> jobs = {new_job({"a"}), new_job({"b"}, "default", 0, {9})};
  SubmitResult result = store.submit(jobs);
  CHECK(result.outcome == SubmitResult::Outcome::kBadRequest);
  CHECK(result.error == "after: there is no job 9");
  // Nor on one of the same submit: its id is not known to whoever submits it.
  jobs[1].after = {1};
  result = store.submit(jobs);
  CHECK(result.error == "after: there is no job 1");
  CHECK_FALSE(store.job(1).has_value());
  CHECK(store.unfinished() == 0);
}

TEST_CASE("a full queue refuses a whole batch, and takes jobs again once some have started") {
  ScratchDir dir;
  Store::Options options;
  options.queue_size = 3;
  Store store(dir.path(), options);
  std::vector<NewJob> two(2, new_job({"x"}));
  REQUIRE(store.submit(two).outcome == SubmitResult::Outcome::kAccepted);
  const SubmitResult full = store.submit(two);
  CHECK(full.outcome == SubmitResult::Outcome::kQueueFull);
  CHECK(full.group == "default");
  CHECK(full.error == "the queue of group 'default' is full (2 of 3 jobs)");
  CHECK(store.unfinished() == 2);
  // Another group has a queue of its own.
  std::vector<NewJob> elsewhere(3, new_job({"y"}, "other"));
  CHECK(store.submit(elsewhere).outcome == SubmitResult::Outcome::kAccepted);
  store.take_runnable(1, kT0);
  CHECK(store.submit(two).outcome == SubmitResult::Outcome::kAccepted);
}

TEST_CASE("an idempotency key makes a repeated submit give the same ids, even after a restart") {
  ScratchDir dir;
  int64_t now = 1'000'000;
  std::vector<NewJob> jobs(3, new_job({"x"}));
  {
    Store store(dir.path(), fixed_time(&now));
    const SubmitResult first = store.submit(jobs, "key-1", 42);
    REQUIRE(first.ids == std::vector<uint64_t>{1, 2, 3});
    const SubmitResult again = store.submit(jobs, "key-1", 42);
    CHECK(again.outcome == SubmitResult::Outcome::kReplayed);
    CHECK(again.ids == first.ids);
    store.commit();
  }
  Store store(dir.path(), fixed_time(&now));
  const SubmitResult replayed = store.submit(jobs, "key-1", 42);
  CHECK(replayed.outcome == SubmitResult::Outcome::kReplayed);
  CHECK(replayed.ids == std::vector<uint64_t>{1, 2, 3});
  const SubmitResult other = store.submit(jobs, "key-1", 43);
  CHECK(other.outcome == SubmitResult::Outcome::kKeyReused);
  CHECK(other.error == "Idempotency-Key 'key-1' was used for another request");
  CHECK(store.unfinished() == 3);
  now += 10'000;
  store.forget_keys_older_than(5'000);
  CHECK(store.submit(jobs, "key-1", 43).ids == std::vector<uint64_t>{4, 5, 6});
}

TEST_CASE("cancelling a queued job fails its dependants; a running job is left to the pool") {
  ScratchDir dir;
  Store store(dir.path());
  std::vector<NewJob> jobs = {new_job({"a"}), new_job({"b"})};
  store.submit(jobs);
  std::vector<NewJob> dependant = {new_job({"c"}, "default", 0, {2})};
  store.submit(dependant);
  store.take_runnable(1, kT0);
  CHECK(store.cancel(1).empty());
  CHECK(state_of(store, 1) == JobState::kRunning);
  const auto changes = store.cancel(2);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].state == JobState::kCancelled);
  CHECK(changes[1].reason == "dependency 2 was cancelled");
  CHECK(store.cancel(2).empty());
  JobEnd cancelled;
  cancelled.cancelled = true;
  cancelled.signal = 15;
  CHECK(store.mark_ended(1, cancelled)[0].state == JobState::kCancelled);
  CHECK(store.mark_ended(1, cancelled).empty());  // it had ended
  CHECK(store.unfinished() == 0);
}

TEST_CASE("settings, pause, counts and ids carry over a restart") {
  ScratchDir dir;
  {
    Store store(dir.path());
    GroupSettings settings;
    settings.worker_limit = 3;
    settings.rate = 1.5;
    settings.queue_size = 77;
    settings.on_interrupt = InterruptPolicy::kFail;
    store.set_group("g", settings);
    store.set_paused_all(true);
    std::vector<NewJob> jobs(2, new_job({"x"}, "g"));
    store.submit(jobs);
    store.commit();
  }
  Store store(dir.path());
  CHECK(store.paused_all());
  const auto group = store.group("g");
  REQUIRE(group.has_value());
  CHECK(group->settings.worker_limit == 3);
  CHECK(group->settings.rate == 1.5);
  CHECK(group->settings.queue_size == 77);
  CHECK(group->settings.on_interrupt == InterruptPolicy::kFail);
  CHECK(group->count(JobState::kQueued) == 2);
  std::vector<NewJob> more(1, new_job({"y"}, "g"));
  CHECK(store.submit(more).ids == std::vector<uint64_t>{3});
}

// Runs `body` in a child process that then dies of SIGKILL, as the daemon would under kill -9:
// no destructor runs, nothing is closed or checkpointed.
void crash_after(const std::function<void()>& body) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      body();
    } catch (...) {
      _exit(1);
    }
    raise(SIGKILL);
    _exit(2);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("after kill -9, committed jobs are there, running ones run again, the rest is gone") {
  ScratchDir dir;
  crash_after([&] {
    Store store(dir.path());
    std::vector<NewJob> jobs(3, new_job({"x"}));
    store.submit(jobs);
    std::vector<NewJob> dependant = {new_job({"y"}, "default", 0, {1})};
    store.submit(dependant);
    store.commit();
    store.take_runnable(2, kT0);  // jobs 1 and 2 run
    store.commit();
    std::vector<NewJob> unacknowledged(5, new_job({"lost"}));
    store.submit(unacknowledged);  // never committed, so never acknowledged
  });
  Store store(dir.path());
  CHECK(store.recovery().requeued == 2);
  CHECK(store.recovery().failed == 0);
  CHECK(state_of(store, 1) == JobState::kQueued);
  CHECK(store.job(1)->interruptions == 1);
  CHECK(store.job(1)->attempts == 1);
  CHECK(state_of(store, 3) == JobState::kQueued);
  CHECK(state_of(store, 4) == JobState::kWaiting);
  CHECK_FALSE(store.job(5).has_value());
  CHECK(store.unfinished() == 4);
  CHECK(ids_of(store.take_runnable(10, kT0)) == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("after kill -9, a group that says so fails its interrupted jobs, and so do repeat ones") {
  ScratchDir dir;
  Store::Options options;
  options.max_interruptions = 2;
  crash_after([&] {
    Store store(dir.path(), options);
    GroupSettings fail;
    fail.queue_size = 10;
    fail.on_interrupt = InterruptPolicy::kFail;
    store.set_group("once", fail);
    std::vector<NewJob> jobs = {new_job({"a"}, "once"), new_job({"b"}, "default")};
    store.submit(jobs);
    std::vector<NewJob> dependant = {new_job({"c"}, "once", 0, {1})};
    store.submit(dependant);
    store.take_runnable(2, kT0);
    store.commit();
  });
  {
    Store store(dir.path(), options);
    CHECK(store.recovery().failed == 1);
    CHECK(store.recovery().requeued == 1);
    const auto job = store.job(1);
    CHECK(job->state == JobState::kFailed);
    CHECK(job->reason == "interrupted: the server stopped while it ran");
    CHECK(state_of(store, 3) == JobState::kFailed);
    CHECK(store.job(3)->reason == "dependency 1 failed");
    CHECK(state_of(store, 2) == JobState::kQueued);
  }
  crash_after([&] {
    Store store(dir.path(), options);
    store.take_runnable(1, kT0);  // job 2, interrupted a second time
    store.commit();
  });
  Store store(dir.path(), options);
  CHECK(store.recovery().failed == 1);
  CHECK(store.job(2)->reason == "interrupted: the server stopped while it ran, 2 times");
}

TEST_CASE("a second store on the same directory is refused, naming the directory") {
  ScratchDir dir;
  Store store(dir.path());
  CHECK_THROWS_WITH_AS(Store(dir.path()),
                       (dir.path() +
                        ": the state directory is in use by another taskpool serve "
                        "(pid " +
                        std::to_string(getpid()) + ")")
                           .c_str(),
                       Error);
}

TEST_CASE("a database from a newer taskpool is refused, and the directory left to it") {
  ScratchDir dir;
  { Store store(dir.path()); }
  {
    Database db(dir.path() + "/jobs.db");
    db.exec("PRAGMA user_version = 99");
  }
  const std::string message =
      dir.path() +
      "/jobs.db: written by a newer taskpool (schema 99); this one reads schema 1 "
      "and older";
  CHECK_THROWS_WITH_AS(Store(dir.path()), message.c_str(), Error);
  // The failed open gave the lock back: the same error again, not "in use".
  CHECK_THROWS_WITH_AS(Store(dir.path()), message.c_str(), Error);
}

TEST_CASE("a state directory that cannot be made is an error naming it") {
  CHECK_THROWS_WITH_AS(Store("/proc/no/such/dir"),
                       "/proc/no/such/dir: cannot create the state directory: No such file or "
                       "directory",
                       Error);
}

// Jobs accepted per second for batches of each size, each batch one commit. Run by hand:
//   build/taskpool_tests -tc='*store throughput*' --no-skip
TEST_CASE("store throughput: jobs per second by batch size" * doctest::skip()) {
  for (const bool full : {false, true}) {
    for (const size_t batch : {size_t{1}, size_t{100}, size_t{10000}}) {
      ScratchDir dir;
      Store::Options options;
      options.sync_every_commit = full;
      Store store(dir.path(), options);
      const size_t total = batch == 1 ? 2000 : batch == 100 ? 50000 : 200000;
      std::vector<NewJob> jobs(batch, new_job({"some/input/file-000123.dat"}));
      const auto start = std::chrono::steady_clock::now();
      for (size_t done = 0; done < total; done += batch) {
        store.submit(jobs);
        store.commit();
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("synchronous=%s batch %5zu: %9.0f jobs/s (%zu jobs in %.2f s)\n",
                  full ? "FULL  " : "NORMAL", batch, static_cast<double>(total) / seconds, total,
                  seconds);
    }
  }
}

}  // namespace
}  // namespace taskpool
