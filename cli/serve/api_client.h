// The job server's API as its clients speak it: one HTTP request at a time over libcurl (loaded
// at run time, tasks/curl_api.h), with the bearer token, and the retries a full queue asks for.
// Every failure is an Error whose message names the server and the problem.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace taskpool {

// An answer of the server, whatever its status.
struct ApiReply {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case

  std::optional<std::string> header(std::string_view lower_case_name) const;
  // The "error" of a JSON error body, or the body itself.
  std::string error() const;
};

// Owns one libcurl handle (its connection is kept between requests). Not thread-safe.
class ApiClient {
 public:
  struct Options {
    std::string server = "http://127.0.0.1:8080";  // a URL; "HOST:PORT" means http://HOST:PORT
    std::string token;  // sent as "Authorization: Bearer TOKEN" when not empty
    // Tries after the first when the server answers 429 (waiting its Retry-After, 1 s at least,
    // 60 s at most) or cannot be reached (waiting 1 s, 2 s, 4 s ... 30 s at most).
    int retries = 5;
    bool retry_unreachable = false;
    Duration connect_timeout = std::chrono::seconds(10);
    Duration timeout = std::chrono::seconds(120);  // a whole request
    std::function<void(Duration)> sleep;           // default: the thread sleeps
  };

  // Throws Error when libcurl cannot be loaded, or `options.server` is not an http(s) URL.
  explicit ApiClient(Options options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const std::string& server() const { return options_.server; }

  // Sends the request and returns the server's answer, 2xx or not, but for these, which throw
  // Error naming the server: it cannot be reached (after the retries), it refuses the token
  // (401), its queue stays full (429 after the retries).
  ApiReply call(std::string_view method, std::string_view target, std::string_view body = {},
                const std::vector<std::string>& headers = {});

  // call(), and an Error naming the server and its message unless the status is 2xx.
  ApiReply expect_success(std::string_view method, std::string_view target,
                          std::string_view body = {}, const std::vector<std::string>& headers = {});

 private:
  // One try: the reply, or the libcurl error of a request that did not get one.
  std::optional<ApiReply> perform(std::string_view method, std::string_view target,
                                  std::string_view body, const std::vector<std::string>& headers,
                                  std::string& failure, bool& unreachable);

  Options options_;
  void* curl_ = nullptr;  // a CURL*: curl.h stays in api_client.cc
};

// `text` as the server's base URL: "HOST:PORT" gets http://, a trailing '/' goes. Throws Error
// naming `text` when it is not http(s).
std::string server_url(std::string_view text);

}  // namespace taskpool
