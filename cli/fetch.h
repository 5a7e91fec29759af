// --fetch on the command-line side: turning records into downloads, and reporting them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/job.h"
#include "core/time.h"
#include "tasks/fetch_names.h"

namespace taskpool {

// Makes the Command of a download from a record: `URL` or `URL<TAB>PATH` (or two --colsep
// columns). Each job's path is chosen once, at its first attempt, so retries write the same file.
// Not thread-safe: used on the scheduler's thread.
class FetchCommands {
 public:
  Command build(const Job& job);
  void forget(uint64_t seq) { paths_.erase(seq); }

 private:
  NameRegistry names_;
  std::unordered_map<uint64_t, std::vector<std::string>> paths_;  // seq -> argv
};

// What the downloads of a run add to the summary.
class FetchReport {
 public:
  void add_attempt(const Completion& completion);
  void add_failure(const std::string& url, const Completion& completion);

  std::string text(Duration wall) const;  // lines for the text summary
  std::string json(Duration wall) const;  // the "fetch" object

 private:
  static constexpr size_t kMaxListed = 1000;
  uint64_t bytes_ = 0;
  std::map<int, uint64_t> statuses_;  // HTTP status -> attempts
  struct Failure {
    std::string url;
    std::string reason;
    int http_status;
  };
  std::vector<Failure> failures_;
  uint64_t unlisted_failures_ = 0;
};

}  // namespace taskpool
