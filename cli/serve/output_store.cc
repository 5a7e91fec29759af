#include "cli/serve/output_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {

void make_directory(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw system_error(path);
}

void write_all_at(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error(path + ": cannot write the job's output");
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

// Appends what the file holds in [offset, offset + size) to `out`; a file shorter than that (the
// job's output was lost with its files) gives what there is.
void read_at(const std::string& path, uint64_t offset, uint64_t size, std::string& out) {
  if (size == 0) return;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw system_error(path);
  }
  const size_t start = out.size();
  out.resize(start + size);
  size_t got = 0;
  while (got < size) {
    const ssize_t n =
        pread(fd, out.data() + start + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      close(fd);
      out.resize(start + got);
      if (n == 0) return;
      errno = error;
      throw system_error(path);
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace

OutputStore::OutputStore(std::string dir, Limits limits) : dir_(std::move(dir)), limits_(limits) {
  make_directory(dir_);
}

OutputStore::~OutputStore() {
  for (auto& [key, writer] : writers_) close_writer(writer);
}

std::string OutputStore::path(uint64_t id, OutputStream stream, bool tail) const {
  return dir_ + "/" + std::to_string(id / 1000) + "/" + std::to_string(id) +
         (stream == OutputStream::kStdout ? ".out" : ".err") + (tail ? ".tail" : "");
}

void OutputStore::start(uint64_t id) {
  finish(id);
  for (const OutputStream stream : {OutputStream::kStdout, OutputStream::kStderr}) {
    for (const bool tail : {false, true}) {
      const std::string file = path(id, stream, tail);
      if (unlink(file.c_str()) != 0 && errno != ENOENT) throw system_error(file);
    }
  }
}

OutputStore::Writer& OutputStore::writer(uint64_t id, OutputStream stream) {
  Writer& writer = writers_[{id, stream}];
  if (writer.head_fd >= 0) return writer;
  make_directory(dir_ + "/" + std::to_string(id / 1000));
  for (const bool tail : {false, true}) {
    const std::string file = path(id, stream, tail);
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      close_writer(writer);
      writers_.erase({id, stream});
      throw system_error(file);
    }
    (tail ? writer.tail_fd : writer.head_fd) = fd;
  }
  return writer;
}

void OutputStore::append(uint64_t id, OutputStream stream, std::string_view data) {
  Writer& out = writer(id, stream);
  if (out.written < limits_.head) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(data.size(), limits_.head - out.written));
    write_all_at(out.head_fd, data.substr(0, n), out.written, path(id, stream, false));
    out.written += n;
    data.remove_prefix(n);
  }
  if (limits_.tail == 0) {
    out.written += data.size();
    return;
  }
  // Of what does not fit in the ring, only its last `tail` bytes matter.
  if (data.size() > limits_.tail) {
    out.written += data.size() - limits_.tail;
    data.remove_prefix(data.size() - limits_.tail);
  }
  while (!data.empty()) {
    const uint64_t at = (out.written - limits_.head) % limits_.tail;
    const auto n = static_cast<size_t>(std::min<uint64_t>(data.size(), limits_.tail - at));
    write_all_at(out.tail_fd, data.substr(0, n), at, path(id, stream, true));
    out.written += n;
    data.remove_prefix(n);
  }
}

uint64_t OutputStore::written(uint64_t id, OutputStream stream) const {
  const auto found = writers_.find({id, stream});
  return found == writers_.end() ? 0 : found->second.written;
}

void OutputStore::close_writer(Writer& writer) {
  if (writer.head_fd >= 0) close(writer.head_fd);
  if (writer.tail_fd >= 0) close(writer.tail_fd);
  writer.head_fd = writer.tail_fd = -1;
}

void OutputStore::finish(uint64_t id) {
  for (const OutputStream stream : {OutputStream::kStdout, OutputStream::kStderr}) {
    const auto found = writers_.find({id, stream});
    if (found == writers_.end()) continue;
    close_writer(found->second);
    writers_.erase(found);
  }
}

OutputSlice OutputStore::read(uint64_t id, OutputStream stream, uint64_t total, uint64_t offset,
                              size_t max) const {
  OutputSlice slice;
  slice.total = total;
  const uint64_t head_end = std::min(total, limits_.head);
  // The tail holds [tail_begin, total): the bytes between the head and it were not kept.
  const uint64_t tail_begin = std::max(head_end, total > limits_.tail ? total - limits_.tail : 0);
  if (offset >= head_end && offset < tail_begin) offset = tail_begin;
  slice.offset = std::min(offset, total);
  uint64_t at = slice.offset;
  if (at < head_end) {
    const uint64_t n = std::min<uint64_t>(head_end - at, max);
    read_at(path(id, stream, false), at, n, slice.data);
    at += n;
    if (slice.data.size() < n) at = total;  // the file is shorter: lost
  }
  while (at >= tail_begin && at < total && slice.data.size() < max && limits_.tail > 0) {
    const uint64_t ring = (at - limits_.head) % limits_.tail;
    const uint64_t n =
        std::min({total - at, limits_.tail - ring, static_cast<uint64_t>(max - slice.data.size())});
    const size_t before = slice.data.size();
    read_at(path(id, stream, true), ring, n, slice.data);
    if (slice.data.size() - before < n) break;  // the file is shorter: lost
    at += n;
  }
  slice.next = slice.offset + slice.data.size();
  return slice;
}

}  // namespace taskpool
