// Fuzzes RecordReader (core/record_reader.h): the records it returns, joined with the delimiter,
// give back the input; a trailing delimiter makes no extra record, and every other delimiter ends
// exactly one record (so empty records are kept). Checked record by record (check_records).
//
// Input: byte 0 chooses the delimiter (bits 0-1: '\n', '\0', or byte 1 as a -d delimiter), how the
// bytes arrive (bit 2: from a memfd, so reads return all they can; or as packets of a socket, one
// per read, of pseudo-random sizes seeded by bits 4-7), and whether the text is repeated past the
// 64 KiB read chunk (bits 3-5 all set; then from a memfd); the rest is the input text.
//
// The same input is then read from a memfd again with a record limit (from 1 to 5000 bytes, by
// the input's first byte and bits 4-7): each record is returned whole when it fits, else as its
// first RecordReader::kKeptBytes bytes with too_long() its size (check_limited).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/record_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace taskpool {
namespace {

using fuzz::escaped;

constexpr size_t kPastReadChunk = 70 * 1024;  // more than RecordReader's 64 KiB read
constexpr size_t kMaxPackets = 32 * 1024;     // inputs sent as packets, at most 64 of them

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    FUZZ_CHECK(n > 0, "write failed");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Checks the records of `fd` against `input` as they come (an input repeated past the read chunk
// has thousands): each is the input from where the last one ended to the next delimiter, or to
// the end; no record starts at the end of the input, so a trailing delimiter adds none; and the
// records reach the end.
void check_records(int fd, char delimiter, std::string_view input) {
  RecordReader reader(fd, delimiter, "fuzz input");
  size_t pos = 0;  // where the next record starts in `input`
  size_t count = 0;
  while (auto record = reader.next()) {
    ++count;
    FUZZ_CHECK(pos < input.size(),
               "record " + std::to_string(count) + " after the end: \"" + escaped(*record) + "\"");
    FUZZ_CHECK(input.substr(pos, record->size()) == *record,
               "record " + std::to_string(count) + ": \"" + escaped(*record) + "\", input from " +
                   std::to_string(pos) + ": \"" + escaped(input.substr(pos)) + "\"");
    const size_t end = pos + record->size();
    FUZZ_CHECK(end == input.size() || input[end] == delimiter,
               "record " + std::to_string(count) + " does not end at a delimiter");
    FUZZ_CHECK(record->find(delimiter) == std::string::npos, "a delimiter inside a record");
    pos = end == input.size() ? end : end + 1;
  }
  FUZZ_CHECK(pos == input.size(), "the records stop at " + std::to_string(pos) + " of " +
                                      std::to_string(input.size()) + " bytes");
  // The end stays the end.
  FUZZ_CHECK(!reader.next().has_value(), "a record after the end of input");
}

// As check_records, with a record limit: a record longer than `limit` comes back as its beginning
// and its size.
void check_limited(int fd, char delimiter, std::string_view input, size_t limit) {
  RecordLimit record_limit;
  record_limit.max_bytes = limit;
  RecordReader reader(fd, delimiter, "fuzz input", record_limit);
  size_t pos = 0;
  size_t count = 0;
  while (auto record = reader.next()) {
    ++count;
    const std::string what = "record " + std::to_string(count) + " (limit " +
                             std::to_string(limit) + "): \"" + escaped(*record) + "\"";
    FUZZ_CHECK(pos < input.size(), what + " after the end");
    const size_t end = std::min(input.find(delimiter, pos), input.size());
    const size_t size = end - pos;
    if (size <= limit) {
      FUZZ_CHECK(reader.too_long() == 0 && *record == input.substr(pos, size), what);
    } else {
      FUZZ_CHECK(reader.too_long() == size, what + ": too_long " +
                                                std::to_string(reader.too_long()) + ", size " +
                                                std::to_string(size));
      FUZZ_CHECK(*record == input.substr(pos, std::min(size, RecordReader::kKeptBytes)), what);
    }
    pos = end == input.size() ? end : end + 1;
  }
  FUZZ_CHECK(pos == input.size(), "with a limit, the records stop at " + std::to_string(pos) +
                                      " of " + std::to_string(input.size()) + " bytes");
}

void check_memfd(std::string_view input, char delimiter, size_t limit = 0) {
  const int fd = memfd_create("record_reader_fuzz", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "memfd_create failed");
  write_all(fd, input);
  FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek failed");
  if (limit == 0) {
    check_records(fd, delimiter, input);
  } else {
    check_limited(fd, delimiter, input, limit);
  }
  close(fd);
}

// Through a socket of packets, all sent before reading: each read returns one packet, so reads
// end anywhere in a record or at a delimiter, as a pipe's do when its writer is slow, without a
// writer thread (a thread per input makes the fuzzer ten times slower under ASan).
void check_packets(std::string_view input, char delimiter, uint32_t seed) {
  int fds[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0, "socketpair failed");
  // At most 64 packets, so they fit in the socket's buffer; within that, mostly small ones.
  constexpr size_t kLargest[] = {1, 3, 16, 4096};
  const size_t smallest = input.size() / 64 + 1;
  const size_t largest = std::max(smallest, kLargest[seed & 3]);
  uint32_t state = seed | 0x100;  // xorshift32: varied but reproducible sizes
  std::string_view rest = input;
  while (!rest.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const size_t piece = std::min(rest.size(), smallest + state % (largest - smallest + 1));
    FUZZ_CHECK(send(fds[1], rest.data(), piece, MSG_DONTWAIT) == static_cast<ssize_t>(piece),
               std::string("send failed: ") + std::strerror(errno));
    rest.remove_prefix(piece);
  }
  close(fds[1]);
  check_records(fds[0], delimiter, input);
  close(fds[0]);
}

}  // namespace
}  // namespace taskpool

// Every input allocates RecordReader's 64 KiB buffer: with ASan's default 256 MiB quarantine,
// each one lands on fresh pages and page faults take most of the time (7 times slower).
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=4"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  char delimiter = '\n';
  switch (mode & 3) {
    case 1:
      delimiter = '\0';
      break;
    case 2:
      delimiter = input.front();
      input.remove_prefix(1);
      break;
    default:
      break;
  }
  std::string repeated;
  if ((mode & 0x38) == 0x38 && !input.empty()) {
    repeated.reserve(kPastReadChunk + input.size());
    while (repeated.size() < kPastReadChunk) repeated += input;
    input = repeated;
  }
  try {
    if ((mode & 4) && input.size() <= kMaxPackets) {
      check_packets(input, delimiter, mode >> 4);
    } else {
      check_memfd(input, delimiter);
    }
    const size_t limit = 1 + (static_cast<size_t>(data[1]) * 16 + (mode >> 4)) % 5000;
    check_memfd(input, delimiter, limit);
  } catch (const Error& error) {
    FUZZ_CHECK(false, std::string("reading a socket or a memfd threw: ") + error.what());
  }
  return 0;
}
