// Prints job output: each job's output whole and never mixed with another's, in completion order
// or (with -k) in input order; or, with --line-buffer, whole lines as they arrive.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cli/joblog.h"
#include "core/error.h"
#include "core/job.h"
#include "core/template.h"
#include "tasks/process_executor.h"

namespace taskpool {

// Writes all of `data` to `fd`, retrying on EINTR and short writes. Throws Error on failure;
// a closed pipe throws BrokenPipe.
void write_all(int fd, std::string_view data, const char* what);

class BrokenPipe : public Error {
 public:
  BrokenPipe() : Error("standard output was closed") {}
};

// Not thread-safe: called on the scheduler's thread.
class OutputPrinter {
 public:
  struct Options {
    bool keep_order = false;
    bool tag = false;
    bool print_commands = false;  // --dry-run, -v: each command line before its output
    bool trace = false;           // -t: each command line to stderr as it starts
    // --tagstring: the tag of a job's lines, expanded (GNU parallel: unquoted) for the job.
    std::optional<CommandTemplate> tag_string = std::nullopt;
  };
  explicit OutputPrinter(Options options, int out_fd = 1, int err_fd = 2,
                         uint64_t held_memory_budget = kHeldMemoryBudget);

  // --joblog: a job's line is written right after its output has been printed (with -k, when
  // its turn comes, so the joblog is in input order), never before: a run killed in between
  // leaves the job out of the joblog, and --resume runs it again instead of losing its output.
  // A job whose output could not be printed gets no line.
  void set_joblog(JobLog* joblog) { joblog_ = joblog; }

  void job_started(const Job& job, const Attempt& attempt);
  // Whether job_ended would print something for this completion now or later.
  bool has_output(const Completion& completion) const;
  // Prints (or, with -k, holds until earlier jobs are printed) the job's output, then its
  // joblog line.
  void job_ended(const Job& job, const Attempt& attempt, Completion& completion);
  // -k: job `seq` will print nothing (skipped by --resume); later ones need not wait for it.
  void skip(uint64_t seq);
  // The run is over: with -k, prints what still waits for jobs that never ended (the run was
  // stopped, or priorities started later jobs first), in order.
  void finish();
  // --line-buffer: complete lines from the attempt running on `worker` (a long line may come in
  // several calls, one right after the other; with --tag, only its first part is tagged).
  void lines(WorkerId worker, Stream stream, std::string_view data);

  size_t held() const { return held_.size(); }
  // -k: bytes of held output in memory. Past `budget`, held output goes to temporary files
  // instead, so memory stays flat behind a slow job however much the jobs after it print.
  uint64_t held_memory() const { return held_memory_; }
  static constexpr uint64_t kHeldMemoryBudget = 16 * 1024 * 1024;

 private:
  struct Held {
    std::string tag;
    std::string command;
    std::unique_ptr<OutputBuffer> out;
    std::unique_ptr<OutputBuffer> err;
    std::string log_line;  // for the joblog, once the output is out
    uint64_t memory = 0;   // bytes of out and err in memory, counted in held_memory_
  };
  void hold(uint64_t seq, Held held);
  void print(Held& held);
  void print_ready();  // -k: what held_ has from next_to_print_ on, without a gap
  void write_stream(int fd, const std::string& tag, const OutputBuffer& buffer);
  void write_tagged(int fd, const std::string& tag, std::string_view data, bool& at_line_start);
  std::string tag(const Job& job, WorkerId worker) const;

  Options options_;
  uint64_t held_memory_budget_;
  JobLog* joblog_ = nullptr;
  int out_fd_;
  int err_fd_;
  uint64_t next_to_print_ = 1;
  std::map<uint64_t, Held> held_;  // -k: ended, waiting for earlier jobs
  uint64_t held_memory_ = 0;
  // --line-buffer --tag: per running worker, its tag and whether each stream is at a line start.
  struct LineTag {
    std::string tag;
    bool at_line_start[2] = {true, true};  // by Stream
  };
  std::unordered_map<WorkerId, LineTag> tags_;
};

// GNU parallel's tag: the record's fields joined by spaces, then a tab.
std::string tag_of(const Record& record);

}  // namespace taskpool
