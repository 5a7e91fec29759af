#include "core/agent_frame.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace taskpool::agent {
namespace {

// Every byte value, NULs and newlines among them, as a record may hold them.
std::string all_bytes() {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes.push_back(static_cast<char>(c));
  return bytes;
}

std::vector<Message> samples() {
  JobDone failed;
  failed.id = 7;
  failed.exit_status = 127;
  failed.started = false;
  failed.short_of_resources = true;
  failed.error = "nosuch: command not found";
  JobDone killed;
  killed.id = UINT64_MAX;
  killed.signal = 9;
  killed.runtime_ns = 123456789012ULL;
  return {Hello{kVersion, 48, "node-1"},
          Heartbeat{3},
          StartJob{1, "echo 'a b'\n" + all_bytes(), {"echo", all_bytes(), ""}},
          StartJob{2, "sleep 1 && true", {}},
          CancelJob{1, false},
          CancelJob{2, true},
          JobOutput{1, 1, all_bytes()},
          JobOutput{1, 2, ""},
          failed,
          killed};
}

std::vector<Message> decode_all(FrameDecoder& decoder) {
  std::vector<Message> messages;
  while (auto message = decoder.next()) messages.push_back(std::move(*message));
  return messages;
}

TEST_CASE("every message comes back as it was sent, byte for byte") {
  std::string stream;
  for (const Message& message : samples()) encode(message, stream);
  FrameDecoder decoder;
  decoder.feed(stream);
  CHECK(decode_all(decoder) == samples());
  CHECK(decoder.error().empty());
  CHECK(decoder.pending() == 0);
}

TEST_CASE("a stream fed one byte at a time gives the same messages") {
  std::string stream;
  for (const Message& message : samples()) encode(message, stream);
  FrameDecoder decoder;
  std::vector<Message> messages;
  for (const char c : stream) {
    decoder.feed(std::string_view(&c, 1));
    for (Message& m : decode_all(decoder)) messages.push_back(std::move(m));
  }
  CHECK(messages == samples());
  CHECK(decoder.error().empty());
}

TEST_CASE("a frame cut off waits for the rest") {
  std::string stream;
  encode(JobOutput{4, 1, "hello"}, stream);
  FrameDecoder decoder;
  decoder.feed(std::string_view(stream).substr(0, stream.size() - 1));
  CHECK_FALSE(decoder.next());
  CHECK(decoder.error().empty());
  CHECK(decoder.pending() == stream.size() - 1);
  decoder.feed(std::string_view(stream).substr(stream.size() - 1));
  CHECK(decoder.next() == Message(JobOutput{4, 1, "hello"}));
}

TEST_CASE("a broken stream is an error that names what is wrong, and stays one") {
  SUBCASE("unknown kind") {
    FrameDecoder decoder;
    decoder.feed(std::string("\x01\x00\x00\x00Z", 5));
    CHECK_FALSE(decoder.next());
    CHECK(decoder.error() == "a frame of unknown kind 0x5a");
  }
  SUBCASE("too long") {
    FrameDecoder decoder;
    decoder.feed(std::string("\xff\xff\xff\x7f", 4));
    CHECK_FALSE(decoder.next());
    CHECK(decoder.error().find("the most is") != std::string::npos);
  }
  SUBCASE("a field past the frame's end") {
    std::string stream;
    encode(JobOutput{4, 1, "hello"}, stream);
    stream[0] = static_cast<char>(stream[0] - 2);  // the frame ends inside its data
    stream.resize(stream.size() - 2);
    FrameDecoder decoder;
    decoder.feed(stream);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.error() == "a malformed 'O' frame of 17 bytes");
  }
  SUBCASE("bytes left over in a frame") {
    std::string stream;
    encode(Heartbeat{1}, stream);
    stream[0] = static_cast<char>(stream[0] + 1);
    stream.push_back('x');
    FrameDecoder decoder;
    decoder.feed(stream);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.error() == "a malformed 'B' frame of 6 bytes");
    std::string good;
    encode(Heartbeat{1}, good);
    decoder.feed(good);
    CHECK_FALSE(decoder.next());
  }
  SUBCASE("a value a field cannot hold") {
    std::string cancel;
    encode(CancelJob{1, true}, cancel);
    cancel.back() = '\x02';
    std::string output;
    encode(JobOutput{1, 2, ""}, output);
    output[4 + 1 + 8] = '\x03';  // the stream
    std::string done;
    encode(JobDone{}, done);
    done[4 + 1 + 8 + 4 + 4] = '\x05';  // an unknown flag
    for (const std::string& stream : {cancel, output, done}) {
      FrameDecoder decoder;
      decoder.feed(stream);
      CHECK_FALSE(decoder.next());
      CHECK(decoder.error().starts_with("a malformed"));
    }
  }
  SUBCASE("a word count no frame could hold") {
    std::string stream;
    encode(StartJob{1, "x", {}}, stream);
    stream[stream.size() - 1] = '\x7f';  // argc's last byte
    FrameDecoder decoder;
    decoder.feed(stream);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.error().starts_with("a malformed 'S' frame"));
  }
}

TEST_CASE("many frames through one decoder keep its memory bounded") {
  FrameDecoder decoder;
  const std::string data(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    std::string frame;
    encode(JobOutput{static_cast<uint64_t>(i), 1, data}, frame);
    decoder.feed(frame);
    const auto message = decoder.next();
    REQUIRE(message);
    CHECK(std::get<JobOutput>(*message).id == static_cast<uint64_t>(i));
  }
  CHECK(decoder.pending() == 0);
}

}  // namespace
}  // namespace taskpool::agent
