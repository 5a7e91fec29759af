#include "cli/onall.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "cli/compare.h"
#include "cli/outcome.h"
#include "cli/run.h"
#include "core/error.h"

namespace taskpool {

namespace {

// The run of one host: it alone, one worker.
RunConfig host_config(const RunConfig& config, size_t host) {
  RunConfig one = config;
  one.onall = one.nonall = false;
  one.hosts = {config.hosts[host]};
  one.hosts.front().workers = 1;
  if (config.tag && !config.tagstring) one.tagstring = config.hosts[host].text;
  if (host > 0) one.joblog_append = true;
  return one;
}

}  // namespace

int run_on_all_hosts(const RunConfig& config, const Limits& limits, Signals& signals,
                     Guardian* guardian) {
  RunConfig all = config;
  std::vector<Record> records;
  if (config.nonall) {
    if (!config.sources.empty()) {
      throw UsageError("--nonall runs the command with no argument: leave out :::, :::: and -a");
    }
    all.no_args = true;
    records.emplace_back(std::vector<std::string>{""});
  } else {
    records = read_all_records(all, make_plan(all, limits));
  }
  int failed = 0;
  for (size_t host = 0; host < all.hosts.size(); ++host) {
    const RunConfig one = host_config(all, host);
    RunPlan plan = make_plan(one, limits);
    plan.input.read_inline = true;  // the records are in memory
    Run run(one, std::move(plan), signals, guardian, records);
    const RunOutcome outcome = run.run();
    if (outcome.broken_pipe) signals.die_of_broken_pipe();
    const int status = finish_run(outcome);
    if (status == kUsageStatus) return status;
    failed = std::min(failed + status, kMaxFailedStatus);
    if (signals.stop_count() > 0) break;
  }
  return failed;
}

}  // namespace taskpool
