// Fuzzes the joblog reader for --resume (cli/joblog.h parse_joblog).
//
// Input: a mode byte, then
//   even  any text (after the joblog header when bit 1 is set, so lines get parsed): parse_joblog
//         returns or throws Error, nothing else; every job it lists has a sequence number of at
//         least 1, and there are no more jobs than complete lines
//   odd   attempts and completions (FuzzedDataProvider), written with joblog_line as JobLog
//         writes them, plus a last line cut off part way: parsing gives back every job's
//         sequence number, and for each whether its last attempt succeeded and its command (a
//         newline in it written as NUL) with that command's hash; the cut-off line counts for
//         nothing
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cli/joblog.h"
#include "core/error.h"
#include "core/job.h"
#include "tests/fuzz/fuzz_check.h"

namespace taskpool {
namespace {

using fuzz::escaped;

void check_any_text(std::string_view text, bool with_header) {
  const std::string log =
      (with_header ? std::string(JobLog::kHeader) : std::string()) + std::string(text);
  LoggedJobs jobs;
  try {
    jobs = parse_joblog(log, "fuzz.log");
  } catch (const Error& error) {
    const std::string message = error.what();
    FUZZ_CHECK(message.starts_with("'fuzz.log' "), message);
    return;
  }
  for (const auto& [seq, job] : jobs) FUZZ_CHECK(seq >= 1, escaped(log));
  FUZZ_CHECK(jobs.size() <= static_cast<size_t>(std::count(log.begin(), log.end(), '\n')),
             escaped(log));
}

// An attempt and how it ended, as an executor and the scheduler report them.
std::pair<Attempt, Completion> take_attempt(FuzzedDataProvider& in) {
  Attempt attempt;
  // Mostly small numbers, so jobs repeat (retries, a resumed log appended to).
  attempt.seq = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(1, 8)
                                 : in.ConsumeIntegralInRange<uint64_t>(1, INT64_MAX);
  attempt.number = in.ConsumeIntegralInRange(1, 10);
  attempt.worker = in.ConsumeIntegralInRange(1, 64);
  attempt.command.line = in.ConsumeRandomLengthString(64);  // tabs, newlines, NULs and all
  Completion completion;
  completion.worker = attempt.worker;
  completion.started = in.ConsumeIntegralInRange(0, 7) != 0;
  if (completion.started) {
    completion.signal = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange(1, 64);
    completion.exit_status = completion.signal != 0 ? 0 : in.ConsumeIntegralInRange(0, 255);
    completion.timed_out = in.ConsumeBool();
  } else {
    completion.exit_status = in.ConsumeBool() ? 127 : 126;
  }
  completion.start = TimePoint(Duration(in.ConsumeIntegral<int64_t>() / 2));
  completion.end =
      completion.start + Duration(in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX / 2));
  completion.detail.stdout_bytes = in.ConsumeIntegral<uint64_t>();
  return {std::move(attempt), std::move(completion)};
}

void check_round_trip(FuzzedDataProvider& in) {
  std::string log = JobLog::kHeader;
  std::unordered_map<uint64_t, std::pair<bool, std::string>> expected;
  const size_t attempts = in.ConsumeIntegralInRange<size_t>(0, 16);
  for (size_t i = 0; i < attempts; ++i) {
    const auto [attempt, completion] = take_attempt(in);
    const double start_epoch = in.ConsumeFloatingPoint<double>();
    log += joblog_line(attempt, completion, start_epoch);
    std::string command = attempt.command.line;
    std::replace(command.begin(), command.end(), '\n', '\0');
    expected[attempt.seq] = {completion.succeeded(), command};
  }
  // A run killed while writing its last line.
  const auto [attempt, completion] = take_attempt(in);
  const std::string last = joblog_line(attempt, completion, 1.7e9);
  log += last.substr(0, in.ConsumeIntegralInRange<size_t>(0, last.size() - 1));

  LoggedJobs jobs;
  try {
    jobs = parse_joblog(log, "fuzz.log", /*keep_commands=*/true);
  } catch (const Error& error) {
    FUZZ_CHECK(false, std::string("a written joblog does not parse: ") + error.what() + "\n  " +
                          escaped(log));
  }
  bool same = jobs.size() == expected.size();
  for (const auto& [seq, job] : jobs) {
    const auto it = expected.find(seq);
    same = same && it != expected.end() && job.succeeded == it->second.first &&
           job.command == it->second.second &&
           job.command_hash == joblog_command_hash(it->second.second);
  }
  FUZZ_CHECK(same, "the jobs read back differ from the jobs written:\n  " + escaped(log));
}

}  // namespace
}  // namespace taskpool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  if (mode & 1) {
    FuzzedDataProvider in(data + 1, size - 1);
    check_round_trip(in);
  } else {
    check_any_text(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), mode & 2);
  }
  return 0;
}
