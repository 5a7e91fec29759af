#include "core/record_reader.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

RecordReader::RecordReader(int fd, std::string delimiter, std::string name, RecordLimit limit)
    : fd_(fd), delimiter_(std::move(delimiter)), name_(std::move(name)), limit_(std::move(limit)) {}

size_t RecordReader::find_delimiter(size_t from) const {
  if (delimiter_.size() == 1) {
    const void* found =
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a byte search, no C string
        std::memchr(buffer_.data() + from, delimiter_[0], buffer_.size() - from);
    return found == nullptr ? std::string::npos
                            : static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
  }
  return buffer_.find(delimiter_, from);
}

std::optional<std::string> RecordReader::next() {
  too_long_ = 0;
  size_t scanned = pos_;  // a delimiter starts at none of the bytes before this
  for (;;) {
    if (scanned < buffer_.size()) {
      if (const size_t found = find_delimiter(scanned); found != std::string::npos) {
        return take(found, delimiter_.size());
      }
      // A delimiter of several bytes may begin in the last few and end in the next read.
      scanned = std::max(scanned, buffer_.size() - std::min(buffer_.size(), delimiter_.size() - 1));
    }
    if (eof_) {
      if (pos_ >= buffer_.size()) return std::nullopt;
      return take(buffer_.size(), 0);
    }
    if (limit_.max_bytes > 0 && buffer_.size() - pos_ > limit_.max_bytes) return read_past();
    // Drop what was consumed before growing, so the buffer holds one record and one chunk.
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      scanned -= pos_;
      pos_ = 0;
    }
    if (!fill()) eof_ = true;
  }
}

std::string RecordReader::take(size_t end, size_t delimiter) {
  const size_t size = end - pos_;
  // One that ends in the read that took it past the limit is too long all the same.
  const bool over = limit_.max_bytes > 0 && size > limit_.max_bytes;
  std::string record = buffer_.substr(pos_, over ? std::min(size, kKeptBytes) : size);
  if (over) too_long_ = size;
  pos_ = end + delimiter;
  return record;
}

bool RecordReader::fill() {
  const size_t old_size = buffer_.size();
  if (limit_.max_bytes > 0 && old_size + kReadChunk > buffer_.capacity()) {
    // The buffer never holds more than the limit and a chunk: growing by doubling must not
    // reserve up to twice that.
    buffer_.reserve(std::min(std::max(2 * buffer_.capacity(), old_size + kReadChunk),
                             limit_.max_bytes + kReadChunk));
  }
  wait_readable(fd_, limit_.stop_fd, name_);
  return append_read(fd_, buffer_, kReadChunk, name_) > 0;
}

size_t append_read(int fd, std::string& buffer, size_t size, const std::string& name) {
  const size_t old_size = buffer.size();
  buffer.resize(old_size + size);
  ssize_t n;
  do {
    n = read(fd, buffer.data() + old_size, size);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int error = errno;
    buffer.resize(old_size);
    throw Error("cannot read " + name + ": " + std::strerror(error));
  }
  buffer.resize(old_size + static_cast<size_t>(n));
  return static_cast<size_t>(n);
}

void wait_readable(int fd, int stop_fd, const std::string& name) {
  if (stop_fd < 0) return;
  // One poll per read of 64 KiB or more, not per record: reading stays as fast as without it.
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (::poll(fds, 2, -1) < 0) {
    if (errno != EINTR) throw Error("cannot read " + name + ": " + std::strerror(errno));
  }
  if (fds[1].revents != 0) throw ReadStopped();
}

std::string RecordReader::read_past() {
  std::string kept = buffer_.substr(pos_, kKeptBytes);
  buffer_.erase(0, pos_);
  pos_ = 0;
  uint64_t size = 0;
  const auto publish = [this](uint64_t bytes) {
    if (limit_.reading_past) limit_.reading_past->store(bytes, std::memory_order_relaxed);
  };
  // The last bytes read stay in the buffer (and out of `size`), so that a delimiter of several
  // bytes that begins in one read and ends in the next is still found.
  const size_t overlap = delimiter_.size() - 1;
  const auto keep_tail = [&] {
    const size_t tail = std::min(buffer_.size(), overlap);
    size += buffer_.size() - tail;
    buffer_.erase(0, buffer_.size() - tail);
  };
  keep_tail();
  for (;;) {
    publish(size);
    const size_t before = buffer_.size();
    if (!fill()) {
      eof_ = true;
      size += buffer_.size();
      buffer_.clear();
      break;
    }
    const size_t found = find_delimiter(0);
    const size_t end = found != std::string::npos ? found : buffer_.size();
    if (kept.size() < kKeptBytes && end > before) {
      kept.append(buffer_, before, std::min(end - before, kKeptBytes - kept.size()));
    }
    if (found != std::string::npos) {
      size += end;
      pos_ = end + delimiter_.size();
      break;
    }
    keep_tail();
  }
  publish(0);
  too_long_ = size;
  return kept;
}

}  // namespace taskpool
