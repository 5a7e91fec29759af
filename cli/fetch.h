// --fetch on the command-line side: turning records into downloads, and reporting them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/scheduler.h"
#include "core/time.h"
#include "tasks/fetch_names.h"

namespace taskpool {

// Names the downloads: wraps the run's JobSource, and gives each record (`URL` or `URL<TAB>PATH`,
// or two --colsep columns) its path as it is taken, in input order, whether its job then runs,
// is skipped (--resume), or never starts. So a download's name depends on the input alone (and,
// with --continue, on the files other URLs' downloads left: see Options::keep_existing), and
// retries write the same file. The download's argv goes at the end of the record's fields, which
// stay as they were before it (--priority-col reads them). Not thread-safe: used on the
// scheduler's thread.
class FetchNamer final : public JobSource {
 public:
  struct Options {
    std::string output_dir = ".";
    // --continue: a URL takes its own file or .part where it finds it among its names, and
    // never another URL's (NameRegistry::claim), so it finds its own again when the input's
    // order changed.
    bool keep_existing = false;
    NameSet::Options names;
  };
  FetchNamer(JobSource& records, Options options);

  State poll(Record& out) override;
  uint64_t records_seen() const override { return records_.records_seen(); }

  // The download of a job whose record came through poll(): its URL, and its path or, when the
  // record's path was refused, why; the URL is its command's line.
  static AttemptPayload download(const Job& job);

 private:
  JobSource& records_;
  Options options_;
  NameRegistry names_;
};

// What the downloads of a run add to the summary.
class FetchReport {
 public:
  // -o/--output-dir, where the failed downloads' files would have gone.
  void set_output_dir(std::string dir) { output_dir_ = std::move(dir); }
  void add_attempt(const Completion& completion);
  // `path`: relative to the output directory, empty when the download had none.
  void add_failure(const std::string& url, const std::string& path, const Completion& completion);

  std::string text(Duration wall) const;  // lines for the text summary
  std::string json(Duration wall) const;  // the "fetch" object

 private:
  static constexpr size_t kMaxListed = 1000;
  uint64_t bytes_ = 0;
  std::map<int, uint64_t> statuses_;  // HTTP status -> attempts
  std::string output_dir_ = ".";
  struct Failure {
    std::string url;
    std::string file;  // under the output directory, or empty
    std::string reason;
    int http_status;
  };
  std::vector<Failure> failures_;
  uint64_t unlisted_failures_ = 0;
};

}  // namespace taskpool
