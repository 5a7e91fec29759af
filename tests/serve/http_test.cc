#include "cli/serve/http.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "tests/serve/http_client.h"
#include "tests/serve/loop_thread.h"

namespace taskpool {
namespace {

using std::chrono::milliseconds;
using testing::http_exchange;
using testing::LoopThread;
using testing::RawClient;
using testing::RawReply;

// Answers "ok" unless the test says otherwise; remembers what it saw. Loop thread only.
struct RecordingHandler : HttpHandler {
  std::function<std::optional<Response>(const Request&)> respond;
  std::vector<Request> requests;
  std::vector<uint64_t> closed_ids;

  std::optional<Response> handle(const Request& request) override {
    requests.push_back(request);
    if (respond) return respond(request);
    return Response{200, "text/plain", "ok\n", {}, false};
  }
  void closed(uint64_t id) override { closed_ids.push_back(id); }
};

// A server on 127.0.0.1 (a port of its own) with its loop on a thread.
struct Served {
  explicit Served(const HttpLimits& limits = {})
      : server(parse_listen_address("127.0.0.1:0"), handler, limits),
        loop([this] { return server.poll_fd(); }, [this] { return server.next_deadline(); },
             [this] { server.run(); }) {}
  ~Served() { loop.stop(); }

  size_t requests() {
    return loop.call([this] { return handler.requests.size(); });
  }

  RecordingHandler handler;
  HttpServer server;
  LoopThread loop;
};

TEST_CASE("listen addresses: IPv4, IPv6 and localhost, loopback or not; bad ones named") {
  CHECK(parse_listen_address("127.0.0.1:8080").loopback);
  CHECK(parse_listen_address("127.1.2.3:0").loopback);
  CHECK(parse_listen_address("localhost:80").loopback);
  CHECK(parse_listen_address("[::1]:8080").loopback);
  CHECK_FALSE(parse_listen_address("0.0.0.0:8080").loopback);
  CHECK_FALSE(parse_listen_address("[::]:8080").loopback);
  CHECK_FALSE(parse_listen_address("192.168.1.2:8080").loopback);
  CHECK_THROWS_WITH_AS(parse_listen_address("8080"),
                       "'8080' is not HOST:PORT (127.0.0.1:8080, [::1]:8080)", Error);
  CHECK_THROWS_WITH_AS(parse_listen_address("127.0.0.1:http"),
                       "'127.0.0.1:http' has no port number (0 to 65535) after its ':'", Error);
  CHECK_THROWS_WITH_AS(parse_listen_address("127.0.0.1:65536"),
                       "'127.0.0.1:65536' has no port number (0 to 65535) after its ':'", Error);
  CHECK_THROWS_WITH_AS(parse_listen_address("example.com:80"),
                       "'example.com' is not an IP address (nor localhost)", Error);
  CHECK_THROWS_WITH_AS(parse_listen_address("[::1:80"), "'[::1:80' is not [IPv6]:PORT", Error);
}

TEST_CASE("a port in use is an error naming the address") {
  RecordingHandler handler;
  HttpServer first(parse_listen_address("127.0.0.1:0"), handler, {});
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  CHECK_THROWS_WITH_AS(HttpServer(parse_listen_address(address), handler, {}),
                       (address + ": cannot listen: Address already in use").c_str(), Error);
}

TEST_CASE("a request reaches the handler as plain values, and its response goes back") {
  Served served;
  served.handler.respond = [](const Request&) {
    return Response{201, "application/json", "{\"ids\":[1]}\n", {{"Retry-After", "3"}}, false};
  };
  const RawReply reply = http_exchange(served.server.port(), "POST", "/v1/jobs/12?x=a%20b&flag",
                                       "hello", "X-Test: Some Value\r\n");
  CHECK(reply.status == 201);
  CHECK(reply.body == "{\"ids\":[1]}\n");
  CHECK(reply.header("content-type") == "application/json");
  CHECK(reply.header("retry-after") == "3");
  const Request request = served.loop.call([&] { return served.handler.requests.at(0); });
  CHECK(request.method == "POST");
  CHECK(request.path == "/v1/jobs/12");
  CHECK(request.parameter("x") == "a b");
  CHECK(request.parameter("flag") == "");
  CHECK_FALSE(request.parameter("y").has_value());
  CHECK(request.header("x-test") == "Some Value");
  CHECK(request.body == "hello");
}

TEST_CASE("a response given later is sent when it comes, and the loop serves others meanwhile") {
  Served served;
  served.handler.respond = [](const Request& request) -> std::optional<Response> {
    if (request.path == "/later") return std::nullopt;
    return Response{200, "text/plain", "now\n", {}, false};
  };
  RawClient waiting(served.server.port());
  REQUIRE(waiting.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (served.requests() == 0) std::this_thread::sleep_for(milliseconds(5));
  CHECK(http_exchange(served.server.port(), "GET", "/other").body == "now\n");
  CHECK(waiting.read_for(milliseconds(100)).empty());
  const uint64_t id = served.loop.call([&] { return served.handler.requests.at(0).id; });
  served.loop.call([&] {
    served.server.answer(id, Response{202, "text/plain", "done\n", {}, false});
  });
  const RawReply reply = waiting.read_reply();
  CHECK(reply.status == 202);
  CHECK(reply.body == "done\n");
  // The connection is kept: the next request on it is served.
  CHECK(reply.header("connection") != "close");
  REQUIRE(waiting.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"));
  const RawReply second = waiting.read_reply(std::chrono::seconds(5));
  CHECK(second.status == 200);
  CHECK(second.body == "now\n");
  CHECK(served.loop.call([&] { return served.handler.closed_ids.empty(); }));
}

// Serves on this thread as the daemon's loop does: run() when the descriptor is readable, or when
// next_deadline(), asked after the loop read the clock, is due by then. False after 10 s without
// `done()`.
bool serve_until(HttpServer& server, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    const TimePoint now = std::chrono::steady_clock::now();
    if (now > until) return false;
    const bool due = server.next_deadline() <= now;
    pollfd fd{server.poll_fd(), POLLIN, 0};
    if (poll(&fd, 1, due ? 0 : 10) > 0 || due) server.run();
  }
  return true;
}

TEST_CASE("after an answer given later, the next request on its connection is served") {
  bool suspended = false;
  SUBCASE("answered before the server's next run (a submit's, at the commit ending the turn)") {}
  SUBCASE("answered after a run without it: the connection waits suspended") { suspended = true; }
  RecordingHandler handler;
  handler.respond = [](const Request& request) -> std::optional<Response> {
    if (request.path == "/later") return std::nullopt;
    return Response{200, "text/plain", "now\n", {}, false};
  };
  HttpServer server(parse_listen_address("127.0.0.1:0"), handler, {});
  RawClient client(server.port());
  REQUIRE(client.send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"));
  REQUIRE(serve_until(server, [&] { return handler.requests.size() == 1; }));
  if (suspended) {
    server.run();  // calls the handler again: still no answer
    CHECK(server.next_deadline() > std::chrono::steady_clock::now());  // waits, no busy loop
  }
  server.answer(handler.requests.at(0).id, Response{202, "text/plain", "done\n", {}, false});
  std::string got;
  const auto arrived = [&](std::string_view text) {
    return [&got, &client, text] {
      got += client.read_for(milliseconds(5));
      return got.find(text) != std::string::npos;
    };
  };
  REQUIRE(serve_until(server, arrived("done\n")));
  CHECK(got.find("HTTP/1.1 202") == 0);
  CHECK(got.find("close") == std::string::npos);
  // libmicrohttpd has the socket out of its epoll set now, until its next run reads it:
  // next_deadline() says so, or this request would wait for another connection's traffic.
  got.clear();
  REQUIRE(client.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(serve_until(server, arrived("now\n")));
  CHECK(got.find("HTTP/1.1 200") == 0);
  CHECK(handler.requests.size() == 2);
}

TEST_CASE("a body larger than the limit gets 413 and never reaches the handler") {
  HttpLimits limits;
  limits.max_body = 1000;
  Served served(limits);
  SUBCASE("announced: refused before it is sent") {
    RawClient client(served.server.port());
    REQUIRE(client.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    const RawReply reply = client.read_reply();
    CHECK(reply.status == 413);
    CHECK(reply.body == "{\"error\":\"the request body is larger than 1000 bytes\"}\n");
  }
  SUBCASE("chunked: refused once it is in") {
    RawClient client(served.server.port());
    std::string request = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) request += "258\r\n" + std::string(600, 'x') + "\r\n";
    request += "0\r\n\r\n";
    REQUIRE(client.send(request));
    CHECK(client.read_reply().status == 413);
  }
  SUBCASE("at the limit: taken") {
    CHECK(http_exchange(served.server.port(), "POST", "/", std::string(1000, 'x')).status == 200);
    CHECK(served.requests() == 1);
    return;
  }
  CHECK(served.requests() == 0);
}

TEST_CASE("headers larger than the limit are refused and never reach the handler") {
  HttpLimits limits;
  limits.max_header = 4096;
  Served served(limits);
  const RawReply reply = http_exchange(served.server.port(), "GET", "/", {},
                                       "X-Big: " + std::string(20000, 'y') + "\r\n");
  CHECK(reply.status == 431);
  CHECK(served.requests() == 0);
  CHECK(http_exchange(served.server.port(), "GET", "/", {}, "X-Small: y\r\n").status == 200);
}

TEST_CASE("a malformed request gets a 4xx or 5xx, or is closed, and never reaches the handler") {
  Served served;
  const std::vector<std::pair<std::string, int>> cases = {
      {"GARBAGE\r\n\r\n", 0},  // not HTTP at all: closed without an answer
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // no Host
      {"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 0},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400},
      {"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505},
  };
  for (const auto& request : cases) {
    // Named, not bound: CAPTURE's lambda may not refer to a structured binding (clang 14).
    const std::string& garbage = request.first;
    const int status = request.second;
    CAPTURE(garbage);
    RawClient client(served.server.port());
    REQUIRE(client.send(garbage));
    bool closed = false;
    const RawReply reply = client.read_reply();
    client.read_for(std::chrono::seconds(5), &closed);
    CHECK(reply.status == status);
    CHECK(closed);
  }
  CHECK(served.requests() == 0);
}

TEST_CASE("a client sending its request a byte at a time is cut off, and others are served") {
  HttpLimits limits;
  limits.request_time = milliseconds(700);
  Served served(limits);
  RawClient slow(served.server.port());
  const std::string request =
      "GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(200, 'z') + "\r\n\r\n";
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (size_t i = 0; i < request.size(); ++i) {
    const char c = request[i];
    if (!slow.send(std::string(1, c))) {
      cut = true;
      break;
    }
    bool closed = false;
    slow.read_for(milliseconds(50), &closed);
    if (closed) {
      cut = true;
      break;
    }
    // Meanwhile the server answers others at once.
    if (i == 4) CHECK(http_exchange(served.server.port(), "GET", "/quick").status == 200);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(cut);
  CHECK(took >= milliseconds(600));
  CHECK(took < std::chrono::seconds(5));  // 0.7 s, on a loaded machine
  CHECK(served.loop.call([&] { return served.server.cut_off(); }) == 1);
  CHECK(served.requests() == 1);  // /quick alone
}

TEST_CASE("connections past the limit are closed as they come; the others go on") {
  HttpLimits limits;
  limits.max_connections = 8;
  Served served(limits);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<RawClient>(served.server.port()));
  while (served.loop.call([&] { return served.server.connections(); }) < 8) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  for (int i = 0; i < 12; ++i) {
    RawClient extra(served.server.port());
    bool closed = false;
    extra.read_for(std::chrono::seconds(5), &closed);
    CHECK(closed);
  }
  REQUIRE(held[3]->send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(held[3]->read_reply().status == 200);
  held.clear();
  while (served.loop.call([&] { return served.server.connections(); }) > 0) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(http_exchange(served.server.port(), "GET", "/after").status == 200);
}

TEST_CASE("an event stream sends what is pushed, ends when told, and reports a client gone") {
  Served served;
  served.handler.respond = [](const Request&) {
    return Response{200, "", ": hello\n\n", {}, true};
  };
  auto client = std::make_unique<RawClient>(served.server.port());
  REQUIRE(client->send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = client->read_until(": hello\n\n");
  CHECK(got.find("HTTP/1.1 200") == 0);
  CHECK(got.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(got.find(": hello\n\n") != std::string::npos);
  const uint64_t id = served.loop.call([&] { return served.handler.requests.at(0).id; });
  CHECK(served.loop.call([&] { return served.server.push(id, "data: one\n\n"); }));
  CHECK(client->read_until("data: one\n\n").find("data: one\n\n") != std::string::npos);

  SUBCASE("ended by the server") {
    served.loop.call([&] { served.server.end(id); });
    // The chunked body's end.
    CHECK(client->read_until("0\r\n\r\n").find("0\r\n\r\n") != std::string::npos);
    CHECK_FALSE(served.loop.call([&] { return served.server.push(id, "late"); }));
  }
  SUBCASE("its client goes") {
    client.reset();
    // A suspended stream notices its client gone when it next writes.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (served.loop.call([&] { return served.handler.closed_ids.empty(); }) &&
           std::chrono::steady_clock::now() < until) {
      served.loop.call([&] { served.server.push(id, "data: anyone?\n\n"); });
      std::this_thread::sleep_for(milliseconds(20));
    }
    CHECK(served.loop.call([&] { return served.handler.closed_ids; }) == std::vector<uint64_t>{id});
  }
}

TEST_CASE("a stream whose client does not read is ended when its buffer is full") {
  HttpLimits limits;
  limits.max_stream_buffer = 64 << 10;
  Served served(limits);
  served.handler.respond = [](const Request&) { return Response{200, "", "", {}, true}; };
  RawClient client(served.server.port());
  REQUIRE(client.send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (served.requests() == 0) std::this_thread::sleep_for(milliseconds(5));
  const uint64_t id = served.loop.call([&] { return served.handler.requests.at(0).id; });
  const std::string chunk = "data: " + std::string(16 << 10, 'e') + "\n\n";
  int pushes = 0;
  while (pushes < 100000 && served.loop.call([&] { return served.server.push(id, chunk); })) {
    ++pushes;
  }
  CHECK(pushes < 100000);  // the kernel's buffers filled, then ours
  CHECK_FALSE(served.loop.call([&] { return served.server.push(id, "data: x\n\n"); }));
}

TEST_CASE("a request still waiting when the server stops gets 503") {
  RawReply reply;
  {
    auto served = std::make_unique<Served>();
    served->handler.respond = [](const Request&) { return std::nullopt; };
    RawClient client(served->server.port());
    REQUIRE(client.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
    while (served->requests() == 0) std::this_thread::sleep_for(milliseconds(5));
    served.reset();
    reply = client.read_reply();
  }
  CHECK(reply.status == 503);
  CHECK(reply.body == "{\"error\":\"the server is stopping\"}\n");
}

}  // namespace
}  // namespace taskpool
