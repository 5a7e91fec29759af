// One download in flight (FetchExecutor's): its libcurl handle, its .part and record, the
// response as it arrives; and libcurl's callbacks that write its body and read its headers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "core/unique_fd.h"
#include "tasks/curl_api.h"
#include "tasks/fetch_executor.h"
#include "tasks/fetch_response.h"
#include "tasks/part_record.h"

namespace taskpool {

struct FetchExecutor::Transfer {
  FetchExecutor* owner = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;  // If-Range
  UniqueFd fd;
  std::string url;
  std::string final_path;
  std::string part_path;
  std::string record_path;         // NAME.part.meta
  std::string range;               // the Range request's value, kept alive for libcurl
  PartState part;                  // what the request asks for: part.have > 0 continues the .part
  ResponseHead head;               // the response being received
  bool judged = false;             // the response whose body arrives was judged (judge_response)
  std::optional<Verdict> refused;  // the judgement that stopped the transfer
  std::optional<uint64_t> total;   // the file's size, when the server said it
  bool restarted = false;
  // A first attempt in a directory that held nothing when the run began (fresh_directory): no
  // earlier run left NAME, NAME.part or NAME.part.meta.
  bool clean_slate = false;
  // NAME.part.meta may be there: set until the .part is begun without one.
  bool record_kept = true;
  // A body that comes whole in its first piece may be kept here and written by the PartWriter.
  bool may_hold_body = false;
  bool holds_body = false;  // it is: body has it, and nothing of it is on disk yet
  bool writing = false;     // body is with the PartWriter: the download ends when it is on disk
  // NAME is settled: the PartWriter put it on disk, or a file of that name was found there
  // (FetchExecutor::renamed_not); nothing is left to rename.
  bool renamed = false;
  std::string body;
  int write_error = 0;
  std::optional<Duration> retry_after;
  Completion completion;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) owner->give_back_easy(easy);  // reset: it no longer points at headers
    if (headers != nullptr) curl_api().slist_free_all(headers);
  }
};

// Judges the response whose body arrives now (or, for an empty body, has ended) and readies the
// .part for it. False: the transfer stops, and transfer.refused (or write_error) says why.
// `first_piece`: the size of the body's first piece (0 for an empty body).
bool accept_response(FetchExecutor::Transfer& transfer, size_t first_piece);
// CURLOPT_WRITEFUNCTION: the body, into the .part (judged and readied at its first byte).
size_t on_transfer_body(char* data, size_t size, size_t count, void* user);
// CURLOPT_HEADERFUNCTION: the header lines of each response.
size_t on_transfer_header(char* data, size_t size, size_t count, void* user);
// The options' time limits, rate limit and receive buffer, on a transfer's handle.
void set_transfer_limits(CURL* easy, const FetchOptions& options);
// NAME is there, and this run did not make it: with --continue (`resume`), a file that is this
// URL's download, or says nothing of its origin, counts as done; else, or when NAME is a
// `directory`, the attempt fails, permanent (its completion says so).
void judge_existing(FetchExecutor::Transfer& transfer, bool resume, bool directory);
// Removes NAME.part and its record.
void remove_part(const FetchExecutor::Transfer& transfer);

// Retry-After: a number of seconds or an HTTP date.
std::optional<Duration> parse_retry_after(std::string_view value);
// Failures that trying again cannot mend (curl's `code`, the last HTTP status).
bool is_permanent(int code, long http_status);

}  // namespace taskpool
