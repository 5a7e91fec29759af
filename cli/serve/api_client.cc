#include "cli/serve/api_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "tasks/curl_api.h"

namespace taskpool {

namespace {

constexpr Duration kLongestRetryAfter = std::chrono::seconds(60);
constexpr Duration kLongestUnreachableWait = std::chrono::seconds(30);

size_t append_body(char* data, size_t size, size_t count, void* reply) {
  static_cast<ApiReply*>(reply)->body.append(data, size * count);
  return size * count;
}

size_t append_header(char* data, size_t size, size_t count, void* reply) {
  const std::string_view line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    static_cast<ApiReply*>(reply)->headers.emplace_back(std::move(name), std::string(value));
  } else if (line.starts_with("HTTP/")) {
    // A new response (after a 100 Continue): its headers alone count.
    static_cast<ApiReply*>(reply)->headers.clear();
  }
  return size * count;
}

// How long a 429 asks to wait: its Retry-After (seconds), within [1 s, 60 s].
Duration retry_after(const ApiReply& reply) {
  Duration wait = std::chrono::seconds(1);
  if (const auto header = reply.header("retry-after")) {
    try {
      wait = std::chrono::seconds(std::stol(*header));
    } catch (const std::exception&) {
      // An HTTP date, or nonsense: the shortest wait.
    }
  }
  return std::clamp<Duration>(wait, std::chrono::seconds(1), kLongestRetryAfter);
}

long milliseconds(Duration duration) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

std::string seconds_text(Duration duration) {
  return fmt::format("{:.0f} s", std::chrono::duration<double>(duration).count());
}

}  // namespace

std::optional<std::string> ApiReply::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return std::nullopt;
}

std::string ApiReply::error() const {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return json["error"].get<std::string>();
  }
  std::string text = body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text.empty() ? "no message" : text;
}

std::string server_url(std::string_view text) {
  std::string url(text);
  if (url.find("://") == std::string::npos) url = "http://" + url;
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    throw Error(fmt::format("'{}' is not an http:// or https:// URL of a taskpool server", text));
  }
  while (url.ends_with('/')) url.pop_back();
  if (url.ends_with("://")) throw Error(fmt::format("'{}' names no host", text));
  return url;
}

ApiClient::ApiClient(Options options) : options_(std::move(options)) {
  options_.server = server_url(options_.server);
  if (!options_.sleep) options_.sleep = [](Duration d) { std::this_thread::sleep_for(d); };
  curl_ = curl_api().easy_init();
  if (curl_ == nullptr) throw Error("libcurl could not make a handle");
}

ApiClient::~ApiClient() {
  if (curl_ != nullptr) curl_api().easy_cleanup(static_cast<CURL*>(curl_));
}

std::optional<ApiReply> ApiClient::perform(std::string_view method, std::string_view target,
                                           std::string_view body,
                                           const std::vector<std::string>& headers,
                                           std::string& failure, bool& unreachable) {
  const CurlApi& api = curl_api();
  CURL* curl = static_cast<CURL*>(curl_);
  api.easy_reset(curl);
  ApiReply reply;
  const std::string url = options_.server + std::string(target);
  const std::string verb(method);
  curl_slist* list = nullptr;
  std::vector<std::string> all = headers;
  if (!options_.token.empty()) all.push_back("Authorization: Bearer " + options_.token);
  if (!body.empty()) all.emplace_back("Content-Type: application/json");
  all.emplace_back("Expect:");  // no 100-continue round trip for a large submit
  for (const std::string& header : all) list = api.slist_append(list, header.c_str());
  api.easy_setopt(curl, CURLOPT_URL, url.c_str());
  api.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (method == "POST" || !body.empty()) {
    api.easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_header);
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
  api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (milliseconds(options_.connect_timeout)));
  api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, (milliseconds(options_.timeout)));
  // The token goes to the server named, never to where a redirect would lead.
  api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  const CURLcode code = api.easy_perform(curl);
  api.slist_free_all(list);
  if (code != CURLE_OK) {
    failure = api.easy_strerror(code);
    unreachable = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                  code == CURLE_OPERATION_TIMEDOUT || code == CURLE_GOT_NOTHING ||
                  code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR;
    return std::nullopt;
  }
  api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

ApiReply ApiClient::call(std::string_view method, std::string_view target, std::string_view body,
                         const std::vector<std::string>& headers) {
  Duration waited{0};
  Duration unreachable_wait = std::chrono::seconds(1);
  for (int tries = 1;; ++tries) {
    std::string failure;
    bool unreachable = false;
    std::optional<ApiReply> reply = perform(method, target, body, headers, failure, unreachable);
    const bool more = tries <= options_.retries;
    if (!reply) {
      if (!unreachable || !options_.retry_unreachable || !more) {
        throw Error(fmt::format(
            "cannot reach the server at {}: {}{}{}", options_.server, failure,
            tries > 1 ? fmt::format(" ({} tries over {})", tries, seconds_text(waited)) : "",
            unreachable ? " (is taskpool serve running there? --server or "
                          "TASKPOOL_SERVER names another)"
                        : ""));
      }
      options_.sleep(unreachable_wait);
      waited += unreachable_wait;
      unreachable_wait = std::min<Duration>(unreachable_wait * 2, kLongestUnreachableWait);
      continue;
    }
    if (reply->status == 401) {
      throw Error(fmt::format(
          "the server at {} {} (401): give its token file with --token-file or "
          "TASKPOOL_TOKEN_FILE",
          options_.server, options_.token.empty() ? "asks for a token" : "refused the token"));
    }
    if (reply->status != 429) return std::move(*reply);
    if (!more) {
      throw Error(
          fmt::format("the server at {} is full: {} (429, {} tries over {}); try again "
                      "later, or give the group a larger queue_size",
                      options_.server, reply->error(), tries, seconds_text(waited)));
    }
    const Duration wait = retry_after(*reply);
    options_.sleep(wait);
    waited += wait;
  }
}

ApiReply ApiClient::expect_success(std::string_view method, std::string_view target,
                                   std::string_view body, const std::vector<std::string>& headers) {
  ApiReply reply = call(method, target, body, headers);
  if (reply.status < 200 || reply.status > 299) {
    throw Error(fmt::format("the server at {} says: {} (HTTP {})", options_.server, reply.error(),
                            reply.status));
  }
  return reply;
}

}  // namespace taskpool
