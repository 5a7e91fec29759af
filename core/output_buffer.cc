#include "core/output_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {

constexpr size_t kReadBackChunk = 64 * 1024;

std::string temp_dir() {
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// "cannot write temporary output file in /tmp: No space left on device (...)"
Error temp_file_error(const char* action, int error, const char* hint) {
  std::string message = std::string("cannot ") + action + " temporary output file in " +
                        temp_dir() + ": " + std::strerror(error);
  if (hint != nullptr) message = message + " (" + hint + ")";
  return Error(message);
}

// An unlinked file: nothing is left behind however the program ends.
int create_temp_file() {
  const std::string dir = temp_dir();
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  // Not every file system supports O_TMPFILE (and some kernels lack it): the portable way leaves
  // a name in the directory for a moment.
  std::string name = dir + "/taskpool-output-XXXXXX";
  fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) throw temp_file_error("create", errno, "set TMPDIR to a writable directory");
  unlink(name.c_str());
  return fd;
}

// Returns 0 or the errno of the failed write. pwrite at an explicit offset keeps the file
// consistent with size_ even after a failed, partial write: the next append overwrites the rest.
int write_all_at(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return 0;
}

}  // namespace

OutputBuffer::OutputBuffer(size_t memory_limit) : memory_limit_(memory_limit) {}

OutputBuffer::~OutputBuffer() = default;

OutputBuffer::OutputBuffer(OutputBuffer&& other) noexcept
    : memory_limit_(other.memory_limit_),
      memory_(std::move(other.memory_)),
      fd_(std::move(other.fd_)),
      size_(std::exchange(other.size_, 0)) {
  other.memory_.clear();
}

OutputBuffer& OutputBuffer::operator=(OutputBuffer&& other) noexcept {
  if (this != &other) {
    memory_limit_ = other.memory_limit_;
    memory_ = std::move(other.memory_);
    other.memory_.clear();
    fd_ = std::move(other.fd_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void OutputBuffer::append(std::string_view data) {
  if (data.empty()) return;
  if (fd_.valid()) {
    if (const int error = write_all_at(fd_.get(), data, size_); error != 0) {
      throw temp_file_error("write", error, "set TMPDIR to a directory with more space");
    }
  } else if (memory_.size() + data.size() <= memory_limit_) {
    memory_.append(data);
  } else {
    move_to_file(data);
  }
  size_ += data.size();
}

void OutputBuffer::spill() {
  if (!fd_.valid()) move_to_file({});
}

// Everything moves to the file, so reading back is one sequence of preads. On failure the
// buffer stays as it was (in memory).
void OutputBuffer::move_to_file(std::string_view more) {
  UniqueFd fd(create_temp_file());
  int error = write_all_at(fd.get(), memory_, 0);
  if (error == 0) error = write_all_at(fd.get(), more, memory_.size());
  if (error != 0)
    throw temp_file_error("write", error, "set TMPDIR to a directory with more space");
  fd_ = std::move(fd);
  std::string().swap(memory_);  // gives the memory back, clear() would keep it
}

void OutputBuffer::for_each_chunk(const std::function<void(std::string_view)>& sink) const {
  if (!fd_.valid()) {
    if (!memory_.empty()) sink(memory_);
    return;
  }
  const auto chunk = std::make_unique_for_overwrite<char[]>(kReadBackChunk);
  uint64_t offset = 0;
  while (offset < size_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kReadBackChunk, size_ - offset));
    const ssize_t n = pread(fd_.get(), chunk.get(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw temp_file_error("read", errno, nullptr);
    }
    if (n == 0) throw Error("temporary output file in " + temp_dir() + " is shorter than written");
    offset += static_cast<uint64_t>(n);
    sink(std::string_view(chunk.get(), static_cast<size_t>(n)));
  }
}

}  // namespace taskpool
