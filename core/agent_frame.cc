#include "core/agent_frame.h"

#include <fmt/format.h>

#include <type_traits>
#include <utility>

namespace taskpool::agent {
namespace {

template <typename T>
void put_le(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(value >> (8 * i))));
  }
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_le(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

char kind_of(const Message& message) {
  static constexpr char kKinds[] = {'H', 'B', 'S', 'C', 'O', 'D'};
  static_assert(sizeof kKinds == std::variant_size_v<Message>);
  return kKinds[message.index()];
}

void put_body(std::string& out, const Message& message) {
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Hello>) {
          put_le(out, m.version);
          put_le(out, m.cpus);
          put_bytes(out, m.host);
        } else if constexpr (std::is_same_v<M, Heartbeat>) {
          put_le(out, m.running);
        } else if constexpr (std::is_same_v<M, StartJob>) {
          put_le(out, m.id);
          put_bytes(out, m.line);
          put_le(out, static_cast<uint32_t>(m.argv.size()));
          for (const std::string& word : m.argv) put_bytes(out, word);
        } else if constexpr (std::is_same_v<M, CancelJob>) {
          put_le(out, m.id);
          put_le(out, static_cast<uint8_t>(m.kill ? 1 : 0));
        } else if constexpr (std::is_same_v<M, JobOutput>) {
          put_le(out, m.id);
          put_le(out, m.stream);
          put_bytes(out, m.data);
        } else {
          static_assert(std::is_same_v<M, JobDone>);
          put_le(out, m.id);
          put_le(out, m.exit_status);
          put_le(out, m.signal);
          put_le(out, static_cast<uint8_t>((m.started ? 1 : 0) | (m.short_of_resources ? 2 : 0)));
          put_le(out, m.runtime_ns);
          put_bytes(out, m.error);
        }
      },
      message);
}

// Reads one frame's body, field by field; `ok` turns false at the first field that is not there.
class FrameReader {
 public:
  explicit FrameReader(std::string_view body) : body_(body) {}

  template <typename T>
  T get() {
    T value = 0;
    if (body_.size() < sizeof(T)) {
      ok_ = false;
      return value;
    }
    for (size_t i = 0; i < sizeof(T); ++i) {
      value |= static_cast<T>(static_cast<T>(static_cast<uint8_t>(body_[i])) << (8 * i));
    }
    body_.remove_prefix(sizeof(T));
    return value;
  }

  std::string bytes() {
    const auto size = get<uint32_t>();
    if (!ok_ || body_.size() < size) {
      ok_ = false;
      return {};
    }
    std::string value(body_.substr(0, size));
    body_.remove_prefix(size);
    return value;
  }

  // Every field was there, and nothing is left over.
  bool complete() const { return ok_ && body_.empty(); }
  size_t left() const { return body_.size(); }

 private:
  std::string_view body_;
  bool ok_ = true;
};

std::optional<Message> parse_body(char kind, FrameReader& in) {
  switch (kind) {
    case 'H': {
      Hello m;
      m.version = in.get<uint32_t>();
      m.cpus = in.get<uint32_t>();
      m.host = in.bytes();
      return m;
    }
    case 'B':
      return Heartbeat{in.get<uint32_t>()};
    case 'S': {
      StartJob m;
      m.id = in.get<uint64_t>();
      m.line = in.bytes();
      const auto argc = in.get<uint32_t>();
      // Each word takes at least its length's 4 bytes: a count past that is a broken frame.
      if (argc > in.left() / 4) return std::nullopt;
      for (uint32_t i = 0; i < argc; ++i) m.argv.push_back(in.bytes());
      return m;
    }
    case 'C': {
      CancelJob m;
      m.id = in.get<uint64_t>();
      const auto kill = in.get<uint8_t>();
      if (kill > 1) return std::nullopt;  // one meaning for each byte: 0 or 1
      m.kill = kill == 1;
      return m;
    }
    case 'O': {
      JobOutput m;
      m.id = in.get<uint64_t>();
      m.stream = in.get<uint8_t>();
      if (m.stream != 1 && m.stream != 2) return std::nullopt;
      m.data = in.bytes();
      return m;
    }
    case 'D': {
      JobDone m;
      m.id = in.get<uint64_t>();
      m.exit_status = in.get<uint32_t>();
      m.signal = in.get<uint32_t>();
      const auto flags = in.get<uint8_t>();
      if ((flags & ~3) != 0) return std::nullopt;
      m.started = (flags & 1) != 0;
      m.short_of_resources = (flags & 2) != 0;
      m.runtime_ns = in.get<uint64_t>();
      m.error = in.bytes();
      return m;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

void encode(const Message& message, std::string& out) {
  const size_t at = out.size();
  put_le(out, uint32_t{0});  // the length, filled in below
  out.push_back(kind_of(message));
  put_body(out, message);
  const auto length = static_cast<uint32_t>(out.size() - at - 4);
  for (size_t i = 0; i < 4; ++i) {
    out[at + i] = static_cast<char>(static_cast<uint8_t>(length >> (8 * i)));
  }
}

std::optional<Message> FrameDecoder::next() {
  if (!error_.empty()) return std::nullopt;
  const std::string_view rest = std::string_view(buffer_).substr(offset_);
  if (rest.size() < 4) return std::nullopt;
  const auto length = FrameReader(rest).get<uint32_t>();
  if (length == 0 || length > kMaxFrame) {
    error_ = fmt::format("a frame of {} bytes (the most is {})", length, kMaxFrame);
    return std::nullopt;
  }
  if (rest.size() - 4 < length) return std::nullopt;
  const char kind = rest[4];
  FrameReader body(rest.substr(5, length - 1));
  std::optional<Message> message = parse_body(kind, body);
  if (!message || !body.complete()) {
    const bool known = std::string_view("HBSCOD").find(kind) != std::string_view::npos;
    error_ = known ? fmt::format("a malformed '{}' frame of {} bytes", kind, length)
                   : fmt::format("a frame of unknown kind {:#04x}", static_cast<uint8_t>(kind));
    return std::nullopt;
  }
  offset_ += 4 + length;
  // What was returned is dropped now and then, not at every frame: a copy per frame would cost.
  if (offset_ > 65536 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return message;
}

}  // namespace taskpool::agent
