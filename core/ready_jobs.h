// The jobs ready to start: in input order, or with a priority, highest priority first.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "core/job.h"

namespace taskpool {

// Ties go to input order (the lower sequence number). Not thread-safe.
class ReadyJobs {
 public:
  explicit ReadyJobs(std::function<double(const Job&)> priority) : priority_(std::move(priority)) {}
  bool empty() const { return fifo_.empty() && heap_.empty(); }
  size_t size() const { return fifo_.size() + heap_.size(); }
  bool prioritized() const { return static_cast<bool>(priority_); }
  void push(Job job, bool front = false);
  const Job& next() const;
  Job pop();
  // The job with the lowest sequence number (for the -k window when priorities reorder).
  const Job& lowest() const;
  Job pop_lowest();
  // The jobs by position, for a search of the first `n` (keyed limits): in input order without a
  // priority, in no particular order with one (then priority_at() tells it).
  const Job& at(size_t i) const { return priority_ ? heap_[i].job : fifo_[i]; }
  double priority_at(size_t i) const { return priority_ ? heap_[i].priority : 0; }
  Job take(size_t i);

 private:
  struct Entry {
    double priority;
    Job job;
  };
  static bool lower(const Entry& a, const Entry& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.job.seq > b.job.seq;
  }
  std::function<double(const Job&)> priority_;
  std::deque<Job> fifo_;     // without a priority
  std::vector<Entry> heap_;  // with one: a max-heap by lower()
};

}  // namespace taskpool
