#include "core/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/unique_fd.h"

namespace taskpool {

int read_to_end(int fd, std::string& text, size_t max_bytes) {
  char buffer[65536];
  size_t taken = 0;
  for (;;) {
    // One byte past the limit tells a file of exactly max_bytes from a longer one.
    const size_t room = max_bytes == SIZE_MAX ? sizeof buffer : max_bytes - taken + 1;
    const ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, room));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    const auto size = static_cast<size_t>(n);
    if (max_bytes != SIZE_MAX && taken + size > max_bytes) {
      text.append(buffer, max_bytes - taken);
      return EFBIG;
    }
    text.append(buffer, size);
    taken += size;
  }
}

int read_whole_file(const std::string& path, std::string& text, size_t max_bytes, int flags) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags));
  if (!fd.valid()) return errno;
  return read_to_end(fd.get(), text, max_bytes);
}

int write_to_end(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ENOSPC;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int write_whole_file(const std::string& path, std::string_view data, int flags, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | flags, mode));
  if (!fd.valid()) return errno;
  if (const int error = write_to_end(fd.get(), data); error != 0) return error;
  if (::close(fd.release()) != 0) return errno;
  return 0;
}

int rename_file(const std::string& from, const std::string& to, bool replace) {
  if (!replace) {
    if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
  }
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

bool holds_nothing(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return errno == ENOENT;
  bool empty = true;
  errno = 0;
  while (const dirent* entry = readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  if (errno != 0) empty = false;  // not read to its end: not known to be empty
  closedir(dir);
  return empty;
}

std::vector<std::string> nonblank_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) lines.emplace_back(line);
  }
  return lines;
}

}  // namespace taskpool
