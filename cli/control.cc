#include "cli/control.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"

namespace taskpool {

namespace {

// A command is one short line; anything longer is not one of ours.
constexpr size_t kMaxCommand = 1024;
// Connections held at once. One more closes the one idle the longest: connections that send
// nothing (clients gone astray, or many at once) never keep a command out.
constexpr size_t kMaxClients = 16;
// A connection that sends nothing for this long is closed.
constexpr std::chrono::seconds kIdleTimeout(30);
// How long a command waits for the scheduler's thread, which turns at least this often (a run
// stopped with Ctrl-Z does not).
constexpr auto kAnswerTimeout = std::chrono::seconds(5);
// taskpool ctl: how long it tries to connect, and then waits for the answer (longer than the
// run waits for its scheduler, so that the run's own "did not answer in time" comes through).
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kClientAnswerTimeout = kAnswerTimeout + std::chrono::seconds(3);

sockaddr_un socket_address(const std::string& path, const char* what) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty()) throw UsageError(std::string(what) + ": the socket path is empty");
  if (path.size() >= sizeof address.sun_path) {
    throw UsageError(std::string(what) + ": '" + path + "' is longer than a socket path can be (" +
                     std::to_string(sizeof address.sun_path - 1) + " bytes)");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// Returns false when the answer could not be sent whole: the client left, or it does not read
// its answers (`nonblocking`: a full socket buffer), and is then dropped.
bool send_all(int fd, std::string_view data, bool nonblocking = false) {
  while (!data.empty()) {
    const ssize_t n =
        ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

ControlServer::ControlServer(std::string path, std::function<void()> wake)
    : path_(std::move(path)), wake_(std::move(wake)) {
  const sockaddr_un address = socket_address(path_, "--control");
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw UsageError("--control: '" + path_ + "' exists and is not a socket; not replacing it");
    }
    // A socket nobody listens on is what an ended run left behind.
    const UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) throw system_error("--control: socket");
    const bool live =
        ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    const int probe_errno = errno;
    if (live) throw UsageError("--control: another run is listening on '" + path_ + "'");
    if (probe_errno != ECONNREFUSED) {
      // Not what an ended run leaves (say, no permission to it): not ours to replace.
      errno = probe_errno;
      throw system_error("--control: cannot use '" + path_ + "'");
    }
    ::unlink(path_.c_str());
  }
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) throw system_error("--control: socket");
  // Only the user may connect: the socket file gets mode 0600. fchmod does not apply to a
  // socket's file, so the umask sets it; nothing else creates files while this runs (the
  // reader thread starts later).
  const mode_t old_mask = umask(0177);
  const int bound =
      ::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  umask(old_mask);
  // A deep backlog: connections that come in a burst wait there to be accepted, not refused.
  if (bound != 0 || ::listen(listen_fd_.get(), SOMAXCONN) != 0) {
    errno = bound != 0 ? bind_errno : errno;
    const Error error = system_error("--control: cannot listen on '" + path_ + "'");
    if (bound == 0) ::unlink(path_.c_str());
    throw error;
  }
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_.valid()) {
    const Error error = system_error("eventfd");
    ::unlink(path_.c_str());
    throw error;
  }
  thread_ = std::thread([this] { listen_loop(); });
}

ControlServer::~ControlServer() {
  {
    const std::lock_guard lock(mu_);
    closed_ = true;
  }
  answered_.notify_all();
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_fd_.get(), &one, sizeof one);
  thread_.join();
  ::unlink(path_.c_str());
}

void ControlServer::serve(const std::function<std::string(std::string_view)>& answer) {
  std::unique_lock lock(mu_);
  if (!command_) return;
  const auto [id, command] = std::move(*command_);
  command_.reset();
  lock.unlock();
  std::string text = answer(command);
  lock.lock();
  answer_.emplace(id, std::move(text));
  lock.unlock();
  answered_.notify_all();
}

std::string ControlServer::ask(std::string command) {
  std::unique_lock lock(mu_);
  if (closed_) return "error: the run has ended";
  // Numbered, so that the late answer to a command that timed out is not taken for this one's.
  const uint64_t id = ++last_id_;
  command_.emplace(id, std::move(command));
  answer_.reset();
  lock.unlock();
  wake_();
  lock.lock();
  const bool done = answered_.wait_for(
      lock, kAnswerTimeout, [&] { return (answer_ && answer_->first == id) || closed_; });
  if (answer_ && answer_->first == id) return std::exchange(answer_, std::nullopt)->second;
  if (command_ && command_->first == id) command_.reset();
  return done ? "error: the run has ended"
              : "error: the run did not answer in time (the command may still take effect)";
}

void ControlServer::listen_loop() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  while (true) {
    const int timeout = close_idle(clients, Clock::now());
    fds.clear();
    fds.push_back({stop_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const Client& c : clients) fds.push_back({c.fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && !read_client(clients[i - 2])) clients[i - 2].fd.reset();
    }
    std::erase_if(clients, [](const Client& c) { return !c.fd.valid(); });
    if (fds[1].revents & POLLIN) accept_clients(clients);
  }
}

void ControlServer::accept_clients(std::vector<Client>& clients) {
  // All that wait, so that the listen backlog never fills and blocks a client's connect.
  while (true) {
    // Non-blocking: a client that sends and never reads its answers is dropped, not waited
    // for (the run's end waits for this thread).
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) return;  // none left (EAGAIN), or no descriptor for it now: poll says again
    if (clients.size() >= kMaxClients) {
      // Room for the newcomer: a client that holds a connection and sends nothing must not
      // keep the next one out.
      const auto idlest = std::ranges::min_element(clients, {}, &Client::active);
      send_all(idlest->fd.get(),
               "error: closed: " + std::to_string(kMaxClients) +
                   " connections at once, and this one was idle the longest\n",
               true);
      clients.erase(idlest);
    }
    clients.push_back({std::move(fd), {}, Clock::now()});
  }
}

int ControlServer::close_idle(std::vector<Client>& clients, Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  std::erase_if(clients, [&](const Client& c) {
    if (now - c.active < kIdleTimeout) {
      next = std::min(next, c.active + kIdleTimeout);
      return false;
    }
    send_all(
        c.fd.get(),
        "error: closed after " + std::to_string(kIdleTimeout.count()) + " s without a command\n",
        true);
    return true;
  });
  if (next == Clock::time_point::max()) return -1;
  // Rounded up, so that the client has expired when poll returns.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now);
  return static_cast<int>(std::max<int64_t>(1, wait.count()));
}

bool ControlServer::read_client(Client& client) {
  char buffer[512];
  const ssize_t n = ::recv(client.fd.get(), buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  client.pending.append(buffer, static_cast<size_t>(n));
  for (size_t end; (end = client.pending.find('\n')) != std::string::npos;) {
    const std::string line(trimmed(std::string_view(client.pending).substr(0, end)));
    client.pending.erase(0, end + 1);
    if (!send_all(client.fd.get(), ask(line) + "\n", true)) return false;
  }
  client.active = Clock::now();
  if (client.pending.size() > kMaxCommand) {
    send_all(client.fd.get(),
             "error: a command is one line of at most " + std::to_string(kMaxCommand) + " bytes\n",
             true);
    return false;
  }
  return true;
}

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Waits until `fd` is ready for `events`; false once `deadline` has passed.
bool wait_ready(int fd, short events, SteadyTime deadline) {
  while (true) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    // An error is for the call that follows to report.
    if (ready > 0 || (ready < 0 && errno != EINTR)) return true;
  }
}

// A non-blocking socket connected to `address`. A run whose listen backlog is full makes
// connect fail with EAGAIN at once: tried again until `deadline`. None, with errno set
// (ETIMEDOUT when the deadline passed), when it cannot be.
UniqueFd connect_until(const sockaddr_un& address, SteadyTime deadline) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return fd;
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno == EINTR) continue;
    const int error = errno != EAGAIN                                ? errno
                      : std::chrono::steady_clock::now() >= deadline ? ETIMEDOUT
                                                                     : 0;
    if (error != 0) {
      fd.reset();
      errno = error;
      return fd;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fd;
}

// The first line `fd` answers (with its newline), or what came before the connection closed
// or `deadline` passed (`timed_out` set).
std::string read_answer(int fd, SteadyTime deadline, bool& timed_out) {
  std::string answer;
  char buffer[4096];
  timed_out = false;
  while (answer.find('\n') == std::string::npos) {
    if (!wait_ready(fd, POLLIN, deadline)) {
      timed_out = true;
      break;
    }
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer;
}

}  // namespace

int control_client(int argc, char** argv) {
  if (argc < 4) {
    std::fputs("taskpool ctl: usage: taskpool ctl SOCKET COMMAND (pause, resume, jobs N, status)\n",
               stderr);
    return 255;
  }
  const std::string path = argv[2];
  std::string command;
  for (int i = 3; i < argc; ++i) {
    if (!command.empty()) command += ' ';
    command += argv[i];
  }
  if (command.find('\n') != std::string::npos) {
    std::fputs("taskpool ctl: a command is one line\n", stderr);
    return 255;
  }
  sockaddr_un address{};
  try {
    address = socket_address(path, "taskpool ctl");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 255;
  }
  UniqueFd connection = connect_until(address, std::chrono::steady_clock::now() + kConnectTimeout);
  const int fd = connection.get();
  if (fd < 0 && errno == ETIMEDOUT) {
    std::fprintf(stderr,
                 "taskpool ctl: '%s' did not take the connection within %lld s (the run is "
                 "stopped, or too busy)\n",
                 path.c_str(), static_cast<long long>(kConnectTimeout.count()));
    return 1;
  }
  if (fd < 0) {
    std::fprintf(stderr,
                 "taskpool ctl: cannot connect to '%s': %s (is a run with --control "
                 "'%s' going on?)\n",
                 path.c_str(), std::strerror(errno), path.c_str());
    return 1;
  }
  // One short line: it fits in the socket's buffer, so the send does not wait.
  send_all(fd, command + "\n", true);
  bool timed_out = false;
  std::string answer =
      read_answer(fd, std::chrono::steady_clock::now() + kClientAnswerTimeout, timed_out);
  connection.reset();
  if (answer.find('\n') == std::string::npos) {
    // A run stopped with Ctrl-Z answers nothing until it is continued.
    const std::string why = timed_out ? fmt::format("within {} s (the run is stopped, or too busy)",
                                                    kClientAnswerTimeout.count())
                                      : "(the run ended)";
    std::fprintf(stderr, "taskpool ctl: no answer from '%s' %s\n", path.c_str(), why.c_str());
    return 1;
  }
  answer.erase(answer.find('\n') + 1);
  const bool error = answer.starts_with("error");
  std::fputs(answer.c_str(), error ? stderr : stdout);
  return error ? 1 : 0;
}

}  // namespace taskpool
