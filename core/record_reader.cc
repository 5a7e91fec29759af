#include "core/record_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

RecordReader::RecordReader(int fd, char delimiter, std::string name)
    : fd_(fd), delimiter_(delimiter), name_(std::move(name)) {}

std::optional<std::string> RecordReader::next() {
  size_t scanned = pos_;  // bytes before this are known to hold no delimiter
  for (;;) {
    if (scanned < buffer_.size()) {
      const void* found =
          // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a byte search, no C string
          std::memchr(buffer_.data() + scanned, delimiter_, buffer_.size() - scanned);
      if (found != nullptr) {
        const size_t end = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
        std::string record = buffer_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return record;
      }
      scanned = buffer_.size();
    }
    if (eof_) {
      if (pos_ >= buffer_.size()) return std::nullopt;
      std::string record = buffer_.substr(pos_);
      pos_ = buffer_.size();
      return record;
    }
    // Drop what was consumed before growing, so the buffer holds one record and one chunk.
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      scanned -= pos_;
      pos_ = 0;
    }
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadChunk);
    ssize_t n;
    do {
      n = read(fd_, buffer_.data() + old_size, kReadChunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int error = errno;
      buffer_.resize(old_size);
      throw Error("cannot read " + name_ + ": " + std::strerror(error));
    }
    buffer_.resize(old_size + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
}

}  // namespace taskpool
