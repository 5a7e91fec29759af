#include "cli/signals.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdint>

#include "core/error.h"
#include "tasks/process_executor.h"

namespace taskpool {
namespace {

// Written by the handlers, read through Signals: the process's only mutable globals.
std::atomic<int> g_stop_signals{0};
std::atomic<int> g_first_stop_signal{0};
std::atomic<int> g_more_workers{0};
std::atomic<int> g_fewer_workers{0};
std::atomic<bool> g_suspend{false};
int g_wake_fd = -1;
static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");
static_assert(std::atomic<bool>::is_always_lock_free, "used in a signal handler");

void write_wake_fd() {
  const uint64_t one = 1;
  // Fails only when the counter is near overflow, and then a wake-up is pending anyway.
  [[maybe_unused]] const ssize_t n = ::write(g_wake_fd, &one, sizeof one);
}

void on_signal(int sig) {
  const int saved_errno = errno;
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
    int none = 0;
    g_first_stop_signal.compare_exchange_strong(none, sig);
    g_stop_signals.fetch_add(1);
  }
  if (sig == SIGUSR1) g_more_workers.fetch_add(1);
  if (sig == SIGUSR2) g_fewer_workers.fetch_add(1);
  if (sig == SIGTSTP) g_suspend = true;
  write_wake_fd();
  errno = saved_errno;
}

void install_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;  // the calls they interrupt go on, but ppoll
  sigemptyset(&action.sa_mask);
  // A stop signal's handler runs with the others blocked: one count at a time.
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&action.sa_mask, sig);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGTSTP}) {
    if (sigaction(sig, &action, nullptr) != 0) die_on_system_error("sigaction");
  }
}

}  // namespace

Signals::Signals() {
  assert(g_wake_fd < 0 && "one Signals per process");
  g_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g_wake_fd < 0) die_on_system_error("eventfd");
  install_handlers();
  install_child_signal_handler();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  if (pthread_sigmask(SIG_BLOCK, &handled, &original_mask_) != 0) {
    die_on_system_error("pthread_sigmask");
  }
}

int Signals::wake_fd() const { return g_wake_fd; }

void Signals::wake() const { write_wake_fd(); }

int Signals::stop_count() const { return g_stop_signals.load(); }

int Signals::first_stop_signal() const { return g_first_stop_signal.load(); }

LiveSignals Signals::take_live() {
  LiveSignals live;
  live.more_workers = g_more_workers.exchange(0);
  live.fewer_workers = g_fewer_workers.exchange(0);
  live.suspend = g_suspend.exchange(false);
  return live;
}

void Signals::stop_process() const { raise(SIGSTOP); }

void Signals::die_of_broken_pipe() const {
  signal(SIGPIPE, SIG_DFL);
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_UNBLOCK, &pipe_only, nullptr);
  raise(SIGPIPE);
}

}  // namespace taskpool
