// Reads records from a file descriptor, one at a time, without holding more than one record and
// one read buffer in memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace taskpool {

// The longest record worth keeping: one longer than any command line can hold could never run.
struct RecordLimit {
  size_t max_bytes = 0;  // 0: no limit
  // While a reader reads past a record longer than max_bytes: the bytes of it read so far, else
  // 0. Shared, so another thread can tell of a record that never ended when the run stops.
  std::shared_ptr<std::atomic<uint64_t>> reading_past;
  // A descriptor (an eventfd) that stops reading when it turns readable: a reader blocked on a
  // terminal or a pipe that never ends must still let its thread be joined. -1: none.
  int stop_fd = -1;
};

// Thrown by a read that RecordLimit::stop_fd stopped: neither the end of the input nor an error
// of it (not an Error).
class ReadStopped : public std::exception {
 public:
  const char* what() const noexcept override { return "reading was stopped"; }
};

// Waits until `fd` (the input `name`) can be read without blocking; throws ReadStopped when
// `stop_fd` (see RecordLimit) turns readable first, Error when poll fails. stop_fd -1: returns.
void wait_readable(int fd, int stop_fd, const std::string& name);

// Appends what one read(2) of up to `size` bytes of `fd` gives to `buffer`; returns its count (0
// at the end of input). Retries on EINTR; throws Error naming the input `name` on a read error.
size_t append_read(int fd, std::string& buffer, size_t size, const std::string& name);

// Records end at `delimiter` ('\n' by default, '\0' for -0, any bytes for -d: "\r\n"). A final
// record without a trailing
// delimiter is still a record; a trailing delimiter does not make an empty extra record. Empty
// records are kept (GNU parallel runs them). '\r' is data.
//
// A record longer than the limit is read past without being kept, so memory stays within the
// limit plus one read buffer whatever the input (`taskpool -a /dev/zero`): next() returns its
// first kKeptBytes bytes and too_long() its size.
// Not thread-safe. Does not own the descriptor.
class RecordReader {
 public:
  // What is kept of a record too long to keep: enough to name it in a message.
  static constexpr size_t kKeptBytes = 64;

  // REQUIRES: `delimiter` is not empty.
  RecordReader(int fd, std::string delimiter, std::string name = "stdin", RecordLimit limit = {});
  RecordReader(int fd, char delimiter, std::string name = "stdin", RecordLimit limit = {})
      : RecordReader(fd, std::string(1, delimiter), std::move(name), std::move(limit)) {}
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record, or nullopt at the end of input. Throws Error (naming the input) on a read
  // error, ReadStopped when the limit's stop_fd stopped it. Retries on EINTR.
  std::optional<std::string> next();

  // The size in bytes of the record next() returned last when it was longer than the limit (it
  // returned only its beginning then); 0 when that record was whole.
  uint64_t too_long() const { return too_long_; }

 private:
  // The record from pos_ to `end` (then consumed, with `delimiter` bytes after it): only its
  // beginning when it is longer than the limit.
  std::string take(size_t end, size_t delimiter);
  // Reads into the buffer's end; false at the end of input.
  bool fill();
  // Reads past the rest of a record that outgrew the limit; returns its beginning.
  std::string read_past();
  // Where the delimiter starts in buffer_ at or after `from`, or npos.
  size_t find_delimiter(size_t from) const;

  int fd_;
  std::string delimiter_;
  std::string name_;
  RecordLimit limit_;
  std::string buffer_;
  size_t pos_ = 0;  // start of unconsumed data in buffer_
  bool eof_ = false;
  uint64_t too_long_ = 0;
};

}  // namespace taskpool
