#include "core/output_buffer.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <optional>
#include <string>

#include "core/error.h"

namespace taskpool {
namespace {

std::string read_all(const OutputBuffer& buffer) {
  std::string all;
  buffer.for_each_chunk([&](std::string_view chunk) {
    CHECK(!chunk.empty());
    all.append(chunk);
  });
  return all;
}

// Bytes that differ from their neighbours, so a lost or repeated chunk shows.
std::string pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 7919 + i / 65536) % 251);
  return data;
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_CASE("OutputBuffer: empty") {
  OutputBuffer buffer;
  CHECK(buffer.empty());
  CHECK(buffer.size() == 0);
  CHECK(!buffer.spilled());
  buffer.append("");
  CHECK(buffer.empty());
  int calls = 0;
  buffer.for_each_chunk([&](std::string_view) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("OutputBuffer: small content stays in memory") {
  OutputBuffer buffer(100);
  buffer.append("hello ");
  buffer.append("world\n");
  CHECK(buffer.size() == 12);
  CHECK(!buffer.spilled());
  CHECK(read_all(buffer) == "hello world\n");

  buffer.append(std::string(88, 'x'));  // exactly at the limit
  CHECK(!buffer.spilled());
  CHECK(buffer.size() == 100);
}

TEST_CASE("OutputBuffer: past the limit everything moves to a file") {
  OutputBuffer buffer(10);
  buffer.append("0123456789");
  CHECK(!buffer.spilled());
  buffer.append("a");
  CHECK(buffer.spilled());
  CHECK(buffer.size() == 11);
  CHECK(read_all(buffer) == "0123456789a");
}

TEST_CASE("OutputBuffer: megabytes spill and read back identically") {
  const std::string data = pattern(5 * 1024 * 1024 + 123);
  OutputBuffer buffer(64 * 1024);
  // Odd-sized pieces, so chunk boundaries on write and read never line up.
  for (size_t at = 0; at < data.size(); at += 10007) {
    buffer.append(std::string_view(data).substr(at, 10007));
  }
  CHECK(buffer.spilled());
  CHECK(buffer.size() == data.size());

  size_t chunks = 0;
  size_t largest = 0;
  std::string back;
  buffer.for_each_chunk([&](std::string_view chunk) {
    ++chunks;
    largest = std::max(largest, chunk.size());
    back.append(chunk);
  });
  CHECK(back == data);
  CHECK(chunks > 1);
  CHECK(largest <= 64 * 1024);
  // Reading does not consume: a second pass sees the same content.
  CHECK(read_all(buffer) == data);
}

TEST_CASE("OutputBuffer: a zero limit spills on the first byte") {
  OutputBuffer buffer(0);
  buffer.append("x");
  CHECK(buffer.spilled());
  CHECK(read_all(buffer) == "x");
}

TEST_CASE("OutputBuffer: move construction and assignment carry the content") {
  SUBCASE("in memory") {
    OutputBuffer a;
    a.append("abc");
    OutputBuffer b(std::move(a));
    CHECK(b.size() == 3);
    CHECK(read_all(b) == "abc");
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract

    OutputBuffer c;
    c.append("old");
    c = std::move(b);
    CHECK(read_all(c) == "abc");
    CHECK(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  }
  SUBCASE("spilled") {
    const std::string data = pattern(300 * 1024);
    OutputBuffer a(1024);
    a.append(data);
    REQUIRE(a.spilled());
    OutputBuffer b(std::move(a));
    CHECK(b.spilled());
    CHECK(!a.spilled());  // NOLINT(bugprone-use-after-move): the file moved with the content
    CHECK(read_all(b) == data);

    OutputBuffer c(1024);
    c.append(pattern(5000));  // c owns a file too; assignment must close it, not leak it
    REQUIRE(c.spilled());
    c = std::move(b);
    CHECK(read_all(c) == data);

    // The moved-from buffer is usable again.
    b.append("again");  // NOLINT(bugprone-use-after-move): reuse after a move is the test
    CHECK(read_all(b) == "again");
  }
}

TEST_CASE("OutputBuffer: a temporary directory that does not exist is an Error naming it") {
  ScopedEnv tmpdir("TMPDIR", "/nonexistent/taskpool-test-dir");
  OutputBuffer buffer(4);
  buffer.append("1234");
  try {
    buffer.append("5");
    FAIL("append should have thrown");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find("/nonexistent/taskpool-test-dir") != std::string::npos);
    CHECK(message.find("No such file or directory") != std::string::npos);
  }
  // Nothing was lost: the buffer is still the in-memory one.
  CHECK(!buffer.spilled());
  CHECK(buffer.size() == 4);
  CHECK(read_all(buffer) == "1234");
}

TEST_CASE("OutputBuffer: spill() moves small content to a file and gives the memory back") {
  OutputBuffer buffer(1024);
  buffer.append("held");
  CHECK(buffer.memory_size() == 4);
  buffer.spill();
  CHECK(buffer.spilled());
  CHECK(buffer.memory_size() == 0);
  buffer.append(" more");
  CHECK(read_all(buffer) == "held more");
  buffer.spill();  // once spilled, nothing to do
  CHECK(read_all(buffer) == "held more");
}

TEST_CASE("OutputBuffer: spill() without room keeps the content in memory") {
  ScopedEnv tmpdir("TMPDIR", "/nonexistent/taskpool-test-dir");
  OutputBuffer buffer(1024);
  buffer.append("kept");
  CHECK_THROWS_AS(buffer.spill(), Error);
  CHECK(!buffer.spilled());
  CHECK(read_all(buffer) == "kept");
}

}  // namespace
}  // namespace taskpool
