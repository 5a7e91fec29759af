// The output of the job server's jobs, kept on disk under the state directory, bounded per job:
// of each stream (stdout, stderr), the first `head` bytes and the last `tail` bytes, as a CI log
// keeps the start of a build and its end, where the error is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace taskpool {

enum class OutputStream { kStdout, kStderr };

// What a read found: the bytes from `offset` on (which is past the offset asked for when the
// bytes between were not kept), and where the next read goes on.
struct OutputSlice {
  std::string data;
  uint64_t offset = 0;
  uint64_t next = 0;
  uint64_t total = 0;  // bytes the job wrote to the stream, kept or not
};

// Not thread-safe. Files: DIR/NNN/ID.out and ID.err (the head), ID.out.tail and ID.err.tail (the
// tail, a ring), NNN being ID / 1000, so no directory holds more than a thousand jobs' files.
class OutputStore {
 public:
  struct Limits {
    uint64_t head = uint64_t{1} << 20;
    uint64_t tail = uint64_t{1} << 20;
  };

  // Creates DIR when missing. Throws Error when it cannot.
  OutputStore(std::string dir, Limits limits);
  explicit OutputStore(std::string dir) : OutputStore(std::move(dir), Limits{}) {}
  ~OutputStore();
  OutputStore(const OutputStore&) = delete;
  OutputStore& operator=(const OutputStore&) = delete;

  // A new attempt of job `id` begins: what an earlier attempt wrote is dropped.
  void start(uint64_t id);
  // Appends to the job's stream. Throws Error when the file cannot be written (disk full).
  void append(uint64_t id, OutputStream stream, std::string_view data);
  // The bytes written to the job's stream since start(), while it is open; 0 after finish().
  uint64_t written(uint64_t id, OutputStream stream) const;
  // The job writes no more (its files stay).
  void finish(uint64_t id);

  // Up to `max` bytes of the job's stream from `offset`, given the `total` it wrote (written()
  // while it runs, what the store recorded after). Throws Error on a read error.
  OutputSlice read(uint64_t id, OutputStream stream, uint64_t total, uint64_t offset,
                   size_t max) const;

 private:
  struct Writer {
    int head_fd = -1;
    int tail_fd = -1;
    uint64_t written = 0;
  };
  std::string path(uint64_t id, OutputStream stream, bool tail) const;
  Writer& writer(uint64_t id, OutputStream stream);
  void close_writer(Writer& writer);

  std::string dir_;
  Limits limits_;
  std::map<std::pair<uint64_t, OutputStream>, Writer> writers_;
};

}  // namespace taskpool
