// Writes the small downloads' files on a thread of their own: a body that came whole in its first
// piece is put in NAME.part and renamed to NAME there, so the thread that drives libcurl spends
// none of its time in the file system for it. (On 2000 files of 4 KiB, those six system calls a
// file were a fifth of the fetching thread's time.)
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/job.h"
#include "tasks/wake_fd.h"

namespace taskpool {

class PartWriter final {
 public:
  struct File {
    WorkerId worker = 0;
    std::string url;          // recorded as the file's origin
    std::string part_path;    // NAME.part, written first
    std::string record_path;  // NAME.part.meta, removed before the .part is written
    std::string final_path;   // NAME, the .part's name once it is whole
    std::string body;
  };
  struct Written {
    WorkerId worker = 0;
    int write_error = 0;   // errno of opening or writing the .part; 0: written
    int rename_error = 0;  // errno of renaming it to NAME; 0: renamed
    std::string buffer;    // the File's body, emptied: its memory serves another body
  };

  // Throws Error when its eventfd cannot be made.
  PartWriter();
  // Writes every file given before it returns: a complete body is never dropped.
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Thread-safe. The file's Written comes from take() once it is on disk.
  void write(File file);
  // Readable (POLLIN) when take() has something; drain_wake() after it was seen readable.
  int wake_fd() const { return wake_.get(); }
  void drain_wake() const { wake_.drain(); }
  // The files written since the last call. Thread-safe.
  std::vector<Written> take();

  // Whether a writer thread can run beside the caller's: more than one CPU to run on.
  static bool worth_it();

 private:
  void run();

  WakeFd wake_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<File> files_;        // guarded by mutex_
  std::vector<Written> written_;  // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  std::thread thread_;            // last: it runs on the members above
};

// Puts `file` on disk as the inline path of a download does: NAME.part made (never through a
// symbolic link), its record removed, the origin set, the body written, and renamed to NAME.
PartWriter::Written write_part_and_rename(const PartWriter::File& file);

}  // namespace taskpool
