#include "tasks/part_writer.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"

namespace taskpool {
namespace {

namespace fs = std::filesystem;

struct WriterDir {
  WriterDir() {
    std::string pattern = (fs::temp_directory_path() / "taskpool-part-writer-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~WriterDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  WriterDir(const WriterDir&) = delete;
  WriterDir& operator=(const WriterDir&) = delete;
  fs::path path;
};

PartWriter::File file_in(const WriterDir& dir, WorkerId worker, const std::string& name,
                         std::string body) {
  const std::string final_path = (dir.path / name).string();
  return {worker,
          "http://example.test/" + name,
          final_path + ".part",
          final_path + ".part.meta",
          final_path,
          std::move(body)};
}

std::string contents_of(const fs::path& path) {
  std::string text;
  REQUIRE(read_whole_file(path.string(), text) == 0);
  return text;
}

// Waits as the fetching thread does: a sleep announced, ended by the wake-up.
std::vector<PartWriter::Written> wait_for_written(PartWriter& writer, size_t count) {
  std::vector<PartWriter::Written> all;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (all.size() < count && std::chrono::steady_clock::now() < give_up) {
    for (PartWriter::Written& w : writer.take()) all.push_back(std::move(w));
    if (all.size() >= count || !writer.will_sleep()) continue;
    pollfd fd{writer.wake_fd(), POLLIN, 0};
    const int n = poll(&fd, 1, 30000);
    writer.awake(n > 0);
    CHECK(n == 1);  // a file written while it slept woke it
  }
  return all;
}

TEST_CASE("PartWriter: each file is written whole under its name, and its .part is gone") {
  WriterDir dir;
  REQUIRE(write_whole_file((dir.path / "a.part.meta").string(), "a stale record") == 0);
  PartWriter writer;
  writer.write(file_in(dir, 1, "a", std::string(4096, 'a')));
  writer.write(file_in(dir, 2, "b", "bee"));
  const auto written = wait_for_written(writer, 2);
  REQUIRE(written.size() == 2);
  for (const PartWriter::Written& w : written) {
    CHECK(w.write_error == 0);
    CHECK(w.rename_error == 0);
    CHECK(w.buffer.empty());
  }
  CHECK(contents_of(dir.path / "a") == std::string(4096, 'a'));
  CHECK(contents_of(dir.path / "b") == "bee");
  CHECK_FALSE(fs::exists(dir.path / "a.part"));
  CHECK_FALSE(fs::exists(dir.path / "a.part.meta"));  // the stale record removed
  CHECK(writer.take().empty());
}

TEST_CASE("PartWriter: a file it cannot put in place says which step failed, and why") {
  WriterDir dir;
  fs::create_directories(dir.path / "in-the-way" / "kept");
  PartWriter writer;
  writer.write(file_in(dir, 3, "in-the-way", "data"));
  writer.write(file_in(dir, 4, "no-such-dir/x", "data"));
  auto written = wait_for_written(writer, 2);
  REQUIRE(written.size() == 2);
  if (written[0].worker != 3) std::swap(written[0], written[1]);
  CHECK(written[0].write_error == 0);
  CHECK(written[0].rename_error != 0);  // a directory that is not empty
  CHECK(fs::exists(dir.path / "in-the-way" / "kept"));
  CHECK(written[1].write_error == ENOENT);
  CHECK(written[1].rename_error == 0);
}

TEST_CASE("PartWriter: a file already under the name is kept, unless it is to be replaced") {
  WriterDir dir;
  REQUIRE(write_whole_file((dir.path / "k").string(), "theirs") == 0);
  REQUIRE(write_whole_file((dir.path / "r").string(), "theirs") == 0);
  PartWriter writer;
  writer.write(file_in(dir, 1, "k", "ours"));
  PartWriter::File replaced = file_in(dir, 2, "r", "ours");
  replaced.replace = true;
  writer.write(std::move(replaced));
  auto written = wait_for_written(writer, 2);
  REQUIRE(written.size() == 2);
  if (written[0].worker != 1) std::swap(written[0], written[1]);
  CHECK(written[0].rename_error == EEXIST);
  CHECK(contents_of(dir.path / "k") == "theirs");
  CHECK(fs::exists(dir.path / "k.part"));  // the caller's to remove (FetchExecutor::renamed_not)
  CHECK(written[1].rename_error == 0);
  CHECK(contents_of(dir.path / "r") == "ours");
}

TEST_CASE("PartWriter: a file written and not yet taken keeps the caller from sleeping") {
  WriterDir dir;
  PartWriter writer;
  writer.write(file_in(dir, 5, "c", "sea"));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool slept = true;
  while (slept && std::chrono::steady_clock::now() < give_up) {
    slept = writer.will_sleep();
    if (slept) writer.awake(false);
  }
  REQUIRE_FALSE(slept);
  CHECK_FALSE(writer.will_sleep());  // still not taken
  const auto written = writer.take();
  REQUIRE(written.size() == 1);
  CHECK(written[0].worker == 5);
  CHECK(writer.will_sleep());  // nothing left: it may sleep
  writer.awake(false);
}

TEST_CASE("PartWriter: files given before it is destroyed are written") {
  WriterDir dir;
  {
    PartWriter writer;
    for (int i = 0; i < 50; ++i) writer.write(file_in(dir, i, "f" + std::to_string(i), "x"));
  }
  for (int i = 0; i < 50; ++i) CHECK(contents_of(dir.path / ("f" + std::to_string(i))) == "x");
}

}  // namespace
}  // namespace taskpool
