#include "core/block_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/record_reader.h"

namespace taskpool {

namespace {

// Large reads: --pipe moves whole files, and every read is a system call.
constexpr size_t kBlockReadChunk = 256 * 1024;

bool begins_at(std::string_view bytes, size_t pos, std::string_view start) {
  return bytes.substr(pos).starts_with(start);
}

}  // namespace

size_t first_boundary(std::string_view bytes, size_t from, const RecordBoundary& boundary) {
  const std::string_view end = boundary.end;
  if (end.empty()) {
    const size_t found = bytes.find(boundary.start, from + 1);
    return found;
  }
  // An `end` at i gives the boundary i + end.size(), which must lie after `from`.
  size_t search = from + 1 > end.size() ? from + 1 - end.size() : 0;
  for (;;) {
    const size_t found = bytes.find(end, search);
    if (found == std::string_view::npos) return found;
    const size_t pos = found + end.size();
    if (begins_at(bytes, pos, boundary.start)) return pos;
    search = found + 1;
  }
}

size_t last_boundary(std::string_view bytes, size_t from, size_t to,
                     const RecordBoundary& boundary) {
  const std::string_view end = boundary.end;
  if (end.empty()) {
    const size_t found = bytes.rfind(boundary.start, to);
    return found == std::string_view::npos || found <= from ? std::string_view::npos : found;
  }
  if (to < end.size()) return std::string_view::npos;
  size_t search = to - end.size();
  for (;;) {
    const size_t found = bytes.rfind(end, search);
    if (found == std::string_view::npos || found + end.size() <= from) {
      return std::string_view::npos;
    }
    const size_t pos = found + end.size();
    if (begins_at(bytes, pos, boundary.start)) return pos;
    if (found == 0) return std::string_view::npos;
    search = found - 1;
  }
}

BlockReader::BlockReader(int fd, BlockOptions options, std::string name, int stop_fd)
    : fd_(fd), options_(std::move(options)), name_(std::move(name)), stop_fd_(stop_fd) {}

bool BlockReader::fill_to(size_t size) {
  while (buffer_.size() < size && !eof_) {
    wait_readable(fd_, stop_fd_, name_);
    const size_t want = std::max(size - buffer_.size(), kBlockReadChunk);
    if (append_read(fd_, buffer_, want, name_) == 0) eof_ = true;
  }
  return buffer_.size() >= size;
}

size_t BlockReader::next_boundary(size_t from) {
  size_t scan = from;
  for (;;) {
    const size_t found = first_boundary(buffer_, scan, options_.boundary);
    if (found != std::string::npos) return found;
    if (eof_) return buffer_.size();
    // No boundary ends within what was read, but one may begin in its last bytes.
    const size_t size = buffer_.size();
    const size_t start = options_.boundary.start.size();
    scan = std::max(from, size > start ? size - start : 0);
    fill_to(size + kBlockReadChunk);
  }
}

size_t BlockReader::end_by_records() {
  size_t end = 0;
  for (size_t n = 0; n < options_.records; ++n) {
    if (end >= buffer_.size() && !fill_to(end + 1)) break;
    end = next_boundary(end);
  }
  return end;
}

size_t BlockReader::end_by_size() {
  // As GNU parallel: input that ends within the block size is one block; otherwise the block
  // ends at the last boundary whose next record's start lies within the block size too.
  const size_t limit = options_.block_size;
  if (!fill_to(limit)) return buffer_.size();
  const std::string_view within = std::string_view(buffer_).substr(0, limit);
  const size_t found = last_boundary(within, 0, limit, options_.boundary);
  if (found != std::string::npos) return found;
  return next_boundary(0);  // a record longer than a block: the block is that record
}

void BlockReader::read_header() {
  header_read_ = true;
  size_t end = 0;
  for (size_t n = 0; n < options_.header_lines; ++n) {
    size_t found;
    while ((found = buffer_.find('\n', end)) == std::string::npos && !eof_) {
      fill_to(buffer_.size() + kBlockReadChunk);
    }
    end = found == std::string::npos ? buffer_.size() : found + 1;
  }
  header_ = buffer_.substr(0, end);
  buffer_.erase(0, end);
}

std::optional<std::string> BlockReader::next() {
  if (!header_read_) read_header();
  if (!fill_to(1)) return std::nullopt;
  const size_t end = options_.records > 0 ? end_by_records() : end_by_size();
  // The buffer becomes the block (no copy of it), and what follows the block a new buffer.
  std::string block = std::exchange(buffer_, {});
  if (end < block.size()) {
    buffer_.reserve(std::max(options_.block_size, kBlockReadChunk) + kBlockReadChunk);
    buffer_.assign(block, end);
    block.resize(end);
  }
  if (!header_.empty()) block.insert(0, header_);
  return block;
}

PartCutter::PartCutter(int fd, uint64_t size, RecordBoundary boundary, size_t block_size,
                       std::string name)
    : fd_(fd),
      size_(size),
      boundary_(std::move(boundary)),
      block_size_(block_size),
      name_(std::move(name)) {}

uint64_t PartCutter::cut_at(uint64_t target) const {
  // As GNU parallel: the record end found first from the target on ends the range (its start,
  // with --recend empty).
  const uint64_t window = target;
  std::string bytes;
  while (window + bytes.size() < size_) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kBlockReadChunk);
    ssize_t n;
    do {
      n = ::pread(fd_, bytes.data() + old_size, kBlockReadChunk,
                  static_cast<off_t>(window + old_size));
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw Error("cannot read " + name_ + ": " + std::strerror(errno));
    bytes.resize(old_size + static_cast<size_t>(n));
    if (n == 0) break;  // the file shrank
    const std::string_view end = boundary_.end;
    const size_t found = end.empty() ? std::string_view(bytes).find(boundary_.start)
                                     : first_boundary(bytes, end.size() - 1, boundary_);
    if (found != std::string::npos) return window + found;
  }
  return size_;
}

std::optional<PartCutter::Range> PartCutter::next() {
  if (pos_ >= size_) return std::nullopt;
  const uint64_t target = pos_ + block_size_;
  const uint64_t end = target >= size_ ? size_ : cut_at(target);
  const Range range{pos_, end - pos_};
  pos_ = end;
  return range;
}

std::string PartCutter::take_header(size_t lines) {
  std::string bytes;
  size_t end = 0;  // after the last whole line of the header found so far
  for (size_t counted = 0; counted < lines;) {
    const size_t at = bytes.find('\n', end);
    if (at != std::string::npos) {
      end = at + 1;
      ++counted;
      continue;
    }
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kBlockReadChunk);
    ssize_t n;
    do {
      n = ::pread(fd_, bytes.data() + old_size, kBlockReadChunk, static_cast<off_t>(old_size));
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw Error("cannot read " + name_ + ": " + std::strerror(errno));
    bytes.resize(old_size + static_cast<size_t>(n));
    if (n == 0) {
      end = bytes.size();  // the file ends within the header: all of it is the header
      break;
    }
  }
  bytes.resize(end);
  pos_ = end;
  return bytes;
}

BlockSource::BlockSource(int fd, bool owns_fd, BlockOptions options, std::string name, int stop_fd)
    : owned_(owns_fd ? fd : -1), reader_(fd, std::move(options), std::move(name), stop_fd) {}

}  // namespace taskpool
