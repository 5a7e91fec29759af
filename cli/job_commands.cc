#include "cli/job_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace taskpool {

Command refused_command(bool fetch, const CommandTemplate& command, const RecordBound& bound,
                        const Job& job, WorkerId worker) {
  Command refused(fetch ? job.record.fields.front() + "..." : command.expand(job, worker).line);
  if (!job.record.refused.empty()) {
    refused.refused = job.record.refused;
    return refused;
  }
  refused.refused =
      fmt::format("{}: {}: the record of job {} is {} bytes, {} ({} bytes)",
                  refused.line.substr(0, refused.line.find_first_of(" \t\n")), bound.problem,
                  job.seq, job.record.too_long, bound.more_than, bound.max_bytes);
  return refused;
}

void refuse_if_longer(Command& command, size_t max_line, const Job& job) {
  const size_t size = command.line.size() + 1;
  if (size <= max_line) return;
  std::string record;
  for (const std::string& field : job.record.fields) record += (record.empty() ? "" : " ") + field;
  constexpr size_t kShown = 40;
  if (record.size() > kShown) {
    record.resize(kShown);
    record += "...";
  }
  command.refused = fmt::format(
      "{}: command line too long: job {} (record '{}') is {} bytes with its "
      "terminating NUL, more than -s/--max-chars {}",
      command.line.substr(0, command.line.find_first_of(" \t\n")), job.seq, record, size, max_line);
}

Command with_input_file(const CommandTemplate& command, const Job& job, WorkerId worker,
                        bool fifo) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path =
      fmt::format("{}/taskpool-{}-{}-{}", dir != nullptr && *dir != '\0' ? dir : "/tmp",
                  fifo ? "fifo" : "cat", getpid(), job.seq);
  Command made = command.expand(Job{job.seq, Record({path})}, worker);
  made.input = job.record.input;
  (fifo ? made.input_fifo : made.input_file) = path;
  return made;
}

void add_transfer_files(const RunPlan& plan, const Job& job, WorkerId worker, Command& command) {
  for (const CommandTemplate& file : plan.send_files) {
    command.send_files.push_back(file.expand_text(job, worker));
  }
  for (const CommandTemplate& file : plan.return_files) {
    command.return_files.push_back(file.expand_text(job, worker));
  }
}

}  // namespace taskpool
