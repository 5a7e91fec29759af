#include "tasks/stdin_feed.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tasks/pipes.h"

namespace taskpool {

namespace {

// A large pipe: fewer wake-ups, and the job's reads are long ones. The system may refuse it (a
// user's pipe pages are limited); the default then serves.
constexpr int kStdinPipeSize = 1024 * 1024;
constexpr size_t kWriteLimitPerRound = 4 * 1024 * 1024;

// A file's bytes through a buffer, where splice cannot take them (a file system without it).
ssize_t copy_range(int from, uint64_t offset, int to, size_t size) {
  static thread_local std::vector<char> buffer(256 * 1024);
  const ssize_t n =
      ::pread(from, buffer.data(), std::min(size, buffer.size()), static_cast<off_t>(offset));
  if (n <= 0) return n;
  return ::write(to, buffer.data(), static_cast<size_t>(n));
}

// Writes up to `size` bytes of `input` from `done`; returns what write(2) returns.
ssize_t write_input(const JobInput& input, uint64_t done, int to, size_t size) {
  if (input.header) {
    const std::string& header = *input.header;
    if (done < header.size()) {
      return ::write(to, header.data() + done, std::min<uint64_t>(size, header.size() - done));
    }
    done -= header.size();
  }
  if (!input.file) return ::write(to, input.bytes.data() + done, size);
  const int from = input.file->get();
  auto offset = static_cast<loff_t>(input.offset + done);
  const ssize_t n = ::splice(from, &offset, to, nullptr, size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n < 0 && errno == EINVAL) return copy_range(from, input.offset + done, to, size);
  return n;
}

}  // namespace

std::vector<std::string> fifo_argv(const std::string& shell, const Command& command) {
  // The background cat gets the block on descriptor 3 (an asynchronous command's stdin would be
  // /dev/null); it ends when the command has read it all, or is ended when the command is done
  // without reading it all (or opening the pipe at all).
  static constexpr char kScript[] =
      "mkfifo -m 600 \"$1\" || exit 126\n"
      "exec 3<&0 0</dev/null\n"
      "cat <&3 >\"$1\" 3<&- &\n"
      "exec 3<&-\n"
      "(eval \"$2\")\n"
      "s=$?\n"
      "kill $! 2>/dev/null\n"
      "wait $! 2>/dev/null\n"
      "exit $s\n";
  return {shell, "-c", kScript, shell, command.input_fifo, command.line};
}

int write_input_file(const JobInput& input, const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno;
  const uint64_t total = input.size();
  uint64_t written = 0;
  while (written < total) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(total - written, kStdinPipeSize));
    const ssize_t n = write_input(input, written, fd.get(), size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::unlink(path.c_str());
      return error;
    }
    written += static_cast<uint64_t>(n);
  }
  return 0;
}

int StdinFeed::open(std::shared_ptr<const JobInput> job_input, UniqueFd& child_end) {
  Pipe pipe;
  if (const int error = make_pipe(pipe); error != 0) return error;
  set_nonblocking(pipe.write.get());
  ::fcntl(pipe.write.get(), F_SETPIPE_SZ, kStdinPipeSize);  // a hint: the default size works too
  fd = std::move(pipe.write);
  child_end = std::move(pipe.read);
  input = std::move(job_input);
  written = 0;
  if (input->size() == 0) fd.reset();
  return 0;
}

void StdinFeed::write_some() {
  const uint64_t total = input->size();
  size_t this_round = 0;
  while (fd.valid() && written < total && this_round < kWriteLimitPerRound) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(total - written, kStdinPipeSize));
    const ssize_t n = write_input(*input, written, fd.get(), size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      // EPIPE: the job closed its standard input. Another error (the file shrank, a read
      // error): the job sees its input end there, as it would reading the file itself.
      fd.reset();
      return;
    }
    if (n == 0) {  // the file ended before the range did
      fd.reset();
      return;
    }
    written += static_cast<uint64_t>(n);
    this_round += static_cast<size_t>(n);
  }
  if (written >= total) fd.reset();
}

}  // namespace taskpool
