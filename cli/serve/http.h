// The job server's HTTP layer: libmicrohttpd without a thread of its own. The caller's loop polls
// poll_fd() with the timeout of next_deadline() beside its own descriptors, and calls run()
// when it is ready or the deadline comes; requests reach a handler as plain values, and a
// response can be given at once or later (the connection waits, suspended, meanwhile).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace taskpool {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A request, fully received.
struct Request {
  uint64_t id = 0;  // unique while the server lives
  std::string method;
  std::string path;  // decoded, without the query
  Headers query;     // decoded, in order
  Headers headers;   // names in lower case, in order
  std::string body;

  // The first header or query parameter of that name, if any.
  std::optional<std::string> header(std::string_view lower_case_name) const;
  std::optional<std::string> parameter(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
  // An event stream (text/event-stream): `body` is its first bytes, HttpServer::push() sends
  // more, until HttpServer::end() or the client goes.
  bool stream = false;
};

// Called from the loop's thread, inside HttpServer::run().
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Returns the response, or nothing to give it later with HttpServer::answer().
  virtual std::optional<Response> handle(const Request& request) = 0;
  // A request to be answered later, or a stream, is over: its client went away. Not called for
  // requests answered at once, nor while the server is destroyed.
  virtual void closed(uint64_t /*request_id*/) {}
};

// Where later responses and stream data go: the HTTP server (a fake in tests).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The response to request `id`, whose handle() returned nothing. Ignored when its client
  // went away already (closed() was called).
  virtual void answer(uint64_t id, Response response) = 0;
  // Sends `data` on stream `id`; false when the stream is over (or was ended: its client reads
  // too slowly).
  virtual bool push(uint64_t id, std::string_view data) = 0;
  // Ends stream `id` once what was pushed is sent.
  virtual void end(uint64_t id) = 0;
};

struct HttpLimits {
  size_t max_body = size_t{8} << 20;                 // a larger body gets 413
  size_t max_header = size_t{16} << 10;              // the request line and headers; larger: 431
  unsigned max_connections = 256;                    // more are closed as they come
  Duration request_time = std::chrono::seconds(10);  // to send a whole request, however slowly
  unsigned idle_seconds = 60;  // a connection with no traffic at all this long is closed
  size_t max_stream_buffer = size_t{1} << 20;     // a stream whose client reads slower is ended
  Duration keepalive = std::chrono::seconds(15);  // a comment on idle streams, to find dead ones
};

// Where to listen: HOST:PORT, HOST an IPv4 address, [IPv6] or localhost; PORT 0 picks one.
struct ListenAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool loopback = false;  // 127.0.0.0/8 or ::1: reachable from this machine alone
  std::string text;
};
// Throws Error saying what is wrong with `text`.
ListenAddress parse_listen_address(std::string_view text);

// Owns the listening socket and every connection. Not thread-safe: one thread (the loop's)
// calls everything. REQUIRES: the handler outlives the server.
class HttpServer final : public ResponseSink {
 public:
  // Listens on `address`. Throws Error naming the address when it cannot (in use, not ours).
  HttpServer(const ListenAddress& address, HttpHandler& handler, const HttpLimits& limits);
  ~HttpServer() override;  // answers requests still waiting with 503, ends the streams
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  // Readable when run() has work: poll it for POLLIN.
  int poll_fd() const { return poll_fd_; }
  // When run() must be called even if poll_fd() stays quiet: a time-out, a cut-off; or at once
  // (TimePoint::min(), before any now) for a resumed connection, or one that libmicrohttpd serves
  // again before its socket is back in the poll set. kNever when nothing is due.
  TimePoint next_deadline() const;
  // Reads, handles and writes what is ready; never blocks.
  void run();

  void answer(uint64_t id, Response response) override;
  // A stream whose unsent data would pass HttpLimits::max_stream_buffer is ended.
  bool push(uint64_t id, std::string_view data) override;
  void end(uint64_t id) override;

  size_t connections() const { return connections_.size(); }
  // Connections cut off for sending their request too slowly, since the start.
  uint64_t cut_off() const { return cut_off_; }

 private:
  struct Connection;
  struct Exchange;

  friend struct HttpCallbacks;  // libmicrohttpd's callbacks, in http.cc

  bool start_exchange(MHD_Connection* connection, void** request_context);
  bool receive(Exchange& exchange, const char* url, const char* method, const char* data,
               size_t* size);
  bool respond(Exchange& exchange, const Response& response);
  Request make_request(const Exchange& exchange, const char* url, const char* method) const;
  void resume(Exchange& exchange);
  void send_keepalives(TimePoint now);

  HttpHandler& handler_;
  HttpLimits limits_;
  MHD_Daemon* daemon_ = nullptr;
  int poll_fd_ = -1;
  uint16_t port_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Exchange*> exchanges_;
  std::set<Connection*> connections_;
  bool resumed_ = false;
  bool stopping_ = false;
  TimePoint next_keepalive_ = kNever;
  uint64_t cut_off_ = 0;
};

}  // namespace taskpool
