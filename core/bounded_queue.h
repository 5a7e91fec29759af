// The bounded queue between the reader thread and the scheduler: the reader blocks when it is
// full (backpressure), the scheduler never blocks on it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

namespace taskpool {

// Thread-safe. One producer, one consumer.
template <typename T>
class BoundedQueue {
 public:
  enum class State { kItem, kEmpty, kClosed };

  // `on_change` is called (from the producer's thread, without the lock held) after a push into
  // an empty queue and after close(), so a consumer that found the queue empty and waits
  // elsewhere is woken; pushes it would find anyway cost no wake-up.
  explicit BoundedQueue(size_t capacity, std::function<void()> on_change = {})
      : capacity_(capacity == 0 ? 1 : capacity),
        resume_at_(capacity_ / 2),
        on_change_(std::move(on_change)) {}

  // Blocks while full: a producer that finds the queue full waits until it is half empty, so
  // that it is woken once per half a queue of items, not once per item (a thread switch each
  // way per record, at thousands of records a second). Returns false (dropping `item`) when the
  // consumer cancelled.
  bool push(T item) {
    bool was_empty = false;
    {
      std::unique_lock lock(mu_);
      if (items_.size() >= capacity_) {
        producer_waiting_ = true;
        not_full_.wait(lock, [&] { return items_.size() <= resume_at_ || cancelled_; });
        producer_waiting_ = false;
      }
      if (cancelled_) return false;
      was_empty = items_.empty();
      items_.push_back(std::move(item));
    }
    if (was_empty && on_change_) on_change_();
    return true;
  }

  // Producer: no more items.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    if (on_change_) on_change_();
  }

  // Consumer: wants no more items; a blocked push() returns false.
  void cancel() {
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      items_.clear();
    }
    not_full_.notify_all();
  }

  // Never blocks. kClosed only once the queue is both closed and empty.
  State try_pop(T& out) {
    std::lock_guard lock(mu_);
    if (items_.empty()) return closed_ ? State::kClosed : State::kEmpty;
    out = std::move(items_.front());
    items_.pop_front();
    if (producer_waiting_ && items_.size() <= resume_at_) not_full_.notify_one();
    return State::kItem;
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

  // Whether the producer is blocked in push().
  bool producer_waiting() const {
    std::lock_guard lock(mu_);
    return producer_waiting_;
  }

 private:
  const size_t capacity_;
  const size_t resume_at_;  // a waiting producer goes on once the queue is down to this
  std::function<void()> on_change_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::deque<T> items_;            // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  bool cancelled_ = false;         // guarded by mu_
  bool producer_waiting_ = false;  // guarded by mu_
};

}  // namespace taskpool
