#include "tasks/program_path.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace taskpool {
namespace {

namespace fs = std::filesystem;

// A fresh directory tree for one test, removed afterwards.
class TempTree {
 public:
  TempTree() {
    std::string pattern = (fs::temp_directory_path() / "taskpool-path-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempTree() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  std::string dir(const std::string& name) const {
    fs::create_directories(path_ / name);
    return (path_ / name).string();
  }
  std::string file(const std::string& name, mode_t mode) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE(chmod(file.c_str(), mode) == 0);  // the umask must not decide the test
    return file.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs a test from another directory and goes back, so other tests keep their current directory.
class ScopedChdir {
 public:
  explicit ScopedChdir(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedChdir() { fs::current_path(old_); }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;

 private:
  fs::path old_;
};

TEST_CASE("ProgramPath: a name with a slash is used as it is, unchecked") {
  ProgramPath programs("/nonexistent");
  CHECK(programs.resolve("/no/such/program") == "/no/such/program");
  CHECK(programs.resolve("./x") == "./x");
  CHECK(programs.resolve("a/b") == "a/b");
}

TEST_CASE("ProgramPath: finds the first regular executable file along PATH") {
  TempTree tmp;
  const std::string plain = tmp.dir("plain");  // holds a file without the execute bit
  const std::string dirs = tmp.dir("dirs");    // holds a directory of that name
  const std::string good = tmp.dir("good");
  const std::string later = tmp.dir("later");
  tmp.file("plain/prog", 0644);
  tmp.dir("dirs/prog");
  const std::string expected = tmp.file("good/prog", 0755);
  tmp.file("later/prog", 0755);

  ProgramPath programs(plain + ":" + dirs + ":" + good + ":" + later);
  CHECK(programs.resolve("prog") == expected);
}

TEST_CASE("ProgramPath: PATH order decides") {
  TempTree tmp;
  const std::string first = tmp.file("b/tool", 0755);
  const std::string second = tmp.file("a/tool", 0755);
  CHECK(ProgramPath(tmp.dir("b") + ":" + tmp.dir("a")).resolve("tool") == first);
  CHECK(ProgramPath(tmp.dir("a") + ":" + tmp.dir("b")).resolve("tool") == second);
}

TEST_CASE("ProgramPath: not found") {
  TempTree tmp;
  tmp.file("d/noexec", 0644);
  ProgramPath programs(tmp.dir("d") + ":/nonexistent");
  CHECK(programs.resolve("noexec") == std::nullopt);
  CHECK(programs.resolve("missing") == std::nullopt);
  CHECK(programs.resolve("") == std::nullopt);
  CHECK(ProgramPath("").resolve("taskpool-surely-missing") == std::nullopt);
}

TEST_CASE("ProgramPath: an empty entry is the current directory") {
  TempTree tmp;
  tmp.file("here", 0755);
  const std::string other = tmp.dir("other");
  ScopedChdir chdir(tmp.path());
  CHECK(ProgramPath(other + "::/nonexistent").resolve("here") == "./here");
  CHECK(ProgramPath(":" + other).resolve("here") == "./here");
  CHECK(ProgramPath(other + ":").resolve("here") == "./here");
  CHECK(ProgramPath(other).resolve("here") == std::nullopt);
}

TEST_CASE("ProgramPath: finds real programs") {
  ProgramPath programs("/nonexistent:/usr/bin:/bin");
  const auto sh = programs.resolve("sh");
  REQUIRE(sh.has_value());
  CHECK((*sh == "/usr/bin/sh" || *sh == "/bin/sh"));
}

TEST_CASE("ProgramPath: results are cached, found or not") {
  TempTree tmp;
  const std::string dir = tmp.dir("bin");
  ProgramPath programs(dir);
  CHECK(programs.resolve("later") == std::nullopt);
  const std::string program = tmp.file("bin/prog", 0755);
  CHECK(programs.resolve("prog") == program);

  tmp.file("bin/later", 0755);
  fs::remove(program);
  // Like the shell's hash table: a name is looked up once per run.
  CHECK(programs.resolve("later") == std::nullopt);
  CHECK(programs.resolve("prog") == program);
}

TEST_CASE("ProgramPath: many names do not break the bounded cache") {
  TempTree tmp;
  const std::string program = tmp.file("bin/prog", 0755);
  ProgramPath programs(tmp.dir("bin"));
  for (int i = 0; i < 3000; ++i) {
    CHECK(programs.resolve("name" + std::to_string(i)) == std::nullopt);
    if (i % 500 == 0) CHECK(programs.resolve("prog") == program);
  }
  CHECK(programs.resolve("prog") == program);
}

TEST_CASE("own_program: this program's path, and a program's beside it") {
  const std::string self = own_program();
  CHECK(self == fs::canonical("/proc/self/exe").string());
  const std::string dir = fs::path(self).parent_path().string();
  CHECK(program_beside_own("taskpool-guard") == dir + "/taskpool-guard");
}

}  // namespace
}  // namespace taskpool
