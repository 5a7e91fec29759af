#include "tasks/fetch_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "core/file_io.h"
#include "core/unique_fd.h"
#include "tasks/curl_api.h"
#include "tasks/fetch_names.h"
#include "tasks/fetch_response.h"
#include "tasks/fetch_transfer.h"
#include "tasks/part_record.h"

namespace taskpool {

namespace {

TimePoint steady_now() { return std::chrono::steady_clock::now(); }

CURLM* multi_of(void* multi) { return static_cast<CURLM*>(multi); }

}  // namespace

int on_socket(void* /*easy*/, int socket, int what, void* user, void* /*socket_data*/) {
  auto* self = static_cast<FetchExecutor*>(user);
  if (what == CURL_POLL_REMOVE) {
    self->sockets_.erase(socket);
    return 0;
  }
  short events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= POLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= POLLOUT;
  self->sockets_[socket] = events;
  return 0;
}

int on_timer(void* /*multi*/, long timeout_ms, void* user) {
  auto* self = static_cast<FetchExecutor*>(user);
  self->timer_ = timeout_ms < 0 ? kNever : steady_now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

FetchExecutor::FetchExecutor(FetchOptions options, const sigset_t& original_mask)
    : options_(std::move(options)), original_mask_(original_mask), wake_(options_.wake_fd) {
  const CurlApi& curl = curl_api();
  std::error_code error;
  std::filesystem::create_directories(options_.output_dir, error);
  if (error || !std::filesystem::is_directory(options_.output_dir)) {
    throw Error("-o/--output-dir: cannot make the directory '" + options_.output_dir + "'" +
                (error ? ": " + error.message() : ""));
  }
  CURLM* multi = curl.multi_init();
  if (multi == nullptr) throw Error("libcurl cannot make a multi handle");
  multi_ = multi;
  using SocketCallback = int (*)(void*, int, int, void*, void*);
  using TimerCallback = int (*)(void*, long, void*);
  curl.multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, static_cast<SocketCallback>(on_socket));
  curl.multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl.multi_setopt(multi, CURLMOPT_TIMERFUNCTION, static_cast<TimerCallback>(on_timer));
  curl.multi_setopt(multi, CURLMOPT_TIMERDATA, this);
}

FetchExecutor::~FetchExecutor() {
  const CurlApi& curl = curl_api();
  for (auto& [worker, transfer] : transfers_)
    curl.multi_remove_handle(multi_of(multi_), transfer->easy);
  transfers_.clear();
  for (void* easy : idle_easy_) curl.easy_cleanup(static_cast<CURL*>(easy));
  curl.multi_cleanup(multi_of(multi_));
}

void* FetchExecutor::take_easy() {
  if (idle_easy_.empty()) return curl_api().easy_init();
  void* easy = idle_easy_.back();
  idle_easy_.pop_back();
  return easy;
}

void FetchExecutor::give_back_easy(void* easy) {
  curl_api().easy_reset(static_cast<CURL*>(easy));
  idle_easy_.push_back(easy);
}

void FetchExecutor::fail_now(Completion completion, int exit_status, std::string error,
                             bool permanent) {
  completion.exit_status = exit_status;
  completion.error = std::move(error);
  completion.permanent = permanent;
  completion.end = steady_now();
  ready_.push_back(std::move(completion));
}

void FetchExecutor::start(const Attempt& attempt) {
  auto transfer = std::make_unique<Transfer>();
  transfer->owner = this;
  Completion& completion = transfer->completion;
  completion.worker = attempt.worker;
  completion.start = steady_now();
  const Download download = attempt.download.value_or(Download{attempt.command.line, {}, {}});
  transfer->url = download.url;
  const std::string& url = transfer->url;
  if (download.path.empty()) {
    const std::string why = download.refused.empty() ? "no file name" : download.refused;
    return fail_now(std::move(completion), CURLE_WRITE_ERROR, url + ": " + why, true);
  }
  transfer->final_path = download_file(options_.output_dir, download.path);
  transfer->part_path = transfer->final_path + std::string(kPartSuffix);
  transfer->record_path = transfer->final_path + std::string(kPartRecordSuffix);

  transfer->clean_slate = options_.fresh_directory && attempt.number == 1;
  struct stat st;
  if (!transfer->clean_slate && !options_.overwrite &&
      lstat(transfer->final_path.c_str(), &st) == 0) {
    judge_existing(*transfer, options_.resume, S_ISDIR(st.st_mode));
    completion.end = steady_now();
    ready_.push_back(std::move(completion));
    return;
  }
  if (download.path.find('/') != std::string::npos) {  // made by the constructor otherwise
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(transfer->final_path).parent_path(),
                                        error);
  }
  if (const int error = open_part(*transfer); error != 0) {
    return fail_now(std::move(completion), CURLE_WRITE_ERROR,
                    url + ": cannot write " + transfer->part_path + ": " + std::strerror(error),
                    true);
  }
  CURL* easy = static_cast<CURL*>(take_easy());
  if (easy == nullptr) {
    return fail_now(std::move(completion), CURLE_OUT_OF_MEMORY, "libcurl: no easy handle", false);
  }
  transfer->easy = easy;
  transfer->may_hold_body = use_writer_ && !transfer->fd.valid();
  if (transfer->may_hold_body && !spare_bodies_.empty()) {
    transfer->body = std::move(spare_bodies_.back());
    spare_bodies_.pop_back();
  }
  setup(*transfer);
  if (curl_api().multi_add_handle(multi_of(multi_), easy) != CURLM_OK) {
    return fail_now(std::move(completion), CURLE_FAILED_INIT, "libcurl: cannot add a transfer",
                    false);
  }
  transfers_[attempt.worker] = std::move(transfer);
  if (transfers_.size() > most_transfers_) {
    // libcurl keeps 4 idle connections a transfer it holds, counted when a connection goes idle;
    // counted while files are being written, few, it would close connections the next transfers
    // then open again. Kept for the most transfers this run has had at once instead.
    most_transfers_ = transfers_.size();
    curl_api().multi_setopt(multi_of(multi_), CURLMOPT_MAXCONNECTS,
                            static_cast<long>(4 * most_transfers_));
  }
}

int FetchExecutor::open_part(Transfer& transfer) const {
  // Without --continue, or with nothing to continue, the .part is made when the answer's body
  // begins (begin_part).
  struct stat st;
  if (!options_.resume || transfer.clean_slate || lstat(transfer.part_path.c_str(), &st) != 0) {
    return 0;
  }
  // O_NOFOLLOW: a NAME.part that is a symbolic link must not send the data somewhere else.
  transfer.fd.reset(
      ::open(transfer.part_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  if (!transfer.fd.valid()) return errno;
  if (fstat(transfer.fd.get(), &st) != 0 || st.st_size == 0) return 0;
  const auto have = static_cast<uint64_t>(st.st_size);
  const auto record = read_part_record(transfer.record_path);
  if (record && record->url == transfer.url && (!record->total || have < *record->total)) {
    transfer.part = PartState{have, record->total, record->validator};
  }
  // Else another URL's .part (names follow the input's order), or one nobody recorded (another
  // program's, an older taskpool's): its bytes cannot be vouched for, and the body starts it over.
  return 0;
}

void FetchExecutor::setup(Transfer& transfer) {
  const CurlApi& curl = curl_api();
  CURL* easy = transfer.easy;
  using DataCallback = size_t (*)(char*, size_t, size_t, void*);
  curl.easy_setopt(easy, CURLOPT_URL, transfer.url.c_str());
  curl.easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
  curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, static_cast<DataCallback>(on_transfer_body));
  curl.easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl.easy_setopt(easy, CURLOPT_HEADERFUNCTION, static_cast<DataCallback>(on_transfer_header));
  curl.easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error);
  curl.easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl.easy_setopt(easy, CURLOPT_MAXREDIRS, options_.max_redirects);
  curl.easy_setopt(easy, CURLOPT_FAILONERROR, 1L);
  curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // The proxy's "200 Connection established" is not the server's answer (libcurl takes the
  // proxy from https_proxy, http_proxy, all_proxy and no_proxy, as curl does).
  curl.easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  if (!options_.ca_file.empty()) curl.easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  set_transfer_limits(easy, options_);
  if (transfer.part.have > 0) {
    // A Range header rather than CURLOPT_RESUME_FROM, which fails when the server answers with
    // the whole file: taking that answer costs no second request. If-Range makes a server
    // whose file changed send the new one whole.
    transfer.range = std::to_string(transfer.part.have) + "-";
    curl.easy_setopt(easy, CURLOPT_RANGE, transfer.range.c_str());
    if (!transfer.part.validator.empty()) {
      transfer.headers =
          curl.slist_append(nullptr, ("If-Range: " + transfer.part.validator).c_str());
      curl.easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
    }
  }
}

bool FetchExecutor::start_over(Transfer& transfer) {
  const CurlApi& curl = curl_api();
  transfer.restarted = true;
  if (transfer.fd.valid() && ftruncate(transfer.fd.get(), 0) != 0) return false;
  ::unlink(transfer.record_path.c_str());
  curl.easy_setopt(transfer.easy, CURLOPT_RANGE, static_cast<const char*>(nullptr));
  curl.easy_setopt(transfer.easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  if (curl.multi_add_handle(multi_of(multi_), transfer.easy) != CURLM_OK) return false;
  // Callbacks come only from multi_socket_action, after this.
  transfer.part = PartState();
  transfer.head = ResponseHead();
  transfer.judged = false;
  transfer.refused.reset();
  transfer.holds_body = false;
  transfer.body.clear();
  transfer.total.reset();
  transfer.retry_after.reset();
  transfer.completion.detail.stdout_bytes = 0;
  return true;
}

void FetchExecutor::finish(Transfer& transfer, int code) {
  long http_status = 0;
  curl_api().easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &http_status);
  Completion& completion = transfer.completion;
  completion.detail.http_status = static_cast<int>(http_status);
  // An empty body (a 204, a 200 of an empty file) is judged once the transfer has ended.
  if (code == CURLE_OK && !transfer.judged && !accept_response(transfer, 0))
    code = CURLE_WRITE_ERROR;
  // 416: the .part is not a prefix the server can continue (it may be whole, or stale).
  const bool range_refused =
      transfer.part.have > 0 &&
      (code == CURLE_RANGE_ERROR || (code == CURLE_HTTP_RETURNED_ERROR && http_status == 416));
  const bool starts_over =
      range_refused || (transfer.refused && transfer.refused->kind == Verdict::Kind::kStartOver);
  if (starts_over && !transfer.restarted && start_over(transfer)) return;
  transfer.fd.reset();
  if (code == CURLE_OK && transfer.holds_body &&
      transfer.body.size() == transfer.total.value_or(0)) {
    return hand_to_writer(transfer);
  }
  end(transfer, code);
}

void FetchExecutor::hand_to_writer(Transfer& transfer) {
  if (!writer_) writer_ = std::make_unique<PartWriter>();
  transfer.writing = true;
  writer_->write(PartWriter::File{
      transfer.completion.worker, transfer.url, transfer.part_path, transfer.record_path,
      transfer.final_path, std::move(transfer.body), transfer.clean_slate, options_.overwrite});
}

void FetchExecutor::collect_written() {
  if (!writer_) return;
  for (PartWriter::Written& written : writer_->take()) {
    spare_bodies_.push_back(std::move(written.buffer));
    const auto it = transfers_.find(written.worker);
    if (it == transfers_.end()) continue;
    Transfer& transfer = *it->second;
    transfer.writing = false;
    transfer.holds_body = false;
    transfer.record_kept = false;  // the writer removed it
    transfer.write_error = written.write_error;
    if (written.rename_error != 0) {
      renamed_not(transfer, written.rename_error);
    } else {
      transfer.renamed = written.write_error == 0;
    }
    end(transfer, written.write_error == 0 ? CURLE_OK : CURLE_WRITE_ERROR);
  }
}

void FetchExecutor::end(Transfer& transfer, int code) {
  Completion& completion = transfer.completion;
  const long http_status = completion.detail.http_status;
  completion.end = steady_now();
  if (code == CURLE_OK) {
    complete(transfer);
  } else {
    fail(transfer, code, http_status);
  }
  ended_.received += completion.detail.stdout_bytes;
  if (completion.succeeded()) {
    const uint64_t size = transfer.part.have + completion.detail.stdout_bytes;
    ++ended_.finished;
    ++ended_.files_sized;
    ended_.bytes_sized += size;
    ended_.bytes_have += size;
  }
  const WorkerId worker = completion.worker;
  ready_.push_back(std::move(completion));
  transfers_.erase(worker);
}

FetchProgress FetchExecutor::progress() const {
  FetchProgress p = ended_;
  for (const auto& [worker, transfer] : transfers_) {
    const uint64_t received = transfer->completion.detail.stdout_bytes;
    p.received += received;
    if (!transfer->total) continue;
    ++p.files_sized;
    p.bytes_sized += *transfer->total;
    p.bytes_have += std::min(*transfer->total, transfer->part.have + received);
  }
  return p;
}

void FetchExecutor::complete(Transfer& transfer) {
  Completion& completion = transfer.completion;
  // What the .part holds: what it held when continued, and every byte written to it since.
  const uint64_t held = transfer.part.have + completion.detail.stdout_bytes;
  if (transfer.total && held != *transfer.total) {
    completion.exit_status = CURLE_PARTIAL_FILE;
    completion.error = transfer.url + ": " + transfer.part_path + " holds " + std::to_string(held) +
                       " bytes of " + std::to_string(*transfer.total);
    return;
  }
  if (transfer.renamed || completion.exit_status != 0) return;  // by the PartWriter
  // The record goes first: a .part without one is started over, never taken for another's.
  if (transfer.record_kept) ::unlink(transfer.record_path.c_str());
  const int error = rename_file(transfer.part_path, transfer.final_path, options_.overwrite);
  if (error != 0) renamed_not(transfer, error);
}

void FetchExecutor::renamed_not(Transfer& transfer, int error) {
  struct stat st;
  const bool found = error == EEXIST && lstat(transfer.final_path.c_str(), &st) == 0;
  if (found && !S_ISDIR(st.st_mode)) {
    // A file of that name appeared while it downloaded (another program's): not replaced.
    remove_part(transfer);
    transfer.renamed = true;
    return judge_existing(transfer, options_.resume, false);
  }
  // A directory in the way (or whatever was there gone again): the .part stays, as for any
  // failed rename.
  rename_failed(transfer, found ? EISDIR : error);
}

void FetchExecutor::rename_failed(Transfer& transfer, int error) {
  Completion& completion = transfer.completion;
  completion.exit_status = CURLE_WRITE_ERROR;
  completion.permanent = true;
  completion.error = transfer.url + ": cannot rename " + transfer.part_path + " to " +
                     transfer.final_path + ": " + std::strerror(error);
}

void FetchExecutor::fail(Transfer& transfer, int code, long http_status) {
  const CurlApi& curl = curl_api();
  Completion& completion = transfer.completion;
  std::string reason =
      transfer.error[0] != '\0' ? transfer.error : curl.easy_strerror(static_cast<CURLcode>(code));
  completion.permanent = is_permanent(code, http_status);
  if (transfer.refused) {
    // 8, "weird server reply": the answer holds no file, and would not next time either.
    const bool refused = transfer.refused->kind == Verdict::Kind::kRefuse;
    code = refused ? CURLE_WEIRD_SERVER_REPLY : CURLE_RANGE_ERROR;
    completion.permanent = refused;
    reason = transfer.refused->reason;
    if (refused) remove_part(transfer);
  } else if (transfer.write_error != 0) {
    reason = "cannot write " + transfer.part_path + ": " + std::strerror(transfer.write_error);
  } else if (code == CURLE_HTTP_RETURNED_ERROR && http_status > 0) {
    reason = "HTTP " + std::to_string(http_status);  // libcurl: "The requested URL returned..."
  }
  // An empty .part holds nothing to continue from.
  struct stat st;
  if (::stat(transfer.part_path.c_str(), &st) == 0 && st.st_size == 0) remove_part(transfer);
  completion.exit_status = code;
  completion.retry_after = transfer.retry_after;
  completion.timed_out = code == CURLE_OPERATION_TIMEDOUT;
  completion.error = transfer.url + ": " + reason;
}

void FetchExecutor::collect_done() {
  const CurlApi& curl = curl_api();
  int left = 0;
  while (CURLMsg* message = curl.multi_info_read(multi_of(multi_), &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const int code = message->data.result;
    Transfer* transfer = nullptr;
    curl.easy_getinfo(easy, CURLINFO_PRIVATE, &transfer);
    curl.multi_remove_handle(multi_of(multi_), easy);
    if (transfer != nullptr) finish(*transfer, code);
  }
}

void FetchExecutor::drive(int socket, int events) {
  int running = 0;
  curl_api().multi_socket_action(multi_of(multi_), socket, events, &running);
}

void FetchExecutor::cancel(WorkerId worker, CancelMode mode) {
  const auto it = transfers_.find(worker);
  if (it == transfers_.end()) return;
  Transfer& transfer = *it->second;
  if (transfer.writing) return;  // too late: it completes once written
  curl_api().multi_remove_handle(multi_of(multi_), transfer.easy);
  transfer.completion.signal = mode == CancelMode::kKill ? 9 : 15;
  transfer.completion.end = steady_now();
  transfer.completion.error =
      transfer.url + ": stopped; " + transfer.part_path + " is kept for --continue";
  ready_.push_back(std::move(transfer.completion));
  transfers_.erase(it);
}

// One round of ppoll over the wake-up, libcurl's sockets and the caller's descriptors. Returns
// whether wait() is to return.
bool FetchExecutor::poll_once(TimePoint deadline, std::span<pollfd> also_watch) {
  fds_.clear();
  fds_.push_back({wake_.get(), POLLIN, 0});
  fds_.push_back({-1, POLLIN, 0});  // the writer's wake-up, when it is to wake this sleep
  const size_t first_socket = fds_.size();
  for (const auto& [socket, events] : sockets_) fds_.push_back({socket, events, 0});
  const size_t first_watched = fds_.size();
  for (const pollfd& fd : also_watch) fds_.push_back({fd.fd, fd.events, 0});
  const TimePoint until = std::min(deadline, timer_);
  const timespec timeout = timespec_until(until);
  if (writer_ && !writer_->will_sleep()) {
    collect_written();  // written meanwhile: no sleep
    return !ready_.empty();
  }
  if (writer_) fds_[1].fd = writer_->wake_fd();
  const int n =
      ppoll(fds_.data(), fds_.size(), until == kNever ? nullptr : &timeout, &original_mask_);
  if (writer_) writer_->awake(n > 0 && fds_[1].revents != 0);
  if (n < 0) {
    if (errno == EINTR) return true;  // a signal: the scheduler looks at it
    throw system_error("ppoll");
  }
  bool watched = false;
  for (size_t i = 0; i < also_watch.size(); ++i) {
    also_watch[i].revents = fds_[first_watched + i].revents;
    watched = watched || also_watch[i].revents != 0;
  }
  if (fds_[0].revents != 0) {
    wake_.drain();
    collect_done();
    return true;
  }
  for (size_t i = first_socket; i < first_watched; ++i) {
    if (fds_[i].revents == 0) continue;
    int events = 0;
    if (fds_[i].revents & (POLLIN | POLLHUP)) events |= CURL_CSELECT_IN;
    if (fds_[i].revents & POLLOUT) events |= CURL_CSELECT_OUT;
    if (fds_[i].revents & (POLLERR | POLLNVAL)) events |= CURL_CSELECT_ERR;
    drive(fds_[i].fd, events);
  }
  if (watched) collect_done();
  return watched || !ready_.empty();
}

WaitResult FetchExecutor::wait(TimePoint deadline, std::span<pollfd> also_watch) {
  for (pollfd& fd : also_watch) fd.revents = 0;
  while (true) {
    if (timer_ <= steady_now()) {
      timer_ = kNever;
      drive(CURL_SOCKET_TIMEOUT, 0);
    }
    collect_done();
    collect_written();
    if (!ready_.empty()) break;
    if (steady_now() >= deadline) break;
    if (poll_once(deadline, also_watch)) break;
  }
  return WaitResult{std::exchange(ready_, {}), {}, 0};
}

void FetchExecutor::wake() { wake_.notify(); }

}  // namespace taskpool
