// Blocks of whole records (--pipe, --pipepart): where one record ends and the next begins, and
// a reader that cuts its input into blocks of about a given size without ever cutting a record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/input.h"
#include "core/unique_fd.h"

namespace taskpool {

// What separates two records, as GNU parallel's --recstart and --recend say: a boundary lies
// where the bytes before it end with `end` and the bytes after it begin with `start`. An empty
// string matches anywhere (not both).
struct RecordBoundary {
  std::string start;
  std::string end = "\n";

  bool operator==(const RecordBoundary&) const = default;
};

// The first boundary p in `bytes` with from < p <= bytes.size(), or npos. A boundary needs the
// `start` bytes after it, so one at the very end counts only when `start` is empty: at the end
// of the input, the end is a boundary anyway.
size_t first_boundary(std::string_view bytes, size_t from, const RecordBoundary& boundary);

// The last boundary p with from < p <= to (to <= bytes.size()), or npos.
size_t last_boundary(std::string_view bytes, size_t from, size_t to,
                     const RecordBoundary& boundary);

struct BlockOptions {
  // A block is the most whole records that fit in block_size bytes (the next record's start
  // too, when there is one to tell the boundary), or the rest of the input when it is shorter;
  // a record longer than that is a block of its own, whatever its size (GNU parallel grows its
  // block for it too).
  size_t block_size = 1024 * 1024;
  RecordBoundary boundary;
  // -N: exactly this many records a block (the last one fewer), whatever their size; 0: by size.
  size_t records = 0;
  // --header N: the first N lines are not a block but go before every block.
  size_t header_lines = 0;

  bool operator==(const BlockOptions&) const = default;
};

// Reads `fd` a block at a time. Memory: one block and one read (and a record longer than a
// block, whole). Does not own the descriptor. Not thread-safe.
class BlockReader {
 public:
  // `stop_fd`: see RecordLimit::stop_fd. REQUIRES: options.block_size > 0 and the boundary's
  // start or end is not empty.
  BlockReader(int fd, BlockOptions options, std::string name, int stop_fd = -1);

  // The next block (the header's lines, then whole records), or nullopt at the end of the input.
  // Empty input gives no block. Throws Error naming the input on a read error, ReadStopped when
  // stop_fd stopped it.
  std::optional<std::string> next();

 private:
  // Reads until the buffer holds `size` bytes or the input ends; false when it holds fewer.
  bool fill_to(size_t size);
  // The end of the block that starts the buffer.
  size_t block_end();
  size_t end_by_records();
  size_t end_by_size();
  // The first boundary after `from`, reading more as needed; the buffer's end at end of input.
  size_t next_boundary(size_t from);
  void read_header();

  int fd_;
  BlockOptions options_;
  std::string name_;
  int stop_fd_;
  std::string buffer_;  // read, not yet given
  std::string header_;
  bool header_read_ = false;
  bool eof_ = false;
};

// --pipepart: a seekable file cut into ranges in place, each beginning where the one before it
// ended and ending after the first record end at or after block_size bytes (before the first
// record start there, with no record end), found by reading from there (the other bytes are never
// read by taskpool). Does not own the descriptor.
class PartCutter {
 public:
  struct Range {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  // REQUIRES: as BlockReader's; `size` is the file's.
  PartCutter(int fd, uint64_t size, RecordBoundary boundary, size_t block_size, std::string name);

  // The next range, or nullopt at the end of the file. Throws Error naming the file when a read
  // fails.
  std::optional<Range> next();
  // --header N: the first `lines` lines are no range; returns them (read once, from the start).
  // REQUIRES: next() was not called yet.
  std::string take_header(size_t lines);

 private:
  // The end of the range whose nominal end is `target`, or the file's end.
  uint64_t cut_at(uint64_t target) const;

  int fd_;
  uint64_t size_;
  RecordBoundary boundary_;
  size_t block_size_;
  std::string name_;
  uint64_t pos_ = 0;
};

// A --pipe input as a value source: each value is a block.
class BlockSource final : public ValueSource {
 public:
  // Owns `fd` when `owns_fd`.
  BlockSource(int fd, bool owns_fd, BlockOptions options, std::string name, int stop_fd = -1);
  std::optional<std::string> next() override { return reader_.next(); }

 private:
  UniqueFd owned_;
  BlockReader reader_;
};

}  // namespace taskpool
