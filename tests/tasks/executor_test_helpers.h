// What the executor tests share: the signal setup the executors' contract asks of their caller,
// and running short of file descriptors for a moment.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <initializer_list>
#include <optional>

#include "tasks/process_executor.h"

namespace taskpool::testing {

// Sets the calling thread's signal mask for one test and puts the old one back.
class ScopedSignalMask {
 public:
  ScopedSignalMask(int how, std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) sigaddset(&set, sig);
    REQUIRE(pthread_sigmask(how, &set, &previous_) == 0);
  }
  ~ScopedSignalMask() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  ScopedSignalMask(const ScopedSignalMask&) = delete;
  ScopedSignalMask& operator=(const ScopedSignalMask&) = delete;

  const sigset_t& previous() const { return previous_; }

 private:
  sigset_t previous_;
};

// The calling thread's signal mask, as it is.
inline sigset_t current_signal_mask() {
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  return mask;
}

// What the executor's contract asks of its caller: the SIGCHLD handler installed, SIGCHLD blocked
// outside wait(), and the mask from before passed in.
class SignalSetup {
 public:
  SignalSetup() {
    install_child_signal_handler();
    blocked_.emplace(SIG_BLOCK, std::initializer_list<int>{SIGCHLD});
  }
  const sigset_t& original() const { return blocked_->previous(); }

 private:
  std::optional<ScopedSignalMask> blocked_;
};

// Calls `f` with RLIMIT_NOFILE lowered so that only `left` more descriptors can be opened, then
// puts the limit back.
template <typename F>
void with_descriptors_left(int left, F&& f) {
  rlimit old_limit;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old_limit) == 0);
  const int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(lowest_free >= 0);
  close(lowest_free);
  rlimit tight = old_limit;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free) + static_cast<rlim_t>(left);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
  f();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &old_limit) == 0);
}

}  // namespace taskpool::testing
