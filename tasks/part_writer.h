// Writes the small downloads' files on a thread of their own: a body that came whole in its first
// piece is put in NAME.part and renamed to NAME there, so the thread that drives libcurl spends
// none of its time in the file system for it. (On 2000 files of 4 KiB, those six system calls a
// file were a fifth of the fetching thread's time.)
#pragma once

#include <atomic>
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
    bool clean_slate = false;  // Transfer::clean_slate: NAME.part.meta cannot be there
    bool replace = false;      // --overwrite: NAME is replaced, not kept, if it appeared
  };
  struct Written {
    WorkerId worker = 0;
    int write_error = 0;   // errno of opening or writing the .part; 0: written
    int rename_error = 0;  // errno of renaming it to NAME (EEXIST: NAME is there); 0: renamed
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
  // The files written since the last call. Thread-safe.
  std::vector<Written> take();

  // Waking the caller costs it two system calls, which most files need not pay: it is woken
  // only from a sleep it announced. Before it sleeps, the caller calls will_sleep(): false when
  // a file was written meanwhile (take() it instead of sleeping); else wake_fd() becomes readable
  // (POLLIN) once a file is written, and the caller calls awake() when its sleep ends, saying
  // whether wake_fd() was readable.
  bool will_sleep();
  void awake(bool woken);
  int wake_fd() const { return wake_.get(); }

  // Whether a writer thread can run beside the caller's: more than one CPU to run on.
  static bool worth_it();

 private:
  void run();

  WakeFd wake_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<File> files_;                // guarded by mutex_
  std::vector<Written> written_;          // guarded by mutex_
  std::atomic<size_t> written_count_{0};  // written_.size(), for will_sleep() without the lock
  std::atomic<bool> sleeping_{false};     // the caller sleeps, and wants a wake-up
  bool stopping_ = false;                 // guarded by mutex_
  std::thread thread_;                    // last: it runs on the members above
};

// Puts `file` on disk as the inline path of a download does: NAME.part made (never through a
// symbolic link), its record removed, the origin set, the body written, and renamed to NAME.
PartWriter::Written write_part_and_rename(const PartWriter::File& file);

}  // namespace taskpool
