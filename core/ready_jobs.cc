#include "core/ready_jobs.h"

#include <algorithm>

namespace taskpool {

void ReadyJobs::push(Job job, bool front) {
  if (!priority_) {
    if (front) {
      fifo_.push_front(std::move(job));
    } else {
      fifo_.push_back(std::move(job));
    }
    return;
  }
  const double priority = priority_(job);
  heap_.push_back(Entry{priority, std::move(job)});
  std::push_heap(heap_.begin(), heap_.end(), lower);
}

const Job& ReadyJobs::next() const { return priority_ ? heap_.front().job : fifo_.front(); }

Job ReadyJobs::pop() {
  if (!priority_) {
    Job job = std::move(fifo_.front());
    fifo_.pop_front();
    return job;
  }
  std::pop_heap(heap_.begin(), heap_.end(), lower);
  Job job = std::move(heap_.back().job);
  heap_.pop_back();
  return job;
}

const Job& ReadyJobs::lowest() const {
  if (!priority_) return fifo_.front();
  return std::ranges::min_element(heap_, {}, [](const Entry& e) { return e.job.seq; })->job;
}

Job ReadyJobs::pop_lowest() {
  if (!priority_) return pop();
  const auto it = std::ranges::min_element(heap_, {}, [](const Entry& e) { return e.job.seq; });
  Job job = std::move(it->job);
  heap_.erase(it);
  std::make_heap(heap_.begin(), heap_.end(), lower);
  return job;
}

Job ReadyJobs::take(size_t i) {
  if (!priority_) {
    Job job = std::move(fifo_[i]);
    fifo_.erase(fifo_.begin() + static_cast<std::ptrdiff_t>(i));
    return job;
  }
  Job job = std::move(heap_[i].job);
  heap_.erase(heap_.begin() + static_cast<std::ptrdiff_t>(i));
  std::make_heap(heap_.begin(), heap_.end(), lower);
  return job;
}

}  // namespace taskpool
