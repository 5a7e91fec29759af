// Small helpers several unit test files share. They live here, not in each file's anonymous
// namespace, because the test files are compiled in batches (CMake's unity build), where two
// definitions of one name would clash.
#pragma once

#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/input.h"
#include "core/job.h"

namespace taskpool::testing {

// A job of these fields, as the scheduler hands it out.
inline Job job(uint64_t seq, std::vector<std::string> fields) {
  return Job{seq, Record{std::move(fields)}};
}

// A ValueSource giving these values in order, as a ::: list does.
inline std::unique_ptr<ValueSource> list(std::vector<std::string> values) {
  return std::make_unique<ListSource>(std::move(values));
}

// One value in double quotes, with `"`, `\` and every byte outside printable ASCII escaped, so
// that a failed comparison shows exactly which bytes differ.
inline std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

// The words as text, with brackets and escapes, for comparisons whose failure shows the words.
inline std::string show(const std::vector<std::string>& words) {
  std::string out = "{";
  for (const std::string& w : words) {
    if (out.size() > 1) out += ", ";
    out += quoted(w);
  }
  return out + "}";
}

// Whether this is a ThreadSanitizer build (its runtime defers signal handlers to its own points
// of call, so a signal no longer interrupts a blocking call as it does elsewhere).
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// The threads of this process now (to check that none outlives what started it).
inline size_t threads_now() {
  // A sanitizer's runtime starts a thread of its own at the first thread the process creates:
  // have it started before counting, so that it is not taken for a thread left behind.
  static const bool kRuntimeStarted = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)kRuntimeStarted;
  size_t count = 0;
  DIR* dir = opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

// A pipe whose read end collects whatever is written to its write end, read back whole.
struct Capture {
  int fds[2];
  Capture() { REQUIRE(pipe2(fds, O_CLOEXEC) == 0); }
  ~Capture() {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  std::string text() {
    close(fds[1]);
    fds[1] = -1;
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

}  // namespace taskpool::testing
