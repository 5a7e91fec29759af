#include "tasks/fetch_lanes.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/file_io.h"

namespace taskpool {

namespace {

// The lanes' executors unblock nothing as they wait: the scheduler's thread takes the signals.
sigset_t every_signal() {
  sigset_t all;
  sigfillset(&all);
  return all;
}

}  // namespace

LaneExecutorOptions FetchLanes::lane_options(const FetchOptions& options) {
  LaneExecutorOptions lanes;
  lanes.lanes = std::max<size_t>(1, options.lanes);
  lanes.wake_fd = options.wake_fd;
  lanes.thread_name = "fetch lane";
  FetchOptions lane = options;
  lane.wake_fd = -1;  // its own: the stop signals' eventfd is the scheduler's thread's to drain
  lane.lanes = 1;
  // The lanes write their files themselves: they use the CPUs already, and a writer thread a
  // lane cost more in wake-ups than it saved (measured: DEVELOPING.md, "Fetch lanes").
  lane.writer_thread = false;
  lanes.make = [lane](size_t /*index*/) -> std::unique_ptr<Executor> {
    return std::make_unique<FetchExecutor>(lane, every_signal());
  };
  progress_.resize(lanes.lanes);
  if (options.progress_every == Duration::zero()) return lanes;
  lanes.wait_at_most = options.progress_every;
  lanes.after_wait = [this](size_t index, const Executor& executor) {
    const FetchProgress now = static_cast<const FetchExecutor&>(executor).progress();
    const std::lock_guard lock(mutex_);
    progress_[index] = now;
  };
  return lanes;
}

FetchLanes::FetchLanes(const FetchOptions& options, const sigset_t& original_mask)
    : lanes_(lane_options(options), original_mask) {}

FetchLanes::~FetchLanes() = default;

FetchProgress FetchLanes::progress() const {
  FetchProgress sum;
  const std::lock_guard lock(mutex_);
  for (const FetchProgress& p : progress_) {
    sum.received += p.received;
    sum.finished += p.finished;
    sum.files_sized += p.files_sized;
    sum.bytes_sized += p.bytes_sized;
    sum.bytes_have += p.bytes_have;
  }
  return sum;
}

std::unique_ptr<Executor> make_fetch_executor(FetchOptions options, const sigset_t& original_mask,
                                              std::function<FetchProgress()>& progress) {
  // Looked at once, before any lane writes there.
  options.fresh_directory = holds_nothing(options.output_dir);
  if (options.lanes > 1) {
    auto lanes = std::make_unique<FetchLanes>(options, original_mask);
    progress = [downloads = lanes.get()] { return downloads->progress(); };
    return lanes;
  }
  auto downloads = std::make_unique<FetchExecutor>(std::move(options), original_mask);
  progress = [fetcher = downloads.get()] { return fetcher->progress(); };
  return downloads;
}

}  // namespace taskpool
