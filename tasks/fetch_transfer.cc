#include "tasks/fetch_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "core/file_io.h"

namespace taskpool {
namespace {

bool starts_with_no_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// The body starts the .part over: the .part is made (only now: a transfer that gets no answer
// makes no file) or emptied, and its record says whose it is, before its first byte is written,
// so a .part never holds bytes its record does not describe. A body that comes whole in its
// first piece (most small files) needs no record: its .part is complete the moment it is written
// and renamed the next, and a .part without a record is never continued, only redone.
bool begin_part(FetchExecutor::Transfer& transfer, size_t first_piece) {
  if (!transfer.fd.valid()) {
    // O_NOFOLLOW: a NAME.part that is a symbolic link must not send the data somewhere else.
    transfer.fd.reset(::open(transfer.part_path.c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666));
  } else if (ftruncate(transfer.fd.get(), 0) != 0) {
    transfer.fd.reset();
  }
  if (!transfer.fd.valid()) {
    transfer.write_error = errno;
    return false;
  }
  transfer.part = PartState();
  // A clean slate has none from an earlier run, and a restart's own is gone (start_over).
  if (!transfer.clean_slate) ::unlink(transfer.record_path.c_str());
  transfer.record_kept = !transfer.total || *transfer.total != first_piece;
  if (transfer.record_kept) {
    // Without a record (a file system that refuses it) the .part is never continued, only redone.
    write_part_record(transfer.record_path,
                      PartRecord{transfer.url, transfer.head.validator(), transfer.total});
  }
  set_download_origin(transfer.fd.get(), transfer.url);
  return true;
}

}  // namespace

bool accept_response(FetchExecutor::Transfer& transfer, size_t first_piece) {
  transfer.judged = true;
  Verdict verdict = judge_response(transfer.head, transfer.part);
  transfer.total = verdict.total;
  switch (verdict.kind) {
    case Verdict::Kind::kAppend:
      return true;
    case Verdict::Kind::kWhole:
      if (transfer.may_hold_body && first_piece > 0 && transfer.total == first_piece) {
        // Whole in this piece, and no .part of it open: the PartWriter writes it, once it ended.
        transfer.part = PartState();
        transfer.holds_body = true;
        return true;
      }
      return begin_part(transfer, first_piece);
    default:
      transfer.refused = std::move(verdict);
      return false;
  }
}

std::optional<Duration> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  long seconds = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && ptr == value.data() + value.size()) {
    return std::chrono::seconds(std::max(0L, seconds));
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  const time_t when = timegm(&tm);
  const time_t current = std::time(nullptr);
  return std::chrono::seconds(when > current ? when - current : 0);
}

// Failures that trying again cannot mend. Everything else (connection problems, timeouts, short
// bodies, 408, 429 and 5xx answers) may go better next time.
bool is_permanent(int code, long http_status) {
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    return http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429;
  }
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_WRITE_ERROR:
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_REMOTE_FILE_NOT_FOUND:
      return true;
    default:
      return false;
  }
}

size_t on_transfer_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<FetchExecutor::Transfer*>(user);
  const size_t total = size * count;
  if (!transfer->judged && !accept_response(*transfer, total)) return 0;  // CURLE_WRITE_ERROR
  if (transfer->holds_body) {
    transfer->body.append(data, total);
    transfer->completion.detail.stdout_bytes += total;
    return total;
  }
  transfer->write_error = write_to_end(transfer->fd.get(), std::string_view(data, total));
  if (transfer->write_error != 0) return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  transfer->completion.detail.stdout_bytes += total;
  return total;
}

// Every response's header lines come here (a proxy's answer to CONNECT does not: it is
// suppressed); ResponseHead keeps the last response's, which is the one whose body arrives.
size_t on_transfer_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<FetchExecutor::Transfer*>(user);
  const std::string_view line(data, size * count);
  if (transfer->judged) return size * count;  // trailers, after the body
  if (line.starts_with("HTTP/")) {
    transfer->retry_after.reset();  // a new response (after a redirect)
  } else if (starts_with_no_case(line, "retry-after:")) {
    transfer->retry_after = parse_retry_after(line.substr(12));
  }
  transfer->head.add(line);
  return size * count;
}

void set_transfer_limits(CURL* easy, const FetchOptions& options) {
  const CurlApi& curl = curl_api();
  const auto milliseconds = [](Duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  if (options.connect_timeout > Duration::zero()) {
    curl.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options.connect_timeout));
  }
  if (options.timeout > Duration::zero()) {
    curl.easy_setopt(easy, CURLOPT_TIMEOUT_MS, milliseconds(options.timeout));
  }
  if (options.stall_timeout > Duration::zero()) {
    // Below 1 byte a second for the whole time: nothing arrives. libcurl counts whole seconds.
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(options.stall_timeout).count();
    curl.easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl.easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(seconds));
  }
  if (options.limit_rate == 0) {
    // libcurl's largest reads (its default is 16 KiB): fewer calls into it and fewer, larger
    // writes for large files. Against 256 KiB, 20 files of 50 MiB from nginx on 127.0.0.1 came
    // 18% sooner with 20% less system time. libcurl holds the buffer only while a transfer runs.
    curl.easy_setopt(easy, CURLOPT_BUFFERSIZE, 512L * 1024);
  } else {
    curl.easy_setopt(easy, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(options.limit_rate));
    // libcurl reads up to 100 buffers in a row before it looks at the rate again; small buffers
    // keep that burst near half a second's worth, so the limit holds for small files too.
    const long buffer = std::clamp<long long>(options.limit_rate / 200, 1024, CURL_MAX_READ_SIZE);
    curl.easy_setopt(easy, CURLOPT_BUFFERSIZE, buffer);
  }
}

void judge_existing(FetchExecutor::Transfer& transfer, bool resume, bool directory) {
  // A file another URL's download left (its origin says so) is not this URL's to keep.
  const auto origin = resume && !directory ? download_origin(transfer.final_path) : std::nullopt;
  if (resume && !directory && (!origin || *origin == transfer.url)) return;  // downloaded: done
  const std::string why = directory ? " is a directory"
                          : origin
                              ? " holds the download of " + *origin + " (--overwrite replaces it)"
                              : " exists (--overwrite replaces it, --continue keeps it)";
  Completion& completion = transfer.completion;
  completion.exit_status = CURLE_WRITE_ERROR;
  completion.permanent = true;
  completion.error = transfer.url + ": " + transfer.final_path + why;
}

void remove_part(const FetchExecutor::Transfer& transfer) {
  ::unlink(transfer.part_path.c_str());
  ::unlink(transfer.record_path.c_str());
}

}  // namespace taskpool
