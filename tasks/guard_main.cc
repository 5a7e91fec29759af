// taskpool-guard: the guardian as a program of its own (tasks/guardian.h), installed beside
// taskpool. Where raw system calls can be made (tasks/raw_syscall.h) and no sanitizer is built
// in, it has no C library at all (TASKPOOL_GUARD_FREESTANDING, set by the build): its start is
// its exec and nothing else. The C library's start-up alone (its CPU and cache probing: CPUID
// instructions, each a trip out of a virtual machine) took 0.6 ms of CPU here, in a one-job run
// of 2 ms.
#include "tasks/guard_loop.h"

namespace {
constexpr const char* kRunByHand =
    "only taskpool starts this program: it ends taskpool's jobs "
    "when taskpool is killed";
}  // namespace

#if TASKPOOL_GUARD_FREESTANDING
#include <cstddef>

// The entry point: the kernel leaves argc and the argv array on the stack.
#if defined(__x86_64__)
asm(".globl _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call guard_start\n"
    "  hlt\n");
#else
asm(".globl _start\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x0, sp\n"
    "  bl guard_start\n"
    "  brk #0\n");
#endif

// What the compiler may call for a copy, a fill or a length, without a C library to give them.
extern "C" void* memset(void* to, int value, size_t size) {
  auto* bytes = static_cast<volatile unsigned char*>(to);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(value);
  return to;
}
extern "C" size_t strlen(const char* text) {
  const volatile char* at = text;
  while (*at != '\0') ++at;
  return static_cast<size_t>(at - text);
}
extern "C" void* memcpy(void* to, const void* from, size_t size) {
  auto* out = static_cast<volatile unsigned char*>(to);
  const auto* in = static_cast<const unsigned char*>(from);
  for (size_t i = 0; i < size; ++i) out[i] = in[i];
  return to;
}

extern "C" [[noreturn]] void guard_start(long* stack) {
  const auto argc = static_cast<int>(stack[0]);
  char** argv = reinterpret_cast<char**>(stack + 1);
  if (taskpool::asks_for_guardian(argc, argv)) taskpool::run_guardian(argv);
  taskpool::refuse_to_guard(kRunByHand);
}
#else
int main(int argc, char** argv) {
  if (taskpool::asks_for_guardian(argc, argv)) taskpool::run_guardian(argv);
  taskpool::refuse_to_guard(kRunByHand);
}
#endif
