// Fuzzes the agent protocol's decoder (core/agent_frame.h), which reads what an agent (or a
// runner) on another machine sends.
//
// Input: any bytes, fed to a FrameDecoder in pieces whose sizes come from the first byte. The
// decoder returns messages until it needs more bytes or the stream is broken, never crashes nor
// reads past its input; every message it returns encodes to exactly the bytes it was read from;
// once broken it stays broken, with a message that says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/agent_frame.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  agent::FrameDecoder decoder;
  std::string decoded;  // what the returned messages encode to, in order
  for (size_t at = 0; at < input.size(); at += piece) {
    decoder.feed(input.substr(at, piece));
    while (auto message = decoder.next()) agent::encode(*message, decoded);
    if (!decoder.error().empty()) break;
  }
  FUZZ_CHECK(input.starts_with(decoded), fuzz::escaped(decoded));
  if (decoder.error().empty()) {
    FUZZ_CHECK(decoded.size() + decoder.pending() == input.size(), "");
  } else {
    FUZZ_CHECK(!decoder.next(), decoder.error());
  }
  return 0;
}
