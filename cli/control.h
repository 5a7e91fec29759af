// --control SOCKET: a Unix socket that takes one-line commands while a run goes on (pause,
// resume, jobs N, status), and `taskpool ctl SOCKET COMMAND`, which sends one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/unique_fd.h"

namespace taskpool {

// Listens on a thread of its own; each command waits there until the scheduler's thread answers
// it through serve(). Answers are one line each: "ok ...", "error: ...", or a JSON object.
// Every client waiting to connect is accepted at once; a connection idle for 30 s is closed, and
// so is the one idle the longest when a 17th comes, so idle clients never keep others waiting.
class ControlServer {
 public:
  // Creates the socket with mode 0600 (a stale socket left by an ended run is replaced) and
  // starts listening. `wake` is called after a command arrives, so that the scheduler's thread
  // comes to serve() promptly; it must be thread-safe. Throws Error naming the path when the
  // socket cannot be made, or another run is listening on it.
  ControlServer(std::string path, std::function<void()> wake);
  // Answers what is still waiting with an error, stops the thread, removes the socket.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // On the scheduler's thread: answers the command waiting, if any, with answer(command).
  void serve(const std::function<std::string(std::string_view)>& answer);

 private:
  using Clock = std::chrono::steady_clock;
  struct Client {
    UniqueFd fd;
    std::string pending;       // received, not yet a whole line
    Clock::time_point active;  // when it connected or last sent something
  };

  // On the listening thread.
  void listen_loop();
  void accept_clients(std::vector<Client>& clients);
  // Closes the clients idle too long; returns poll's timeout until the next one is (ms, or -1).
  static int close_idle(std::vector<Client>& clients, Clock::time_point now);
  // Reads from `client` and answers its whole lines; false when it is to be closed.
  bool read_client(Client& client);
  std::string ask(std::string command);

  std::string path_;
  std::function<void()> wake_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // an eventfd: the thread ends when it is written
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable answered_;
  // Guarded by mu_: the command waiting for serve(), and the last answer, each with its number.
  std::optional<std::pair<uint64_t, std::string>> command_;
  std::optional<std::pair<uint64_t, std::string>> answer_;
  uint64_t last_id_ = 0;  // guarded by mu_
  bool closed_ = false;   // guarded by mu_: the run is over
};

// `taskpool ctl SOCKET COMMAND...`: sends the words of COMMAND as one line, prints the answer.
// Returns the exit status: 0 for an answer that is not an error, 1 for an error answer or when
// the socket cannot be reached, 255 for a usage error.
int control_client(int argc, char** argv);

}  // namespace taskpool
