#include "cli/compare.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "cli/outcome.h"
#include "cli/output_file.h"
#include "cli/printer.h"
#include "cli/record_feed.h"
#include "cli/report.h"
#include "cli/run.h"

namespace taskpool {

std::vector<Record> read_all_records(const RunConfig& config, const RunPlan& plan) {
  RecordLimit limit;
  limit.max_bytes = plan.input.bound.max_bytes;
  limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  auto stream = open_records(config, limit);
  std::optional<RecordGrouper> grouper;
  if (std::optional<RecordGrouper::Options> options = plan.input.grouping) {
    if (!config.positional) options->length = grouping_length(plan.command, plan.pool.workers);
    grouper.emplace(*stream, std::move(*options));
  }
  std::vector<Record> records;
  while (auto record = grouper ? grouper->next() : stream->next()) {
    records.push_back(std::move(*record));
  }
  return records;
}

int run_compare(const RunConfig& config, const RunPlan& plan, Signals& signals,
                Guardian* guardian) {
  std::optional<OutputFile> summary_file;
  std::optional<OutputFile> timeline_file;
  if (config.summary_json) summary_file.emplace("--summary-json", *config.summary_json, true);
  if (config.timeline) timeline_file.emplace("--timeline", *config.timeline, false);
  const std::vector<Record> records = read_all_records(config, plan);

  std::vector<RunOutcome> outcomes;
  for (const DispatchMode mode : {DispatchMode::kBatch, DispatchMode::kPool}) {
    Run run(config, compare_plan(plan, mode), signals, guardian, records);
    outcomes.push_back(run.run());
    if (outcomes.back().broken_pipe) signals.die_of_broken_pipe();
    if (!outcomes.back().error.empty()) return finish_run(outcomes.back());
    if (signals.stop_count() > 0) break;
  }
  if (timeline_file) {
    std::vector<const Timeline*> runs;
    runs.reserve(outcomes.size());
    for (const RunOutcome& outcome : outcomes) runs.push_back(&*outcome.timeline);
    timeline_file->write(timeline_svg(runs));
  }
  const RunStats& batch = outcomes.front().stats;
  const RunStats pool = outcomes.size() > 1 ? outcomes.back().stats : RunStats{};
  write_all(STDOUT_FILENO, comparison_text(batch, pool), "standard output");
  int status = 0;
  for (const RunOutcome& outcome : outcomes) status = std::max(status, exit_status(outcome));
  if (summary_file) {
    const RunHeader header{run_command(config), status, batch.start, outcomes.back().stats.end};
    const std::string json = comparison_json(batch, pool, outcomes.front().json,
                                             outcomes.size() > 1 ? outcomes.back().json : "");
    summary_file->write(with_header(json, header) + "\n");
  }
  return status;
}

}  // namespace taskpool
