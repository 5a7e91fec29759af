#include "cli/failed_jobs.h"

#include <fmt/format.h>

#include "cli/report.h"

namespace taskpool {

void FailedJobs::on_job_end(const Job& job, const Attempt& attempt, Completion& completion) {
  if (completion.succeeded()) return;
  if (listed_.size() >= kListed) {
    ++not_listed_;
    return;
  }
  listed_.push_back({job.seq, attempt.command.line, completion.exit_status, completion.signal,
                     completion.timed_out, completion.error});
}

std::string FailedJobs::json() const {
  std::string out = "{\"listed\": [";
  for (const Failure& f : listed_) {
    if (&f != &listed_.front()) out += ", ";
    out += fmt::format(
        R"({{"seq": {}, "command": {}, "exit_status": {}, "signal": {}, "timed_out": {}, )"
        R"("error": {}}})",
        f.seq, json_string(f.command), f.exit_status, f.signal, f.timed_out ? "true" : "false",
        f.error.empty() ? "null" : json_string(f.error));
  }
  return out + fmt::format("], \"not_listed\": {}}}", not_listed_);
}

}  // namespace taskpool
