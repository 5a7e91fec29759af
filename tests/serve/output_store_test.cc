#include "cli/serve/output_store.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/serve/serve_helpers.h"

namespace taskpool {
namespace {

using testing::ScratchDir;

// Bytes that say where they were: byte i is 'a' + i % 26, so a slice shows its offset.
std::string output_pattern(uint64_t from, uint64_t size) {
  std::string out;
  for (uint64_t i = from; i < from + size; ++i) out += static_cast<char>('a' + i % 26);
  return out;
}

TEST_CASE("output within the head is kept whole, each stream apart") {
  ScratchDir dir;
  OutputStore store(dir.sub("output"), {100, 50});
  store.start(7);
  store.append(7, OutputStream::kStdout, "hello ");
  store.append(7, OutputStream::kStderr, "oops\n");
  store.append(7, OutputStream::kStdout, "world\n");
  CHECK(store.written(7, OutputStream::kStdout) == 12);
  store.finish(7);
  CHECK(store.written(7, OutputStream::kStdout) == 0);
  const OutputSlice out = store.read(7, OutputStream::kStdout, 12, 0, 1000);
  CHECK(out.data == "hello world\n");
  CHECK(out.offset == 0);
  CHECK(out.next == 12);
  CHECK(store.read(7, OutputStream::kStderr, 5, 0, 1000).data == "oops\n");
  CHECK(store.read(7, OutputStream::kStdout, 12, 6, 3).data == "wor");
  CHECK(store.read(7, OutputStream::kStdout, 12, 12, 1000).data.empty());
  CHECK(store.read(8, OutputStream::kStdout, 0, 0, 1000).data.empty());  // wrote nothing
}

TEST_CASE("long output keeps its first and last bytes, and a read skips what is not kept") {
  ScratchDir dir;
  OutputStore store(dir.sub("output"), {100, 50});
  store.start(1234);
  // Chunks of odd sizes, one larger than the whole ring, so the ring wraps at every place.
  uint64_t total = 0;
  for (const uint64_t size : {30, 90, 7, 13, 64, 3, 120, 41, 1, 49}) {
    store.append(1234, OutputStream::kStdout, output_pattern(total, size));
    total += size;
  }
  REQUIRE(store.written(1234, OutputStream::kStdout) == total);
  store.finish(1234);

  const OutputSlice head = store.read(1234, OutputStream::kStdout, total, 0, 1000);
  CHECK(head.data == output_pattern(0, 100));
  CHECK(head.next == 100);
  const OutputSlice tail = store.read(1234, OutputStream::kStdout, total, head.next, 1000);
  CHECK(tail.offset == total - 50);
  CHECK(tail.data == output_pattern(total - 50, 50));
  CHECK(tail.next == total);
  // Reads in small pieces cross the ring's end.
  std::string pieces;
  for (uint64_t at = total - 50; at < total;) {
    const OutputSlice slice = store.read(1234, OutputStream::kStdout, total, at, 7);
    REQUIRE(slice.offset == at);
    pieces += slice.data;
    at = slice.next;
  }
  CHECK(pieces == output_pattern(total - 50, 50));
}

TEST_CASE("output just past the head is all kept: the tail follows the head") {
  ScratchDir dir;
  OutputStore store(dir.sub("output"), {10, 50});
  store.append(1, OutputStream::kStdout, output_pattern(0, 30));
  const OutputSlice all = store.read(1, OutputStream::kStdout, 30, 0, 1000);
  CHECK(all.data == output_pattern(0, 30));
}

TEST_CASE("a new attempt drops the output of the one before") {
  ScratchDir dir;
  OutputStore store(dir.sub("output"), {10, 10});
  store.start(3);
  store.append(3, OutputStream::kStdout, output_pattern(0, 40));
  store.append(3, OutputStream::kStderr, "first");
  store.start(3);
  store.append(3, OutputStream::kStdout, "second");
  CHECK(store.written(3, OutputStream::kStdout) == 6);
  CHECK(store.read(3, OutputStream::kStdout, 6, 0, 100).data == "second");
  CHECK(store.read(3, OutputStream::kStderr, 0, 0, 100).data.empty());
}

}  // namespace
}  // namespace taskpool
