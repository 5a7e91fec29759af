#include "tasks/guardian.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "tasks/detached_start.h"
#include "tasks/guard_loop.h"
#include "tasks/program_path.h"

namespace taskpool {

namespace {

// Starts the guardian, with the socket and the table's file left open in it: the program
// taskpool-guard beside this one or, where that is missing (a taskpool copied alone, a test's
// program), this program run again, which takes its part in Guardian::run_if_asked. taskpool goes
// on while the child execs (tasks/detached_start.h): a fork of a taskpool that has read its flags
// cost it 0.5 to 0.9 ms of a one-job run of 3 (copying its page tables, then a copy of each page
// it wrote after), a start that waited for the exec 0.1 to 0.2 ms; and the guardian has a memory
// of its own (a child sharing taskpool's would die with it when the OOM killer picks taskpool).
// Returns null, with `pid` -1, when it cannot be started (no /proc, say).
std::unique_ptr<DetachedStart> spawn_program(Guardian::Launch launch, int socket, int table_file,
                                             Duration kill_after, pid_t& pid) {
  pid = -1;
  DetachedStart::Request request;
  if (launch == Guardian::Launch::kSpawn) {
    std::string program = program_beside_own(kGuardProgramName);
    if (program.empty()) return nullptr;  // no /proc: /proc/self/exe is not there either
    request.programs.push_back(std::move(program));
  }
  request.programs.emplace_back("/proc/self/exe");
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(kill_after);
  request.argv = {kGuardProgramName, kGuardFlag, std::to_string(socket), std::to_string(table_file),
                  std::to_string(nanoseconds.count())};
  // The two descriptors stay open in it; every other is closed by the guardian itself. A group
  // of its own from the start, and every signal held until it has made itself deaf to those
  // meant for taskpool (a Ctrl-C right now must not end it).
  request.keep_open = {socket, table_file};
  request.own_group = true;
  auto start = std::make_unique<DetachedStart>(request);
  pid = start->start();
  return pid > 0 ? std::move(start) : nullptr;
}

// The table as a file in memory, or none. Its size may pass the file size limit (`ulimit -f`):
// that is EFBIG, and SIGXFSZ, which must not end taskpool, is ignored meanwhile.
UniqueFd make_table_file() {
  UniqueFd file(memfd_create("taskpool-guard", MFD_CLOEXEC));
  if (!file.valid()) return file;
  struct sigaction ignore = {};
  struct sigaction before = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &before);
  const bool sized = ftruncate(file.get(), kGuardTableBytes) == 0;
  sigaction(SIGXFSZ, &before, nullptr);
  return sized ? std::move(file) : UniqueFd();
}

// The guardian as a fork of taskpool, when it cannot be spawned. REQUIRES: no other thread.
pid_t fork_guardian(int socket, uint64_t* table, Duration kill_after, std::string& error) {
  // Signals wait until the guardian is deaf to them, and its group is set from both sides, so
  // that it is in place whichever runs first.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = fork();
  if (pid == 0) {
    close_all_but(socket, socket);
    guard(socket, table, kill_after);
  }
  const int fork_error = errno;
  if (pid > 0) setpgid(pid, pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (pid < 0) error = std::string("fork: ") + std::strerror(fork_error);
  return pid;
}

}  // namespace

std::unique_ptr<Guardian> Guardian::start(Duration kill_after, std::string& error, Launch launch) {
  // The table is a file in memory a spawned guardian maps too; or, when that cannot be made
  // (under `ulimit -f` below its size, say), memory a forked one shares.
  UniqueFd table_file = launch == Launch::kFork ? UniqueFd() : make_table_file();
  void* shared = mmap(nullptr, kGuardTableBytes, PROT_READ | PROT_WRITE,
                      table_file.valid() ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                      table_file.get(), 0);
  if (shared == MAP_FAILED) {
    error = std::string("mmap: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<Guardian> guardian(new Guardian(static_cast<uint64_t*>(shared), kill_after));
  if (table_file.valid()) {
    // Spawned at the first job's start (see before_start()).
    guardian->launch_ = launch;
    guardian->table_file_ = std::move(table_file);
    return guardian;
  }
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0) {
    guardian->socket_ = UniqueFd(ends[0]);
    const UniqueFd theirs(ends[1]);
    guardian->pid_ = fork_guardian(theirs.get(), guardian->table_, kill_after, error);
    if (guardian->pid_ > 0) return guardian;
  } else {
    error = std::string("socketpair: ") + std::strerror(errno);
  }
  munmap(shared, kGuardTableBytes);  // no guardian to share it with
  return nullptr;
}

void Guardian::run_if_asked(int argc, char** argv) {
  if (asks_for_guardian(argc, argv)) run_guardian(argv);
}

Guardian::Guardian(uint64_t* table, Duration kill_after) : table_(table), kill_after_(kill_after) {}

Guardian::~Guardian() {
  if (pid_ <= 0) return;  // never started: no job was
  if (watched_ == 0) {
    [[maybe_unused]] const ssize_t n = send(socket_.get(), &kGuardInOrder, 1, MSG_NOSIGNAL);
  }
  // Not waited for: it ends at once on its own (waiting for that cost half a millisecond of
  // every run here), and taskpool's exit hands it to init, which reaps it. Reaped now only if
  // it has already ended.
  int status = 0;
  waitpid(pid_, &status, WNOHANG);
  // The table stays mapped (one page of it touched, for each thousands of process ids a job had)
  // until the process ends, a guardian's end being the end of the run: unmapping it cost a
  // one-job run 25 us, a TLB flush on each CPU its children ran on.
}

uint64_t* Guardian::before_start() {
  if (table_file_.valid()) spawn();
  return table_;
}

void Guardian::watch(pid_t group) {
  if (table_file_.valid()) spawn();  // a caller that did not call before_start()
  if (started_ != nullptr && started_->failure() != 0) warn_not_spawned(started_->failure());
  if (group <= 0 || static_cast<uint64_t>(group) >= kGuardPidLimit) return;
  mark_group(table_, group, true);  // or its child has already (see before_start())
  ++watched_;
}

void Guardian::spawn() {
  const UniqueFd table_file = std::move(table_file_);
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    warn_not_spawned(errno);
    return;
  }
  socket_ = UniqueFd(ends[0]);
  const UniqueFd theirs(ends[1]);
  started_ = spawn_program(launch_, theirs.get(), table_file.get(), kill_after_, pid_);
  if (pid_ < 0) warn_not_spawned(errno);
}

void Guardian::warn_not_started(std::string_view who, std::string_view why) {
  std::fputs(fmt::format("{}: warning: cannot start the guardian process ({}): jobs would "
                         "outlive a {} that is killed\n",
                         who, why, who)
                 .c_str(),
             stderr);
}

void Guardian::warn_not_spawned(int error) {
  warn_not_started("taskpool", std::strerror(error));
  started_.reset();  // said once
}

void Guardian::forget(pid_t group) {
  if (mark_group(table_, group, false)) --watched_;
}

}  // namespace taskpool
