// A poll loop on a thread of its own, standing in for the daemon's: it polls one descriptor
// (the HTTP server's) and a wake-up, calls a turn function, and runs what the test hands it on
// that thread, since the server's calls all belong to one thread.
#pragma once

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/time.h"

namespace taskpool::testing {

class LoopThread {
 public:
  // `poll_fd` is polled for POLLIN; `turn` runs after each wake-up, and at `deadline()` at the
  // latest (polled again each time round).
  LoopThread(std::function<int()> poll_fd, std::function<TimePoint()> deadline,
             std::function<void()> turn)
      : poll_fd_(std::move(poll_fd)),
        deadline_(std::move(deadline)),
        turn_(std::move(turn)),
        wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    REQUIRE(wake_ >= 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoopThread() { stop(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    post([this] { stopped_ = true; });
    thread_.join();
    close(wake_);
  }

  // Runs `task` on the loop's thread, then a turn; returns what the task returned.
  template <typename F>
  auto call(F task) -> decltype(task()) {
    using Result = decltype(task());
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    post([promise, task = std::move(task)]() mutable {
      try {
        if constexpr (std::is_void_v<Result>) {
          task();
          promise->set_value();
        } else {
          promise->set_value(task());
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    return future.get();
  }

 private:
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof one);
  }

  void loop() {
    while (!stopped_) {
      const TimePoint deadline = deadline_();
      const auto now = std::chrono::steady_clock::now();
      int timeout = 1000;
      if (deadline <= now) {
        timeout = 0;
      } else if (deadline != kNever) {
        timeout = static_cast<int>(std::min<int64_t>(
            1000,
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1));
      }
      pollfd fds[2] = {{poll_fd_(), POLLIN, 0}, {wake_, POLLIN, 0}};
      poll(fds, 2, timeout);
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = read(wake_, &count, sizeof count);
      std::vector<std::function<void()>> tasks;
      {
        std::lock_guard lock(mu_);
        tasks.swap(tasks_);
      }
      for (const auto& task : tasks) task();
      // A task may have stopped the loop.
      // cppcheck-suppress knownConditionTrueFalse
      if (!stopped_) turn_();
    }
  }

  std::function<int()> poll_fd_;
  std::function<TimePoint()> deadline_;
  std::function<void()> turn_;
  int wake_;
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
  bool stopped_ = false;  // the loop's thread alone
  std::thread thread_;
};

}  // namespace taskpool::testing
