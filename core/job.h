// The words of the data model: record, job, attempt, worker, completion. See DESIGN.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/command.h"
#include "core/output_buffer.h"
#include "core/time.h"

namespace taskpool {

// One input item. A line (or NUL- or delimiter-ended item) is one field, or several with
// --colsep; one combination of ::: lists has one field per list. `{}` stands for all fields,
// one word each; `{N}` for field N.
struct Record {
  Record() = default;
  explicit Record(std::vector<std::string> f) : fields(std::move(f)) {}

  std::vector<std::string> fields;
  // Set when no command can be made of the record, and its job fails without running:
  // `too_long`, its size in bytes when it was longer than any command line can be (it was read
  // past, and `fields` hold only its beginning); `refused`, why it could not be split into fields.
  uint64_t too_long = 0;
  std::string refused;
  // What the source knows the record by (the job server's job id), carried to the job, its
  // attempts' observers and the command builder; the scheduler never reads it. 0: nothing.
  uint64_t key = 0;
  // --pipe, --pipepart: the block the job reads on its standard input (it has no fields then).
  std::shared_ptr<const JobInput> input;
  bool runnable() const { return too_long == 0 && refused.empty(); }
};

// A worker is a concurrency slot, numbered 1..N. It is busy with at most one attempt.
using WorkerId = int;

// A record with its sequence number (from 1, in input order).
struct Job {
  uint64_t seq = 0;
  Record record;
  // Its keys, one per keyed limit (SchedulerOptions::limits), made when it is taken.
  std::vector<std::string> keys = {};
};

// What a download attempt fetches (--fetch), as its record was named when it was taken.
struct Download {
  std::string url;
  std::string path;     // relative to the output directory; empty when refused
  std::string refused;  // why the record's path was refused (the attempt fails with it), or empty
};

// What an attempt does: run `command`, or, with `download` set, fetch it (`command.line` is then
// its URL, as the joblog and --dry-run show it). Made from a Command alone for the common case.
struct AttemptPayload {
  // cppcheck-suppress noExplicitConstructor ; a Command is the payload of a command's attempt
  AttemptPayload(Command c) : command(std::move(c)) {}  // NOLINT(google-explicit-constructor)
  AttemptPayload(Command c, Download d) : command(std::move(c)), download(std::move(d)) {}

  Command command;
  std::optional<Download> download;
};

// One run of a job on one worker.
struct Attempt {
  uint64_t seq = 0;     // the job's sequence number
  int number = 1;       // 1 for the first attempt, 2 for the first retry, ...
  WorkerId worker = 0;  // 1..N
  Command command;
  std::optional<Download> download = std::nullopt;  // see AttemptPayload
};

// What an executor knows of an attempt beyond how it ended, for the outputs (printer, joblog,
// reports). The scheduler never reads it; it drops it with an attempt that is retried.
struct AttemptDetail {
  int http_status = 0;  // downloads: the last HTTP status, 0 when none
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  // The whole output when the executor captured it; null when it was passed through or
  // discarded, or when the attempt wrote nothing there.
  std::unique_ptr<OutputBuffer> stdout_data;
  std::unique_ptr<OutputBuffer> stderr_data;
};

// How an attempt ended, as reported by the executor: what the scheduler decides on, and the
// executor's detail for the outputs.
struct Completion {
  WorkerId worker = 0;
  int exit_status = 0;  // the exit code; 0 when killed by a signal; 127 or 126 when not started
  int signal = 0;       // the signal that killed it, or 0
  bool started = true;  // false when it could not be started at all (see error)
  std::string error;    // why it could not start, or empty
  TimePoint start{};
  TimePoint end{};
  // Set by the scheduler: it ended the attempt for running past --timeout, or because the run
  // was stopped (deadline, --halt now, a second signal).
  bool timed_out = false;
  bool stopped = false;
  // Set by the scheduler: it ended the attempt, the youngest running, because less than half of
  // --memfree was available.
  bool short_of_memory = false;
  // Set by executors whose attempts know more: trying again cannot help (a 404), or the other
  // side asked for this delay before trying again (Retry-After).
  bool permanent = false;
  std::optional<Duration> retry_after;
  // Set by executors whose workers can be lost together (the workers of one remote host):
  // `lost_worker`: the worker's group is gone, start nothing on any of its workers again.
  // `never_ran`: the attempt did not begin (its host was down or went down before it ran), so
  // the job waits for another worker and the attempt does not count.
  bool lost_worker = false;
  bool never_ran = false;
  // Set by executors that can tell: the attempt could not start for a transient lack of
  // resources (the system's process limit, `ulimit -u`, or memory: fork's EAGAIN or ENOMEM). It
  // did not run and does not count; the scheduler holds back its starts for a while and tries
  // the job again (see Scheduler).
  bool short_of_resources = false;
  // With short_of_resources: what is short is this process's own (its open-file limit, `ulimit
  // -n`), which only the run's own jobs can give back as they end: with none of them running,
  // the job fails at once rather than wait (see Scheduler).
  bool own_shortage = false;
  AttemptDetail detail;

  bool succeeded() const { return started && signal == 0 && exit_status == 0; }
  Duration runtime() const { return end - start; }
};

}  // namespace taskpool
