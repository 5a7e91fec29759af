// Runs attempts as HTTP(S) downloads, all through one libcurl multi handle driven from one
// ppoll loop: -j transfers at once without a thread per transfer, connections reused, HTTP/2
// where the server offers it.
#pragma once

#include <poll.h>
#include <signal.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/executor.h"
#include "tasks/part_writer.h"
#include "tasks/wake_fd.h"

namespace taskpool {

// A transfer that receives nothing for this long fails as a timeout (aria2's default).
inline constexpr Duration kDefaultStallTimeout = std::chrono::seconds(60);

struct FetchOptions {
  std::string output_dir = ".";
  bool overwrite = false;  // replace existing files
  bool resume = false;     // --continue: resume NAME.part, keep complete files
  Duration timeout{0};     // per transfer; 0: none
  Duration connect_timeout{0};
  Duration stall_timeout = kDefaultStallTimeout;  // no byte for this long: fail; 0: never
  std::string ca_file;  // certificates to trust instead of the system's (--cacert); "": system's
  long long limit_rate = 0;  // bytes per second per transfer; 0: none
  long max_redirects = 10;
  std::string user_agent;
  int wake_fd = -1;  // as ProcessExecutorOptions::wake_fd
  // Threads the downloads run on (FetchLanes; FetchExecutor runs them on the caller's alone).
  size_t lanes = 1;
  // Small files' bodies written by a thread of their own, where PartWriter::worth_it().
  bool writer_thread = true;
  // How fresh FetchLanes::progress() is to be kept while downloads run; zero: not asked for.
  Duration progress_every{0};
  // The output directory held nothing when the run began (make_fetch_executor looks): a first
  // attempt's name there was left by no earlier run, so it starts without looking for a file, a
  // .part or a .part.meta of that name (two system calls of six a small file; the final rename
  // still refuses to replace a file that appeared meanwhile).
  bool fresh_directory = false;
};

// An attempt's Download (Attempt::download) says what to fetch: its URL and its path relative to
// the output directory, or why the record's path was refused (the attempt then fails with it).
//
// Completions: exit_status is curl's exit code for the same failure (0 on success; 22 HTTP
// status >= 400, 28 timeout or stall, 7 no connection, 18 body shorter than announced, 47 too
// many redirects, 23 a local file problem, 33 a range answer that does not fit the request, 8 an
// answer that holds no file: 204, or a 3xx without Location), detail.http_status the last HTTP
// status, detail.stdout_bytes the bytes received, error a message for a failure, permanent set when
// trying again cannot help, and retry_after when the server asked for a delay. A cancelled transfer
// ends with signal 15 (or 9) and keeps its .part file.
//
// Data goes to NAME.part (made when the answer's body begins), renamed to NAME only when the
// transfer completed (libcurl checks the
// size against Content-Length; taskpool the Content-Range of a 206, see judge_response). Only
// the response whose body arrives is judged: not a 1xx, a redirect, or a proxy's answer to
// CONNECT. NAME.part.meta records the URL and the file's validator (tasks/part_record.h):
// --continue resumes a .part only for its URL, asking for the rest with If-Range. Signal handling
// as ProcessExecutor: the caller blocks the signals it handles and passes the mask from before;
// wait() unblocks it only inside ppoll. Not thread-safe, except wake().
//
// A body that comes whole in its first piece (most small files) needs no record: where there is
// more than one CPU, a thread of the executor's own (PartWriter) writes its .part and renames it,
// and the download completes once NAME is there. A cancel that comes while it is written is too
// late to stop it: that download completes.
// How far the downloads are, for --progress: the bytes received, and what is known of the files'
// sizes (from Content-Length, or a finished file's size).
struct FetchProgress {
  uint64_t received = 0;     // bytes received by this run, every attempt's, running ones' too
  uint64_t finished = 0;     // downloads that completed
  uint64_t files_sized = 0;  // those, and the running downloads whose size the server said
  uint64_t bytes_sized = 0;  // the sizes of those files
  uint64_t bytes_have = 0;   // what of them is on disk so far (all of a finished one)
};

class FetchExecutor final : public Executor {
 public:
  // Throws Error when libcurl cannot be loaded or the output directory cannot be made.
  FetchExecutor(FetchOptions options, const sigset_t& original_mask);
  ~FetchExecutor() override;
  FetchExecutor(const FetchExecutor&) = delete;
  FetchExecutor& operator=(const FetchExecutor&) = delete;

  void start(const Attempt& attempt) override;
  void cancel(WorkerId worker, CancelMode mode) override;
  WaitResult wait(TimePoint deadline, std::span<pollfd> also_watch = {}) override;
  void wake() override;
  FetchProgress progress() const;

  struct Transfer;

 private:
  int open_part(Transfer& transfer) const;  // 0, or the errno
  void setup(Transfer& transfer);
  void finish(Transfer& transfer, int curl_code);
  void end(Transfer& transfer, int curl_code);  // the download's completion, ready
  void hand_to_writer(Transfer& transfer);
  void collect_written();
  bool start_over(Transfer& transfer);  // asks again for the whole file, in the same attempt
  void complete(Transfer& transfer);
  // The rename to NAME failed with `error`: EEXIST, NAME appeared meanwhile (judge_existing).
  void renamed_not(Transfer& transfer, int error);
  void rename_failed(Transfer& transfer, int error);
  void fail(Transfer& transfer, int curl_code, long http_status);
  void drive(int socket, int events);
  void collect_done();
  bool poll_once(TimePoint deadline, std::span<pollfd> also_watch);
  void fail_now(Completion completion, int exit_status, std::string error, bool permanent);
  // Easy handles outlive their transfers: a new transfer takes an idle one, reset, instead of
  // allocating and setting up a handle per file. (libcurl 7.88 still allocates the receive
  // buffer per transfer and frees it when the transfer ends.)
  void* take_easy();  // CURL*; nullptr when libcurl has no memory
  void give_back_easy(void* easy);

  FetchOptions options_;
  sigset_t original_mask_;
  void* multi_ = nullptr;  // CURLM*
  WakeFd wake_;
  std::unordered_map<int, short> sockets_;  // what libcurl wants polled, by socket
  TimePoint timer_ = kNever;                // when libcurl wants to be called for timeouts
  std::vector<void*> idle_easy_;            // CURL*s, reset
  std::unordered_map<WorkerId, std::unique_ptr<Transfer>> transfers_;
  size_t most_transfers_ = 0;  // the most transfers_ held at once
  std::vector<Completion> ready_;
  FetchProgress ended_;      // what the downloads that ended add to progress()
  std::vector<pollfd> fds_;  // one round's poll set (see poll_once), kept for its memory
  // Writes the small files when there is a CPU for it (made at the first of them).
  bool use_writer_ = options_.writer_thread && PartWriter::worth_it();
  std::unique_ptr<PartWriter> writer_;
  std::vector<std::string> spare_bodies_;  // memory for Transfer::body, back from the writer

  friend int on_socket(void*, int, int, void*, void*);
  friend int on_timer(void*, long, void*);
};

}  // namespace taskpool
