#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>

#include "cli/serve/store_internal.h"
#include "core/error.h"

namespace taskpool::store_rows {

// A record's fields in one blob: each as its length in decimal, ':', its bytes (any bytes).
std::string encode_fields(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& field : fields) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
  }
  return out;
}

std::vector<std::string> decode_fields(std::string_view blob, uint64_t id) {
  std::vector<std::string> fields;
  while (!blob.empty()) {
    size_t size = 0;
    const auto [end, ec] = std::from_chars(blob.data(), blob.data() + blob.size(), size);
    const size_t digits = static_cast<size_t>(end - blob.data());
    if (ec != std::errc() || digits == blob.size() || *end != ':' ||
        size > blob.size() - digits - 1) {
      throw Error("the stored record of job " + std::to_string(id) + " is damaged");
    }
    fields.emplace_back(blob.substr(digits + 1, size));
    blob.remove_prefix(digits + 1 + size);
  }
  return fields;
}

std::string encode_ids(const std::vector<uint64_t>& ids) {
  std::string out;
  for (const uint64_t id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

std::vector<uint64_t> decode_ids(std::string_view text) {
  std::vector<uint64_t> ids;
  while (!text.empty()) {
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc()) break;
    ids.push_back(id);
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (!text.empty()) text.remove_prefix(1);  // the comma
  }
  return ids;
}

int64_t system_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The directory's lock: a second daemon on the same state would run its jobs twice.
int lock_directory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw system_error(dir + ": cannot create the state directory");
  }
  const std::string path = dir + "/lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw system_error(path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char pid[32] = {};
    [[maybe_unused]] const ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    if (error == EWOULDBLOCK) {
      throw Error(dir + ": the state directory is in use by another taskpool serve (pid " +
                  std::string(pid) + ")");
    }
    errno = error;
    throw system_error(path + ": cannot lock");
  }
  const std::string pid = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    throw system_error(path);
  }
  return fd;
}

JobState state_of(int64_t stored) {
  if (stored < 0 || stored >= static_cast<int64_t>(kJobStates)) return JobState::kFailed;
  return static_cast<JobState>(stored);
}

std::vector<uint64_t> dependants_of(Statement& statement, uint64_t id) {
  StatementUse select(statement);
  select->bind(1, static_cast<int64_t>(id));
  std::vector<uint64_t> ids;
  while (select->step()) ids.push_back(static_cast<uint64_t>(select->integer(0)));
  return ids;
}

}  // namespace taskpool::store_rows
