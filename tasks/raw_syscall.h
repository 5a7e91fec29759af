// System calls made without the C library: no errno written, nothing but the call. For code that
// runs where the C library cannot be used: a child that shares taskpool's memory while taskpool
// goes on (tasks/detached_start.h), and the guardian's program, which has no C library at all
// (tasks/guard_main.cc). x86-64 and AArch64 Linux; TASKPOOL_RAW_SYSCALLS says whether they are
// here.
#pragma once

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define TASKPOOL_RAW_SYSCALLS 1
#else
#define TASKPOOL_RAW_SYSCALLS 0
#endif

#if TASKPOOL_RAW_SYSCALLS
namespace taskpool::raw {

// The call's result, or -errno.
[[gnu::always_inline]] inline long call(long number, long a = 0, long b = 0, long c = 0, long d = 0,
                                        long e = 0, long f = 0) {
#if defined(__x86_64__)
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
#else
  register long x8 asm("x8") = number;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  register long x4 asm("x4") = e;
  register long x5 asm("x5") = f;
  asm volatile("svc #0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
#endif
}

// A pointer as a call's argument.
template <typename T>
long arg(T* pointer) {
  return reinterpret_cast<long>(pointer);
}

}  // namespace taskpool::raw
#endif
