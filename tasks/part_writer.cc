#include "tasks/part_writer.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/file_io.h"
#include "core/unique_fd.h"
#include "tasks/part_record.h"

namespace taskpool {

PartWriter::Written write_part_and_rename(const PartWriter::File& file) {
  PartWriter::Written written;
  written.worker = file.worker;
  // O_NOFOLLOW: a NAME.part that is a symbolic link must not send the data somewhere else.
  UniqueFd fd(::open(file.part_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     0666));
  if (!fd.valid()) {
    written.write_error = errno;
    return written;
  }
  // A record left by an earlier run describes other bytes: the .part is not to be continued.
  ::unlink(file.record_path.c_str());
  set_download_origin(fd.get(), file.url);
  written.write_error = write_to_end(fd.get(), file.body);
  if (written.write_error != 0) return written;
  if (::close(fd.release()) != 0) {  // a network file system may say only now
    written.write_error = errno;
    return written;
  }
  if (::rename(file.part_path.c_str(), file.final_path.c_str()) != 0) written.rename_error = errno;
  return written;
}

PartWriter::PartWriter() : wake_(-1), thread_([this] { run(); }) {}

PartWriter::~PartWriter() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void PartWriter::write(File file) {
  {
    const std::lock_guard lock(mutex_);
    files_.push_back(std::move(file));
  }
  work_.notify_one();
}

std::vector<PartWriter::Written> PartWriter::take() {
  const std::lock_guard lock(mutex_);
  return std::exchange(written_, {});
}

bool PartWriter::worth_it() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
}

void PartWriter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !files_.empty(); });
    if (files_.empty()) return;  // stopping, and every file written
    File file = std::move(files_.front());
    files_.pop_front();
    lock.unlock();
    Written written = write_part_and_rename(file);
    written.buffer = std::move(file.body);
    written.buffer.clear();
    lock.lock();
    const bool was_empty = written_.empty();
    written_.push_back(std::move(written));
    // One wake-up for what the fetching thread has not taken yet.
    if (was_empty) wake_.notify();
  }
}

}  // namespace taskpool
