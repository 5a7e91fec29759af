// Runs an Executor that is not thread-safe on threads of its own: K lanes, each a thread with an
// executor of its own, driven from the scheduler's thread through this one. Where the one
// thread's work for each attempt is the limit (libcurl, the loopback's delivery, the files), K
// threads share it out over the machine's CPUs.
#pragma once

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/executor.h"
#include "tasks/wake_fd.h"

namespace taskpool {

struct LaneExecutorOptions {
  size_t lanes = 2;
  // Makes lane `lane`'s executor, on the caller's thread (so that what it throws reaches the
  // caller). Each is then used on its lane's thread alone, where it is destroyed too. Its wait()
  // must not unblock signals: the lanes block every signal, and the scheduler's thread alone
  // takes them (give it a mask that blocks them all as the one to wait with).
  std::function<std::unique_ptr<Executor>(size_t lane)> make;
  // Called on lane `lane`'s thread after each of its executor's waits, before what the wait
  // brought is handed over: lets a caller read the executor's state (see FetchLanes).
  std::function<void(size_t lane, Executor&)> after_wait;
  // When after_wait is to run at least this often (its executor's waits end by then); zero:
  // only after waits that end by themselves.
  Duration wait_at_most{0};
  int wake_fd = -1;                           // as ProcessExecutorOptions::wake_fd
  std::string thread_name = "taskpool lane";  // the lanes' (15 bytes at most: ps, top, /proc)
};

// An attempt goes to lane worker % K, always the same for a worker: each lane runs at most
// ceil(workers / K) attempts, and what it keeps between attempts (connections) serves its
// workers again. start() and cancel() are passed on at the next wait(), in one hand-over a lane
// (the scheduler starts the attempts of a round before it waits). The lanes hand back what their
// waits brought in batches, and wake the scheduler's thread only from a sleep it announced: a
// busy run costs no system call an attempt for the hand-over. Attempts feed no records
// (set_feed) and are not suspended (suspend): the lanes' executors do neither.
//
// Signals: as ProcessExecutor (the caller blocks those it handles, and wait() unblocks them,
// with `original_mask`, only inside ppoll); the lanes' threads block every signal.
//
// Destroying it stops the lanes: each destroys its executor on its thread, which ends what still
// runs as that executor's destructor does, and is joined. Not thread-safe, except wake().
class LaneExecutor final : public Executor {
 public:
  // Throws what options.make throws, or Error when an eventfd cannot be made.
  LaneExecutor(LaneExecutorOptions options, const sigset_t& original_mask);
  ~LaneExecutor() override;
  LaneExecutor(const LaneExecutor&) = delete;
  LaneExecutor& operator=(const LaneExecutor&) = delete;

  void start(const Attempt& attempt) override;
  void cancel(WorkerId worker, CancelMode mode) override;
  // Rethrows what a lane's executor threw.
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override;
  void wake() override;

  size_t lanes() const { return lanes_.size(); }

 private:
  struct Order {
    Attempt attempt;  // to start, when cancel is unset
    bool cancel = false;
    CancelMode mode = CancelMode::kTerminate;
  };
  struct Lane {
    std::unique_ptr<Executor> executor;
    std::vector<Order> pending;  // the scheduler's thread's, until the next wait()
    std::mutex mutex;
    std::condition_variable work;         // orders came, or the stop: for an idle lane
    std::vector<Order> inbox;             // guarded by mutex
    std::atomic<bool> has_orders{false};  // inbox is not empty, or the lane is to stop
    std::atomic<bool> sleeping{false};    // in its executor's wait(), wants a wake()
    bool stopping = false;                // guarded by mutex
    std::thread thread;
  };

  void run(size_t index);
  bool take_orders(Lane& lane, std::vector<Order>& orders, bool idle);
  void hand_over(std::vector<Completion>& completions);
  void send_orders();
  bool take_done(WaitResult& result);
  void stop_lanes();

  LaneExecutorOptions options_;
  sigset_t original_mask_;
  WakeFd wake_;  // the scheduler's thread's sleep
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex done_mutex_;
  std::vector<Completion> done_;       // guarded by done_mutex_
  std::exception_ptr failure_;         // guarded by done_mutex_: what a lane threw
  std::atomic<bool> has_done_{false};  // done_ is not empty, or failure_ is set
  std::atomic<bool> sleeping_{false};  // the scheduler's thread sleeps, and wants a wake-up
  std::vector<pollfd> fds_;            // one wait's poll set, kept for its memory
};

}  // namespace taskpool
