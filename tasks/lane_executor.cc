#include "tasks/lane_executor.h"

#include <poll.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {

// Blocks every signal in the calling thread while it lives: the threads started meanwhile
// inherit the mask, so that no signal is ever delivered to them.
class AllSignalsBlocked final {
 public:
  AllSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before_);
  }
  ~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  sigset_t before_;
};

template <typename T>
void append(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty()) {
    to.swap(from);  // from gets to's memory, for the next batch
    return;
  }
  for (T& item : from) to.push_back(std::move(item));
  from.clear();
}

}  // namespace

LaneExecutor::LaneExecutor(LaneExecutorOptions options, const sigset_t& original_mask)
    : options_(std::move(options)), original_mask_(original_mask), wake_(options_.wake_fd) {
  const size_t count = options_.lanes == 0 ? 1 : options_.lanes;
  for (size_t i = 0; i < count; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->executor = options_.make(i);
    lanes_.push_back(std::move(lane));
  }
  const AllSignalsBlocked blocked;
  try {
    for (size_t i = 0; i < count; ++i) {
      lanes_[i]->thread = std::thread([this, i] { run(i); });
      if (!options_.thread_name.empty()) {
        pthread_setname_np(lanes_[i]->thread.native_handle(), options_.thread_name.c_str());
      }
    }
  } catch (...) {
    stop_lanes();
    throw;
  }
}

LaneExecutor::~LaneExecutor() { stop_lanes(); }

void LaneExecutor::stop_lanes() {
  for (const auto& lane : lanes_) {
    const std::lock_guard lock(lane->mutex);
    const bool stopped = lane->stopping;  // by a failure: its executor is gone
    lane->stopping = true;
    lane->has_orders.store(true);  // before `sleeping` is read, as in send_orders()
    lane->work.notify_one();
    // Under the lock: a lane destroys its executor only once it has seen `stopping`.
    if (!stopped && lane->sleeping.exchange(false)) lane->executor->wake();
  }
  for (const auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void LaneExecutor::start(const Attempt& attempt) {
  lanes_[attempt.worker % lanes_.size()]->pending.push_back(Order{attempt});
}

void LaneExecutor::cancel(WorkerId worker, CancelMode mode) {
  Order order;
  order.attempt.worker = worker;
  order.cancel = true;
  order.mode = mode;
  lanes_[worker % lanes_.size()]->pending.push_back(std::move(order));
}

void LaneExecutor::send_orders() {
  for (const auto& lane : lanes_) {
    if (lane->pending.empty()) continue;
    const std::lock_guard lock(lane->mutex);
    append(lane->inbox, lane->pending);
    lane->has_orders.store(true);
    lane->work.notify_one();  // a lane with nothing running sleeps on `work`
    // One that runs attempts sleeps in its executor's wait(), announced by `sleeping`.
    if (!lane->stopping && lane->sleeping.exchange(false)) lane->executor->wake();
  }
}

// On lane `index`'s thread: orders in, what its executor's waits bring out, until stopped.
void LaneExecutor::run(size_t index) {
  Lane& lane = *lanes_[index];
  try {
    Executor& executor = *lane.executor;
    std::vector<Order> orders;
    size_t running = 0;
    while (take_orders(lane, orders, running == 0)) {
      for (const Order& order : orders) {
        if (order.cancel) {
          executor.cancel(order.attempt.worker, order.mode);
        } else {
          executor.start(order.attempt);
          ++running;
        }
      }
      orders.clear();
      if (running == 0) continue;
      // sleeping and has_orders are sequentially consistent, as PartWriter's flags: an order
      // sent after this either is seen below or wakes the wait.
      lane.sleeping.store(true);
      if (lane.has_orders.load()) {
        lane.sleeping.store(false);
        continue;
      }
      const TimePoint until = options_.wait_at_most == Duration::zero()
                                  ? kNever
                                  : std::chrono::steady_clock::now() + options_.wait_at_most;
      WaitResult result = executor.wait(until);
      lane.sleeping.store(false);
      running -= std::min(running, result.completions.size());
      if (options_.after_wait) options_.after_wait(index, executor);
      if (!result.completions.empty()) hand_over(result.completions);
    }
  } catch (...) {
    lane.sleeping.store(false);
    {
      const std::lock_guard lock(lane.mutex);
      lane.stopping = true;
    }
    const std::lock_guard lock(done_mutex_);
    if (!failure_) failure_ = std::current_exception();
    has_done_.store(true);
    if (sleeping_.exchange(false)) wake_.notify();
  }
  lane.executor.reset();
}

// Returns false when the lane is to stop. `idle`: nothing runs, so it sleeps until orders come.
bool LaneExecutor::take_orders(Lane& lane, std::vector<Order>& orders, bool idle) {
  if (!idle && !lane.has_orders.load()) return true;
  std::unique_lock lock(lane.mutex);
  if (idle) lane.work.wait(lock, [&lane] { return lane.stopping || !lane.inbox.empty(); });
  if (lane.stopping) return false;
  orders.swap(lane.inbox);
  lane.has_orders.store(false);
  return true;
}

void LaneExecutor::hand_over(std::vector<Completion>& completions) {
  {
    const std::lock_guard lock(done_mutex_);
    append(done_, completions);
    has_done_.store(true);
  }
  if (sleeping_.exchange(false)) wake_.notify();  // one wake-up a sleep
}

bool LaneExecutor::take_done(WaitResult& result) {
  if (!has_done_.load()) return false;
  const std::lock_guard lock(done_mutex_);
  if (failure_) std::rethrow_exception(failure_);
  append(result.completions, done_);
  has_done_.store(false);
  return !result.completions.empty();
}

WaitResult LaneExecutor::wait(TimePoint deadline, std::span<pollfd> also_watch) {
  for (pollfd& fd : also_watch) fd.revents = 0;
  send_orders();
  WaitResult result;
  while (!take_done(result)) {
    if (deadline != kNever && std::chrono::steady_clock::now() >= deadline) break;
    fds_.clear();
    fds_.push_back({wake_.get(), POLLIN, 0});
    for (const pollfd& fd : also_watch) fds_.push_back({fd.fd, fd.events, 0});
    sleeping_.store(true);
    if (has_done_.load()) {
      sleeping_.store(false);
      continue;
    }
    const timespec timeout = timespec_until(deadline);
    const int n =
        ppoll(fds_.data(), fds_.size(), deadline == kNever ? nullptr : &timeout, &original_mask_);
    sleeping_.store(false);
    if (n < 0 && errno != EINTR) throw system_error("ppoll");
    if (n < 0) break;  // a signal: the scheduler looks at it
    bool watched = false;
    for (size_t i = 0; i < also_watch.size(); ++i) {
      also_watch[i].revents = fds_[i + 1].revents;
      watched = watched || also_watch[i].revents != 0;
    }
    if (fds_[0].revents != 0) wake_.drain();
    if (watched || fds_[0].revents != 0) {
      take_done(result);
      break;
    }
  }
  return result;
}

void LaneExecutor::wake() { wake_.notify(); }

}  // namespace taskpool
