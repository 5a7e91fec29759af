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
  UniqueFd fd(
      ::open(file.part_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666));
  if (!fd.valid()) {
    written.write_error = errno;
    return written;
  }
  // A record left by an earlier run describes other bytes: the .part is not to be continued.
  if (!file.clean_slate) ::unlink(file.record_path.c_str());
  set_download_origin(fd.get(), file.url);
  written.write_error = write_to_end(fd.get(), file.body);
  if (written.write_error != 0) return written;
  if (::close(fd.release()) != 0) {  // a network file system may say only now
    written.write_error = errno;
    return written;
  }
  written.rename_error = rename_file(file.part_path, file.final_path, file.replace);
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
  if (written_count_.load() == 0) return {};
  const std::lock_guard lock(mutex_);
  written_count_.store(0);
  return std::exchange(written_, {});
}

// sleeping_ and written_count_ are sequentially consistent: the caller stores sleeping_ and then
// reads written_count_, the writer stores written_count_ and then reads sleeping_, so at least
// one of them sees the other's store: a written file either stops the sleep or ends it.
bool PartWriter::will_sleep() {
  sleeping_.store(true);
  if (written_count_.load() == 0) return true;
  sleeping_.store(false);
  return false;
}

void PartWriter::awake(bool woken) {
  sleeping_.store(false);
  if (woken) wake_.drain();
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
    written_.push_back(std::move(written));
    written_count_.store(written_.size());
    if (sleeping_.exchange(false)) wake_.notify();  // one wake-up a sleep
  }
}

}  // namespace taskpool
