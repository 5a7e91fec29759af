// The framing `taskpool agent` speaks on its standard input and output (see README, "On a Slurm
// cluster"): binary-safe, any byte in any field, one frame after the other on a byte stream.
//
//   frame   = length:u32 kind:u8 body        length counts kind and body, at most kMaxFrame
//   u32/u64 = little-endian                  bytes = length:u32 then that many bytes
//
//   'H' hello     agent -> runner   version:u32 cpus:u32 host:bytes      first frame, once
//   'B' heartbeat agent -> runner   running:u32                          every --heartbeat
//   'S' start     runner -> agent   id:u64 line:bytes argc:u32 argv:bytes*argc
//                                   (argc 0: the agent runs line with /bin/sh -c)
//   'C' cancel    runner -> agent   id:u64 kill:u8                       0: SIGTERM, 1: SIGKILL
//   'O' output    agent -> runner   id:u64 stream:u8 data:bytes          1: stdout, 2: stderr
//   'D' done      agent -> runner   id:u64 status:u32 signal:u32 flags:u8 runtime_ns:u64
//                                   error:bytes                          flags: 1 started,
//                                                                        2 short of resources
//
// An id is the runner's own name for one attempt (its worker); the agent answers with it. Every
// 'S' gets exactly one 'D', after the 'O' frames of its output. A field that holds a value it
// cannot (a kill byte but 0 or 1, a stream but 1 or 2, an unknown flag) breaks the stream: every
// stream decodes one way and encodes back to itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskpool::agent {

inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kMaxFrame = 16u << 20;   // a longer frame is a broken stream
inline constexpr size_t kOutputChunk = 64 * 1024;  // the most data one 'O' frame carries

struct Hello {
  uint32_t version = kVersion;
  uint32_t cpus = 0;
  std::string host;
  bool operator==(const Hello&) const = default;
};

struct Heartbeat {
  uint32_t running = 0;
  bool operator==(const Heartbeat&) const = default;
};

struct StartJob {
  uint64_t id = 0;
  std::string line;
  std::vector<std::string> argv;
  bool operator==(const StartJob&) const = default;
};

struct CancelJob {
  uint64_t id = 0;
  bool kill = false;
  bool operator==(const CancelJob&) const = default;
};

struct JobOutput {
  uint64_t id = 0;
  uint8_t stream = 1;  // 1: stdout, 2: stderr
  std::string data;
  bool operator==(const JobOutput&) const = default;
};

struct JobDone {
  uint64_t id = 0;
  uint32_t exit_status = 0;
  uint32_t signal = 0;
  bool started = true;
  bool short_of_resources = false;
  uint64_t runtime_ns = 0;
  std::string error;
  bool operator==(const JobDone&) const = default;
};

using Message = std::variant<Hello, Heartbeat, StartJob, CancelJob, JobOutput, JobDone>;

// Appends `message`, framed, to `out`.
void encode(const Message& message, std::string& out);

// Cuts a byte stream into messages. Not thread-safe.
class FrameDecoder {
 public:
  // Takes more of the stream.
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message, or nullopt when more bytes are needed or the stream is broken
  // (then error() says why, and every later call returns nullopt).
  std::optional<Message> next();
  const std::string& error() const { return error_; }
  // Bytes taken but not yet returned as a message.
  size_t pending() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
  std::string error_;
};

}  // namespace taskpool::agent
