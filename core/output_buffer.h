// The output of one attempt, held until it can be printed. Memory is bounded: past a limit the
// content moves to an unlinked temporary file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace taskpool {

// Not thread-safe. Move-only; owns its temporary file.
class OutputBuffer {
 public:
  static constexpr size_t kDefaultMemoryLimit = 256 * 1024;

  explicit OutputBuffer(size_t memory_limit = kDefaultMemoryLimit);
  ~OutputBuffer();
  OutputBuffer(OutputBuffer&&) noexcept;
  OutputBuffer& operator=(OutputBuffer&&) noexcept;
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  // Throws Error when the temporary file cannot be created or written (e.g. disk full).
  void append(std::string_view data);
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool spilled() const { return fd_.valid(); }
  // Bytes held in memory (0 once spilled).
  size_t memory_size() const { return memory_.size(); }
  // Moves the content to the temporary file now, whatever its size, giving the memory back.
  // Throws Error as append does; the content then stays in memory.
  void spill();

  // Calls `sink` with the content in order, in chunks. Throws Error on a read error.
  void for_each_chunk(const std::function<void(std::string_view)>& sink) const;

 private:
  void move_to_file(std::string_view more);

  size_t memory_limit_;
  std::string memory_;
  UniqueFd fd_;  // the temporary file, once spilled
  uint64_t size_ = 0;
};

}  // namespace taskpool
