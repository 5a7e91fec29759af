// --resume and --resume-failed: the jobs a joblog lists are skipped (or, with --resume-failed,
// those that succeeded).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "cli/joblog.h"
#include "cli/plan.h"
#include "core/job.h"
#include "core/template.h"

namespace taskpool {

// The jobs of the joblog that are not to run again (SchedulerOptions::skip).
std::function<bool(uint64_t)> resume_skip(const ResumePlan& plan,
                                          std::shared_ptr<const LoggedJobs> logged);

// When several records make a job, which records make job N depends on -j, -s, the stack limit
// and the size of the environment, so job N of this run may hold other records than job N of
// the joblog: skipping it, or running it again, would leave records out or run them twice. So
// each job the joblog lists must run the command it ran there; the input ends at the first that
// does not (FeedOptions::check throws), and the run fails with a message. Empty when the plan
// needs no check.
std::function<void(uint64_t, const Record&)> resume_check(const ResumePlan& plan,
                                                          const CommandTemplate& command,
                                                          std::shared_ptr<const LoggedJobs> logged);

}  // namespace taskpool
