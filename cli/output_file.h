// A file a run writes when it ends (--summary-json, --timeline), opened before it starts: a
// path that cannot be written is an error at once, not after an hour-long run.
#pragma once

#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace taskpool {

// Opens `path` for writing without truncating it: what it held stays until write(). Any other
// kind than a regular file or a directory (a FIFO, a device) is only checked for write access, and
// opened at write() (opening a FIFO waits for its reader). "-" is standard output when
// `dash_is_stdout`. Throws Error naming `flag` and the path. Not thread-safe.
class OutputFile final {
 public:
  OutputFile(std::string flag, std::string path, bool dash_is_stdout);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Replaces the file's content with `contents`, and closes it. Once. Throws Error naming `flag`
  // and the path.
  void write(std::string_view contents);

 private:
  int open(int flags) const;

  std::string flag_;
  std::string path_;
  UniqueFd fd_;  // none until write() for standard output and the kinds opened late
  bool stdout_ = false;
};

}  // namespace taskpool
