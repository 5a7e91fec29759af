#include "cli/serve/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "core/error.h"

namespace taskpool {

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

uint16_t parse_port(std::string_view port, std::string_view address_text) {
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535) {
    throw Error("'" + std::string(address_text) +
                "' has no port number (0 to 65535) after its ':'");
  }
  return static_cast<uint16_t>(number);
}

int listen_on(const ListenAddress& address) {
  const int family = address.address.ss_family;
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw system_error(address.text + ": cannot listen");
  const int on = 1;
  // A restarted daemon takes its port back at once, though the old connections linger.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.address), address.length) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    const Error error = system_error(address.text + ": cannot listen");
    close(fd);
    throw error;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    die_on_system_error("getsockname");
  }
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

MHD_Result collect(void* cls, MHD_ValueKind kind, const char* key, const char* value) {
  auto& out = *static_cast<Headers*>(cls);
  std::string name = key != nullptr ? key : "";
  if (kind == MHD_HEADER_KIND) name = lower(std::move(name));
  out.emplace_back(std::move(name), value != nullptr ? value : "");
  return MHD_YES;
}

std::optional<std::string> find_value(const Headers& values, std::string_view name) {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return std::nullopt;
}

Response error_response(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.body = "{\"error\":\"" + std::string(message) + "\"}\n";
  return response;
}

}  // namespace

std::optional<std::string> Request::header(std::string_view lower_case_name) const {
  return find_value(headers, lower_case_name);
}

std::optional<std::string> Request::parameter(std::string_view name) const {
  return find_value(query, name);
}

ListenAddress parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      throw Error("'" + std::string(text) + "' is not [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      throw Error("'" + std::string(text) + "' is not HOST:PORT (127.0.0.1:8080, [::1]:8080)");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  ListenAddress out;
  out.text = std::string(text);
  const uint16_t number = htons(parse_port(port, text));
  const std::string name = host == "localhost" ? "127.0.0.1" : std::string(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.address);
  if (inet_pton(AF_INET, name.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = number;
    out.length = sizeof(sockaddr_in);
    out.loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, name.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = number;
    out.length = sizeof(sockaddr_in6);
    out.loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  } else {
    throw Error("'" + std::string(host) + "' is not an IP address (nor localhost)");
  }
  return out;
}

// A client's connection: the time by which its request must be in.
struct HttpServer::Connection {
  int fd = -1;
  TimePoint deadline = kNever;
};

// One request and its response.
struct HttpServer::Exchange {
  enum class Phase { kReceiving, kWaiting, kStreaming, kDone };
  uint64_t id = 0;
  MHD_Connection* connection = nullptr;
  Connection* socket = nullptr;
  Phase phase = Phase::kReceiving;
  std::string body;
  bool too_large = false;
  bool suspended = false;
  std::optional<Response> answer;
  std::string stream;  // pushed, not sent yet: from stream_sent on
  size_t stream_sent = 0;
  bool stream_ended = false;
};

// libmicrohttpd calls these from MHD_run() (and MHD_stop_daemon()). No exception may cross
// them: libmicrohttpd is C.
struct HttpCallbacks {
  static MHD_Result request(void* cls, MHD_Connection* connection, const char* url,
                            const char* method, const char* /*version*/, const char* upload_data,
                            size_t* upload_data_size, void** request_context) {
    auto& server = *static_cast<HttpServer*>(cls);
    if (*request_context == nullptr) {
      return server.start_exchange(connection, request_context) ? MHD_YES : MHD_NO;
    }
    auto& exchange = *static_cast<HttpServer::Exchange*>(*request_context);
    return server.receive(exchange, url, method, upload_data, upload_data_size) ? MHD_YES : MHD_NO;
  }

  static void completed(void* cls, MHD_Connection* /*connection*/, void** request_context,
                        MHD_RequestTerminationCode /*code*/) {
    auto& server = *static_cast<HttpServer*>(cls);
    auto* exchange = static_cast<HttpServer::Exchange*>(*request_context);
    if (exchange == nullptr) return;
    *request_context = nullptr;
    server.exchanges_.erase(exchange->id);
    using Phase = HttpServer::Exchange::Phase;
    const bool known = exchange->phase == Phase::kWaiting || exchange->phase == Phase::kStreaming;
    if (known && !server.stopping_) {
      try {
        server.handler_.closed(exchange->id);
      } catch (...) {  // the handler's to report; the connection is gone either way
      }
    }
    // The next request on the connection has its own time to come in.
    if (exchange->socket != nullptr) {
      exchange->socket->deadline = std::chrono::steady_clock::now() + server.limits_.request_time;
    }
    delete exchange;
  }

  static void connection(void* cls, MHD_Connection* connection, void** socket_context,
                         MHD_ConnectionNotificationCode event) {
    auto& server = *static_cast<HttpServer*>(cls);
    if (event == MHD_CONNECTION_NOTIFY_STARTED) {
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      auto* socket = new HttpServer::Connection{
          info != nullptr ? info->connect_fd : -1,
          std::chrono::steady_clock::now() + server.limits_.request_time};
      server.connections_.insert(socket);
      *socket_context = socket;
      return;
    }
    auto* socket = static_cast<HttpServer::Connection*>(*socket_context);
    server.connections_.erase(socket);
    delete socket;
    *socket_context = nullptr;
  }

  // Past the limit a connection is closed as it comes, rather than left waiting in the listen
  // queue (where libmicrohttpd leaves it when at its own limit): its client knows at once.
  static MHD_Result accept(void* cls, const sockaddr* /*address*/, socklen_t /*length*/) {
    auto& server = *static_cast<HttpServer*>(cls);
    return server.connections_.size() < server.limits_.max_connections ? MHD_YES : MHD_NO;
  }

  static ssize_t stream_read(void* cls, uint64_t /*position*/, char* buffer, size_t max) {
    auto& exchange = *static_cast<HttpServer::Exchange*>(cls);
    const size_t left = exchange.stream.size() - exchange.stream_sent;
    if (left > 0) {
      const size_t n = std::min(left, max);
      std::memcpy(buffer, exchange.stream.data() + exchange.stream_sent, n);
      exchange.stream_sent += n;
      if (exchange.stream_sent == exchange.stream.size()) {
        exchange.stream.clear();
        exchange.stream_sent = 0;
      }
      return static_cast<ssize_t>(n);
    }
    if (exchange.stream_ended) return MHD_CONTENT_READER_END_OF_STREAM;
    // Nothing to send: the connection waits, out of the poll, until push() or end().
    exchange.suspended = true;
    MHD_suspend_connection(exchange.connection);
    return 0;
  }
};

HttpServer::HttpServer(const ListenAddress& address, HttpHandler& handler, const HttpLimits& limits)
    : handler_(handler), limits_(limits) {
  const int listen_fd = listen_on(address);
  port_ = bound_port(listen_fd);
  // Room for the request line and headers, and for the response's headers after them.
  const size_t memory = std::max<size_t>(limits_.max_header + (8 << 10), 16 << 10);
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (address.address.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  daemon_ =
      MHD_start_daemon(flags, 0, &HttpCallbacks::accept, this, &HttpCallbacks::request, this,
                       MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
                       limits_.max_connections + 16, MHD_OPTION_CONNECTION_TIMEOUT,
                       limits_.idle_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory,
                       MHD_OPTION_NOTIFY_COMPLETED, &HttpCallbacks::completed, this,
                       MHD_OPTION_NOTIFY_CONNECTION, &HttpCallbacks::connection, this,
                       // HTTP/1.1 without Host, spaces in the target: 400, as RFC 9112 has it.
                       MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    close(listen_fd);
    throw Error(address.text + ": the HTTP server (libmicrohttpd) failed to start");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  poll_fd_ = info != nullptr ? info->epoll_fd : -1;
  if (poll_fd_ < 0) {
    MHD_stop_daemon(daemon_);
    throw Error(address.text + ": libmicrohttpd was built without epoll");
  }
}

HttpServer::~HttpServer() {
  stopping_ = true;
  // libmicrohttpd must not stop with connections suspended: resume them, with an answer.
  for (auto& [id, exchange] : exchanges_) {
    if (exchange->phase == Exchange::Phase::kWaiting && !exchange->answer) {
      exchange->answer = error_response(503, "the server is stopping");
    }
    exchange->stream_ended = true;
    resume(*exchange);
  }
  MHD_run(daemon_);
  MHD_stop_daemon(daemon_);  // closes the listening socket and every connection
}

bool HttpServer::start_exchange(MHD_Connection* connection, void** request_context) {
  auto* exchange = new Exchange;
  exchange->id = next_id_++;
  exchange->connection = connection;
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info != nullptr) exchange->socket = static_cast<Connection*>(info->socket_context);
  exchanges_[exchange->id] = exchange;
  *request_context = exchange;
  // A body announced too large is refused before it is read (and 100-continue is not sent).
  const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
  uint64_t size = 0;
  if (length != nullptr &&
      std::from_chars(length, length + std::strlen(length), size).ec == std::errc() &&
      size > limits_.max_body) {
    exchange->too_large = true;
    return respond(*exchange, error_response(413, "the request body is larger than " +
                                                      std::to_string(limits_.max_body) + " bytes"));
  }
  return true;
}

bool HttpServer::receive(Exchange& exchange, const char* url, const char* method, const char* data,
                         size_t* size) {
  if (*size > 0) {
    // A body too large without saying so (chunked) is read to its end, or its time, unkept.
    if (exchange.body.size() + *size > limits_.max_body) {
      exchange.too_large = true;
      std::string().swap(exchange.body);
    } else if (!exchange.too_large) {
      exchange.body.append(data, *size);
    }
    *size = 0;
    return true;
  }
  if (exchange.phase == Exchange::Phase::kWaiting) {  // called again, at a later run
    if (exchange.answer) return respond(exchange, *exchange.answer);
    // Still nothing a run later: the connection waits out of the poll set, for answer().
    exchange.suspended = true;
    MHD_suspend_connection(exchange.connection);
    return true;
  }
  if (exchange.phase != Exchange::Phase::kReceiving) return true;
  if (exchange.socket != nullptr) exchange.socket->deadline = kNever;
  if (exchange.too_large) {
    return respond(exchange, error_response(413, "the request body is larger than " +
                                                     std::to_string(limits_.max_body) + " bytes"));
  }
  std::optional<Response> response;
  try {
    response = handler_.handle(make_request(exchange, url, method));
  } catch (...) {  // the handler answers its own errors: this is the last resort
    response = error_response(500, "internal error");
  }
  if (!response && exchange.answer) response = std::move(exchange.answer);
  if (response) return respond(exchange, *response);
  // Not suspended yet: libmicrohttpd calls again at its next run (it asks for one at once), and
  // most answers come before it, with the commit that ends the turn. Suspending costs an
  // epoll_ctl() each way and a read that finds nothing, a request.
  exchange.phase = Exchange::Phase::kWaiting;
  return true;
}

Request HttpServer::make_request(const Exchange& exchange, const char* url,
                                 const char* method) const {
  Request request;
  request.id = exchange.id;
  request.method = method;
  request.path = url;
  MHD_get_connection_values(exchange.connection, MHD_HEADER_KIND, &collect, &request.headers);
  MHD_get_connection_values(exchange.connection, MHD_GET_ARGUMENT_KIND, &collect, &request.query);
  request.body = exchange.body;
  return request;
}

bool HttpServer::respond(Exchange& exchange, const Response& response) {
  MHD_Response* out = nullptr;
  if (response.stream) {
    exchange.stream = response.body;
    exchange.phase = Exchange::Phase::kStreaming;
    out = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, &HttpCallbacks::stream_read,
                                            &exchange, nullptr);
    if (out == nullptr) return false;
    MHD_add_response_header(out, "Content-Type", "text/event-stream");
    MHD_add_response_header(out, "Cache-Control", "no-store");
    if (next_keepalive_ == kNever) {
      next_keepalive_ = std::chrono::steady_clock::now() + limits_.keepalive;
    }
  } else {
    exchange.phase = Exchange::Phase::kDone;
    out = MHD_create_response_from_buffer(
        response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
    if (out == nullptr) return false;
    if (!response.content_type.empty()) {
      MHD_add_response_header(out, "Content-Type", response.content_type.c_str());
    }
  }
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(out, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(exchange.connection, static_cast<unsigned>(response.status), out);
  MHD_destroy_response(out);
  return queued == MHD_YES;
}

void HttpServer::resume(Exchange& exchange) {
  if (!exchange.suspended) return;
  exchange.suspended = false;
  MHD_resume_connection(exchange.connection);
  resumed_ = true;
}

void HttpServer::answer(uint64_t id, Response response) {
  const auto found = exchanges_.find(id);
  if (found == exchanges_.end()) return;
  Exchange& exchange = *found->second;
  if (exchange.phase != Exchange::Phase::kWaiting &&
      exchange.phase != Exchange::Phase::kReceiving) {
    return;
  }
  exchange.answer = std::move(response);
  resume(exchange);
}

bool HttpServer::push(uint64_t id, std::string_view data) {
  const auto found = exchanges_.find(id);
  if (found == exchanges_.end()) return false;
  Exchange& exchange = *found->second;
  if (exchange.phase != Exchange::Phase::kStreaming || exchange.stream_ended) return false;
  if (exchange.stream.size() - exchange.stream_sent + data.size() > limits_.max_stream_buffer) {
    end(id);
    return false;
  }
  exchange.stream.append(data);
  resume(exchange);
  return true;
}

void HttpServer::end(uint64_t id) {
  const auto found = exchanges_.find(id);
  if (found == exchanges_.end() || found->second->phase != Exchange::Phase::kStreaming) return;
  found->second->stream_ended = true;
  resume(*found->second);
}

TimePoint HttpServer::next_deadline() const {
  if (resumed_) return TimePoint::min();
  TimePoint next = next_keepalive_;
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(daemon_, &ms) == MHD_YES) {
    // 0: a connection to serve before its socket is back in the epoll set, such as one that
    // sent an answer after a resume (libmicrohttpd adds it again once a read finds nothing
    // more). Due before any now a caller took: "now + 0" would be later than that, and the
    // connection would wait for another one's traffic.
    if (ms == 0) return TimePoint::min();
    next = std::min(next, std::chrono::steady_clock::now() + std::chrono::milliseconds(ms));
  }
  // Bounded by max_connections: a scan costs less than keeping them in order.
  for (const Connection* connection : connections_) next = std::min(next, connection->deadline);
  return next;
}

void HttpServer::run() {
  resumed_ = false;
  MHD_run(daemon_);
  const TimePoint now = std::chrono::steady_clock::now();
  for (Connection* connection : connections_) {
    if (connection->deadline > now) continue;
    // Too slow to send its request (a byte a second keeps libmicrohttpd's idle timer from
    // firing): libmicrohttpd sees the end of the connection and closes it at its next run.
    shutdown(connection->fd, SHUT_RDWR);
    connection->deadline = kNever;
    ++cut_off_;
  }
  if (now >= next_keepalive_) send_keepalives(now);
}

void HttpServer::send_keepalives(TimePoint now) {
  next_keepalive_ = kNever;
  std::vector<uint64_t> streams;
  for (const auto& [id, exchange] : exchanges_) {
    if (exchange->phase == Exchange::Phase::kStreaming && !exchange->stream_ended) {
      streams.push_back(id);
    }
  }
  for (const uint64_t id : streams) push(id, ": keepalive\n\n");
  if (!streams.empty()) next_keepalive_ = now + limits_.keepalive;
}

}  // namespace taskpool
