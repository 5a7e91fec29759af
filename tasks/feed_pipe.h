// A child's feedback pipe (--feedback: file descriptor 3 in the child), as taskpool reads it.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/unique_fd.h"

namespace taskpool {

// The feedback pipe's number in a child.
inline constexpr int kFeedFd = 3;

// The longest record a job may feed: a path, a URL, a line of columns. Longer is an error of
// the job's (and keeps one job from filling taskpool's memory with one record).
inline constexpr size_t kMaxFedRecord = 1024 * 1024;

// Small reads, so that the records taken past what the scheduler welcomes stay few.
inline constexpr size_t kFeedChunk = 4096;

struct FeedPipe {
  // Reads what is there without waiting, kFeedChunk at a time, up to `limit` bytes and while
  // `more()` says so (when set); each whole record goes to `out`. Closes the pipe at end of file,
  // and after a record longer than kMaxFedRecord (its writer gets a broken pipe).
  void read(WorkerId worker, char delimiter, std::span<char> buffer, size_t limit,
            std::vector<FedRecord>& out, const std::function<bool()>& more = {});
  // After the child has ended: takes what is in the pipe now, and the last record even without
  // its delimiter; what its background processes write later is not waited for.
  void finish(WorkerId worker, char delimiter, std::span<char> buffer, std::vector<FedRecord>& out);

  UniqueFd fd;            // invalid at end of file, and once the child has ended
  std::string partial;    // the start of a record whose delimiter has not come yet
  bool too_long = false;  // it fed a record past kMaxFedRecord: the pipe was closed
};

}  // namespace taskpool
