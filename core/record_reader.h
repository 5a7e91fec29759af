// Reads records from a file descriptor, one at a time, without holding more than one record and
// one read buffer in memory.
#pragma once

#include <optional>
#include <string>

namespace taskpool {

// Records end at `delimiter` ('\n' by default, '\0' for -0). A final record without a trailing
// delimiter is still a record; a trailing delimiter does not make an empty extra record. Empty
// records are kept (GNU parallel runs them). '\r' is data. No size limit per record.
// Not thread-safe. Does not own the descriptor.
class RecordReader {
 public:
  RecordReader(int fd, char delimiter, std::string name = "stdin");
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record, or nullopt at the end of input. Throws Error (naming the input) on a read
  // error. Retries on EINTR.
  std::optional<std::string> next();

 private:
  int fd_;
  char delimiter_;
  std::string name_;
  std::string buffer_;
  size_t pos_ = 0;  // start of unconsumed data in buffer_
  bool eof_ = false;
};

}  // namespace taskpool
