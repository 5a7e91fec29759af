// The guardian's life (see tasks/guardian.h), apart from the code that starts it: it is the whole
// of the small program taskpool-guard, and of the fallbacks (this program run again, a fork).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/time.h"

namespace taskpool {

// The most process ids Linux has (PID_MAX_LIMIT on 64-bit systems): a bit each, 512 KiB of
// address space, of which only the pages that jobs' ids fall in are ever touched.
inline constexpr uint64_t kGuardPidLimit = uint64_t{1} << 22;
inline constexpr size_t kGuardTableWords = kGuardPidLimit / 64;
inline constexpr size_t kGuardTableBytes = kGuardTableWords * sizeof(uint64_t);
// What taskpool writes on the socket when it ends in order.
inline constexpr char kGuardInOrder = 'q';

// Sets or clears group `group`'s bit in `table`; returns whether it changed. One writer at a
// time (taskpool's spawning thread, or its child while that thread waits for its exec), and the
// guardian reads only once taskpool is gone: a plain load and store, no locked instruction. Plain
// memory access only: a child that shares taskpool's memory calls it before its exec.
[[gnu::always_inline]] inline bool mark_group(uint64_t* table, pid_t group, bool running) {
  if (group <= 0 || static_cast<uint64_t>(group) >= kGuardPidLimit) return false;
  std::atomic_ref<uint64_t> word(table[static_cast<size_t>(group) / 64]);
  const uint64_t bit = uint64_t{1} << (static_cast<uint64_t>(group) % 64);
  const uint64_t bits = word.load(std::memory_order_relaxed);
  if (((bits & bit) != 0) == running) return false;
  word.store(running ? bits | bit : bits & ~bit, std::memory_order_relaxed);
  return true;
}

// How a started guardian is asked to be one: argv[0] and argv[1] these, then its socket, its
// table's file and kill_after in nanoseconds.
inline constexpr const char* kGuardProgramName = "taskpool-guard";
inline constexpr const char* kGuardFlag = "--taskpool-guard";

// Whether argv asks for a guardian.
bool asks_for_guardian(int argc, char** argv);

// Says on stderr why this process is no guardian ("taskpool-guard: WHY"), and exits with 2.
[[noreturn]] void refuse_to_guard(const char* why);

// Being the guardian started with `argv`: maps the table, and never returns. Exits with 2 when
// the arguments or the table cannot be read. REQUIRES: asks_for_guardian(argc, argv).
[[noreturn]] void run_guardian(char** argv);

// Being the guardian: waits on `socket` and, when it ends without kGuardInOrder, ends the process
// groups `table` holds (SIGTERM, then SIGKILL `kill_after` later). Async-signal-safe calls only.
// Never returns.
[[noreturn]] void guard(int socket, const uint64_t* table, Duration kill_after);

// Closes every descriptor but `a` and `b`: the guardian holds no file of taskpool's (a pipe's
// reader would wait for it).
void close_all_but(int a, int b);

}  // namespace taskpool
