// A plain HTTP/1.1 client over a blocking socket, for the job server's tests: it sends exactly
// the bytes a test gives it (malformed, slow, oversized), and reads what comes back.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpool::testing {

// A response as read off the wire.
struct RawReply {
  int status = 0;  // 0: no response (the connection closed first)
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  std::string header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return "";
  }
};

class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  // False when the server has closed the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // What arrives within `timeout` (empty when nothing); `closed` says whether the server ended
  // the connection.
  std::string read_for(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd fd{fd_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        if (closed != nullptr) *closed = true;
        return out;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
    if (closed != nullptr) *closed = false;
    return out;
  }

  // Reads until what came holds `text` (or 20 s pass); returns all that came.
  std::string read_until(std::string_view text) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool closed = false;
    while (out.find(text) == std::string::npos && !closed &&
           std::chrono::steady_clock::now() < until) {
      out += read_for(std::chrono::milliseconds(20), &closed);
    }
    return out;
  }

  // Reads until the server closes the connection (or 20 s pass).
  std::string read_all() { return read_for(std::chrono::seconds(20)); }

  // Reads one whole response: headers, then Content-Length bytes of body (or to the end of the
  // connection without one). Chunked bodies are returned as sent.
  RawReply read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string data;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() < until) {
      data += read_for(std::chrono::milliseconds(50), &closed);
      const size_t head_end = data.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      RawReply reply = parse_head(data.substr(0, head_end));
      const std::string length = reply.header("content-length");
      if (length.empty()) {
        if (!closed) continue;
      } else if (data.size() < head_end + 4 + std::stoul(length)) {
        continue;
      }
      reply.body = data.substr(head_end + 4);
      return reply;
    }
    return {};
  }

 private:
  static RawReply parse_head(const std::string& head) {
    RawReply reply;
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() > 12) reply.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value = colon + 1;
      while (value < line.size() && line[value] == ' ') ++value;
      reply.headers.emplace_back(name, line.substr(value));
    }
    return reply;
  }

  int fd_;
  bool connected_ = false;
};

// One request on a connection of its own.
inline RawReply http_exchange(uint16_t port, const std::string& method, const std::string& target,
                              const std::string& body = {}, const std::string& headers = {}) {
  RawClient client(port);
  REQUIRE(client.connected());
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers;
  if (!body.empty() || method == "POST") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "Connection: close\r\n\r\n" + body;
  REQUIRE(client.send(request));
  return client.read_reply();
}

}  // namespace taskpool::testing
