#include "cli/resume.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "core/error.h"

namespace taskpool {

std::function<bool(uint64_t)> resume_skip(const ResumePlan& plan,
                                          std::shared_ptr<const LoggedJobs> logged) {
  return [logged = std::move(logged), only_succeeded = plan.only_succeeded](uint64_t seq) {
    const auto it = logged->find(seq);
    return it != logged->end() && (it->second.succeeded || !only_succeeded);
  };
}

std::function<void(uint64_t, const Record&)> resume_check(
    const ResumePlan& plan, const CommandTemplate& command,
    std::shared_ptr<const LoggedJobs> logged) {
  if (!plan.check_commands) return {};
  std::string flag = plan.only_succeeded ? "--resume-failed" : "--resume";
  return [command, logged = std::move(logged), flag = std::move(flag), joblog = plan.joblog](
             uint64_t seq, const Record& record) {
    const auto it = logged->find(seq);
    const Job job{seq, record};
    if (it == logged->end() || same_command(it->second, command, job)) return;
    const std::string line = command.expand(job, 1).line;
    throw UsageError(fmt::format(
        "{}: job {} would run '{}{}', not the command the joblog '{}' lists for job {}: with "
        "-n, -N, -L, -X or -m, which records make a job depends on -j, -s, the stack limit "
        "(ulimit -s) and the size of the environment, besides the input and the command; run "
        "with the same ones as the run that wrote the joblog, or start a new joblog",
        flag, seq, line.substr(0, 60), line.size() > 60 ? "..." : "", joblog, seq));
  };
}

}  // namespace taskpool
