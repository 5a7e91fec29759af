// Whole files read and written through core/file_io.
#include "core/file_io.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

namespace taskpool {
namespace {

struct ScratchDir {
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "taskpool-file-io-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path;
};

TEST_CASE("file_io: a file written whole reads back whole, past one read's buffer") {
  ScratchDir dir;
  const std::string path = dir.path + "/f";
  const std::string data(200'000, 'x');
  REQUIRE(write_whole_file(path, data) == 0);
  std::string text;
  CHECK(read_whole_file(path, text) == 0);
  CHECK(text == data);
  // Written again: emptied first, not appended to.
  REQUIRE(write_whole_file(path, "short") == 0);
  text.clear();
  CHECK(read_whole_file(path, text) == 0);
  CHECK(text == "short");
}

TEST_CASE("file_io: max_bytes tells a file of that size from a longer one") {
  ScratchDir dir;
  const std::string path = dir.path + "/f";
  REQUIRE(write_whole_file(path, "12345") == 0);
  std::string text;
  CHECK(read_whole_file(path, text, 5) == 0);
  CHECK(text == "12345");
  text.clear();
  CHECK(read_whole_file(path, text, 4) == EFBIG);
  CHECK(text == "1234");
}

TEST_CASE("file_io: failures are errnos, not aborts") {
  ScratchDir dir;
  std::string text;
  CHECK(read_whole_file(dir.path + "/missing", text) == ENOENT);
  CHECK(write_whole_file(dir.path + "/no/such/dir/f", "x") == ENOENT);
  // O_NOFOLLOW: a symbolic link is refused.
  REQUIRE(symlink("/etc/hostname", (dir.path + "/link").c_str()) == 0);
  CHECK(read_whole_file(dir.path + "/link", text, SIZE_MAX, O_NOFOLLOW) == ELOOP);
}

TEST_CASE("file_io: a rename that would replace a file is refused unless asked, the file kept") {
  ScratchDir dir;
  const std::string from = dir.path + "/from";
  const std::string to = dir.path + "/to";
  REQUIRE(write_whole_file(from, "new") == 0);
  REQUIRE(write_whole_file(to, "theirs") == 0);
  CHECK(rename_file(from, to, false) == EEXIST);
  std::string text;
  CHECK(read_whole_file(to, text) == 0);
  CHECK(text == "theirs");
  REQUIRE(std::filesystem::remove(to));
  CHECK(rename_file(from, to, false) == 0);
  text.clear();
  CHECK(read_whole_file(to, text) == 0);
  CHECK(text == "new");
  CHECK(!std::filesystem::exists(from));
  CHECK(rename_file(from, to, false) == ENOENT);
  // Asked to replace: the file at `to` is replaced.
  REQUIRE(write_whole_file(from, "newer") == 0);
  CHECK(rename_file(from, to, true) == 0);
  text.clear();
  CHECK(read_whole_file(to, text) == 0);
  CHECK(text == "newer");
}

TEST_CASE("file_io: holds_nothing is true of an empty or missing directory only") {
  ScratchDir dir;
  CHECK(holds_nothing(dir.path));
  CHECK(holds_nothing(dir.path + "/missing"));
  REQUIRE(write_whole_file(dir.path + "/.hidden", "") == 0);
  CHECK(!holds_nothing(dir.path));
  CHECK(!holds_nothing(dir.path + "/.hidden"));  // a file, not a directory
  std::filesystem::remove(dir.path + "/.hidden");
  std::filesystem::create_directory(dir.path + "/sub");
  CHECK(!holds_nothing(dir.path));
}

TEST_CASE("nonblank_lines: the lines that say something, trailing blanks and CR dropped") {
  CHECK(nonblank_lines("").empty());
  CHECK(nonblank_lines("a\n\n  \nb c \r\nlast") == std::vector<std::string>{"a", "b c", "last"});
  CHECK(nonblank_lines("  lead\n") == std::vector<std::string>{"  lead"});
}

}  // namespace
}  // namespace taskpool
