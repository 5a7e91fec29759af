#include "core/block_reader.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/unique_fd.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Blocks = std::vector<std::string>;

// The blocks a BlockReader cuts `input` into, read from a pipe fed by a thread in pieces of
// `piece` bytes (so that boundaries fall across reads).
Blocks blocks_of(const std::string& input, BlockOptions options, size_t piece = 3) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  UniqueFd read_end(fds[0]);
  std::thread writer([&input, piece, write_end = UniqueFd(fds[1])] {
    for (size_t pos = 0; pos < input.size(); pos += piece) {
      write_to_end(write_end.get(), std::string_view(input).substr(pos, piece));
    }
  });
  Blocks blocks;
  BlockReader reader(read_end.get(), std::move(options), "stdin");
  while (auto block = reader.next()) blocks.push_back(*block);
  writer.join();
  return blocks;
}

BlockOptions by_size(size_t size, RecordBoundary boundary = {}) {
  BlockOptions options;
  options.block_size = size;
  options.boundary = std::move(boundary);
  return options;
}

std::string joined(const Blocks& blocks) {
  std::string all;
  for (const auto& block : blocks) all += block;
  return all;
}

TEST_CASE("blocks hold the most whole lines that fit in the block size") {
  // GNU parallel: seq 10 | parallel --pipe --block 5 gives 1 2 | 3 4 | 5 6 | 7 8 | 9 10.
  const Blocks blocks = blocks_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", by_size(5));
  CHECK(testing::show(blocks) ==
        testing::show({"1\n2\n", "3\n4\n", "5\n6\n", "7\n8\n", "9\n10\n"}));
}

TEST_CASE("a record longer than a block is a block of its own, whole") {
  const std::string long_line(10000, 'x');
  const std::string input = "a\n" + long_line + "\nb\n";
  const Blocks blocks = blocks_of(input, by_size(1024), 700);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0] == "a\n");
  CHECK(blocks[1] == long_line + "\n");
  CHECK(blocks[2] == "b\n");
}

TEST_CASE("the last record needs no record end, and empty input gives no block") {
  CHECK(testing::show(blocks_of("a\nb", by_size(2))) == testing::show({"a\n", "b"}));
  CHECK(blocks_of("", by_size(10)).empty());
}

TEST_CASE("input longer than a block is cut at a boundary even at its end, as GNU parallel") {
  // "bb\nc" fits in 4 bytes but is not the end of a shorter read: GNU parallel gives bb, then c.
  CHECK(testing::show(blocks_of("a\nbb\nc", by_size(4))) == testing::show({"a\n", "bb\n", "c"}));
  // A boundary counts only with its next record's start within the block size.
  const Blocks blocks = blocks_of(">a\nAC>G\n>b\n", by_size(8, {">", ""}), 1);
  CHECK(testing::show(blocks) == testing::show({">a\nAC", ">G\n>b\n"}));
}

TEST_CASE("CRLF lines are cut after their \\n, never between \\r and \\n") {
  const Blocks blocks = blocks_of("ab\r\ncd\r\nef\r\n", by_size(5, {"", "\r\n"}));
  CHECK(testing::show(blocks) == testing::show({"ab\r\n", "cd\r\n", "ef\r\n"}));
}

TEST_CASE("--recstart and --recend together cut only between an end and a start") {
  // FASTA-like: records start with '>'; a '>' inside a line is no boundary.
  const std::string input = ">a\nAC>G\n>b\nTT\n>c\nGG\n";
  const Blocks blocks = blocks_of(input, by_size(8, {">", "\n"}), 1);
  CHECK(testing::show(blocks) == testing::show({">a\nAC>G\n", ">b\nTT\n", ">c\nGG\n"}));
  CHECK(joined(blocks) == input);
}

TEST_CASE("--recstart alone cuts before each start") {
  const Blocks blocks = blocks_of("#1 x\n#2 y\n#3 z", by_size(6, {"#", ""}));
  CHECK(testing::show(blocks) == testing::show({"#1 x\n", "#2 y\n", "#3 z"}));
}

TEST_CASE("-N makes blocks of exactly N records whatever the block size") {
  BlockOptions options = by_size(1);
  options.records = 3;
  const Blocks blocks = blocks_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", options);
  CHECK(testing::show(blocks) == testing::show({"1\n2\n3\n", "4\n5\n6\n", "7\n8\n9\n", "10\n"}));
}

TEST_CASE("--header N puts the first N lines before every block") {
  BlockOptions options = by_size(100);
  options.records = 1;
  options.header_lines = 2;
  const Blocks blocks = blocks_of("h1\nh2\n1\n2\n", options);
  CHECK(testing::show(blocks) == testing::show({"h1\nh2\n1\n", "h1\nh2\n2\n"}));
  CHECK(blocks_of("h1\nh2\n", options).empty());
}

TEST_CASE("blocks of a large input join back to it, each within the block size") {
  std::string input;
  for (int i = 0; i < 20000; ++i) input += std::to_string(i * 7919 % 100003) + "\n";
  const Blocks blocks = blocks_of(input, by_size(4096), 5000);
  CHECK(joined(blocks) == input);
  for (const auto& block : blocks) {
    CHECK(block.size() <= 4096);
    CHECK(block.back() == '\n');
  }
  CHECK(blocks.size() > input.size() / 4096);
}

TEST_CASE("boundaries are found from either side") {
  const RecordBoundary lines;
  CHECK(first_boundary("ab\ncd\n", 0, lines) == 3);
  CHECK(first_boundary("ab\ncd\n", 3, lines) == 6);
  CHECK(first_boundary("abcd", 0, lines) == std::string::npos);
  CHECK(last_boundary("ab\ncd\nef", 0, 5, lines) == 3);
  CHECK(last_boundary("ab\ncd\nef", 0, 6, lines) == 6);
  CHECK(last_boundary("ab\ncd\nef", 3, 5, lines) == std::string::npos);
  // A boundary whose start has not been read yet is not one yet.
  CHECK(first_boundary("a\n", 0, {">", "\n"}) == std::string::npos);
}

TEST_CASE("--pipepart ranges end at the first boundary after each block size and cover the file") {
  std::string input;
  for (int i = 0; i < 5000; ++i) input += ">r" + std::to_string(i) + "\nAC>GT\n";
  UniqueFd file(memfd_create("parts", MFD_CLOEXEC));
  REQUIRE(file.valid());
  REQUIRE(write_to_end(file.get(), input) == 0);
  for (const RecordBoundary& boundary : {RecordBoundary{}, RecordBoundary{">", "\n"}}) {
    PartCutter cutter(file.get(), input.size(), boundary, 1000, "parts");
    uint64_t expected_offset = 0;
    size_t ranges = 0;
    while (auto range = cutter.next()) {
      CHECK(range->offset == expected_offset);
      const uint64_t end = range->offset + range->length;
      CHECK((range->length >= 1000 || end == input.size()));
      if (end < input.size()) {
        CHECK(input[end - 1] == '\n');
        if (!boundary.start.empty()) CHECK(input.compare(end, 2, ">r") == 0);
      }
      expected_offset = end;
      ++ranges;
    }
    CHECK(expected_offset == input.size());
    CHECK(ranges > 10);
  }
}

TEST_CASE("a read error names the input") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  BlockReader reader(write_end.get(), by_size(10), "blocks.txt");  // not readable
  CHECK_THROWS_WITH_AS(reader.next(), doctest::Contains("cannot read blocks.txt"), Error);
}

}  // namespace
}  // namespace taskpool
