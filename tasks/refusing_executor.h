// In front of any executor: attempts whose command was refused when it was made fail without
// starting.
#pragma once

#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/executor.h"

namespace taskpool {

// The status of an attempt whose command cannot start, as the shell gives it.
inline constexpr int kCannotRunStatus = 126;

// Fails the attempts whose command carries Command::refused (a record too long to keep, or one
// --colsep could not split) without handing them on: not started, status 126, the reason as
// the error, and permanent (another attempt would be refused the same way). Everything else goes
// to `inner`. Called as an Executor: from the scheduler's thread, but wake().
class RefusingExecutor final : public Executor {
 public:
  RefusingExecutor(std::unique_ptr<Executor> inner, const Clock& clock)
      : inner_(std::move(inner)), clock_(clock) {}

  void start(const Attempt& attempt) override {
    if (attempt.command.refused.empty()) return inner_->start(attempt);
    Completion& c = refused_.emplace_back();
    c.worker = attempt.worker;
    c.started = false;
    c.exit_status = kCannotRunStatus;
    c.error = attempt.command.refused;
    c.permanent = true;
    c.start = c.end = clock_.now();
  }
  void cancel(WorkerId worker, CancelMode mode) override {
    for (const Completion& c : refused_) {
      if (c.worker == worker) return;  // ended already; its completion comes next
    }
    inner_->cancel(worker, mode);
  }
  // The refused attempts first, at once; the inner executor's on the next call.
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override {
    if (refused_.empty()) return inner_->wait(deadline, also_watch);
    for (pollfd& fd : also_watch) fd.revents = 0;
    return WaitResult{std::exchange(refused_, {}), {}, 0};
  }
  void set_feed(FeedOrder order) override { inner_->set_feed(order); }
  void wake() override { inner_->wake(); }
  void suspend(bool stopped) override { inner_->suspend(stopped); }

 private:
  std::unique_ptr<Executor> inner_;
  const Clock& clock_;
  std::vector<Completion> refused_;
};

}  // namespace taskpool
