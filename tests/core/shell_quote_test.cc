#include "core/shell_quote.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/template.h"

namespace taskpool {
namespace {

struct RunResult {
  std::string out;
  int status = -1;
};

// Runs `argv` (argv[0] is a path) with stdin from /dev/null and returns its stdout and wait status.
RunResult run(const std::vector<std::string>& argv) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  RunResult result;
  if (spawned != 0) {
    close(fds[0]);
    FAIL("posix_spawn failed: " << spawned);
    return result;
  }
  char buf[65536];
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

// Runs a script with /bin/sh: with -c when it fits in one argument, from a file otherwise (the
// kernel limits a single argument to 128 KiB).
RunResult run_sh(const std::string& script) {
  if (script.size() < 100 * 1024) return run({"/bin/sh", "-c", script});
  char path[] = "/tmp/taskpool-quote-test-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  size_t done = 0;
  while (done < script.size()) {
    const ssize_t n = write(fd, script.data() + done, script.size() - done);
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
  close(fd);
  RunResult result = run({"/bin/sh", path});
  unlink(path);
  return result;
}

// What `printf %s <quoted>` prints: exactly `s` when the quoting is right.
std::string round_trip(const std::string& s) {
  const RunResult result = run_sh("printf %s " + shell_quote(s));
  CHECK(result.status == 0);
  return result.out;
}

std::vector<std::string> hostile_strings() {
  std::vector<std::string> strings = {
      "",
      " ",
      "a b",
      "  leading and trailing  ",
      "'",
      "''",
      "it's",
      "'\"'\"'",
      "\"",
      "\"quoted\"",
      "$(reboot)",
      "$HOME",
      "${HOME}",
      "$((1+1))",
      "`id`",
      "x; touch pwned",
      "a && b",
      "a || b",
      "a | b",
      "a > b",
      "a < b",
      "a >> b 2>&1",
      "*",
      "*.cc",
      "?",
      "[abc]",
      "~",
      "~root",
      "-n",
      "--help",
      "-",
      "#",
      "# comment",
      "a#b",
      "\n",
      "a\nb\n",
      "\t",
      "a\tb",
      "\\",
      "\\\\",
      "a\\nb",
      "\\'",
      "'\\''",
      "!",
      "!!",
      "{a,b}",
      "{}",
      "(subshell)",
      "a=b",
      "%s%d",
      "é",
      "日本語 テキスト",
      "\xf0\x9f\x98\x80",
      "\r\n",
      "end\\",
  };
  std::string low;
  for (int c = 0x01; c <= 0x1f; ++c) {
    strings.emplace_back(1, static_cast<char>(c));
    low += static_cast<char>(c);
  }
  strings.push_back(low);
  std::string high;
  for (int c = 0x80; c <= 0xff; ++c) {
    strings.emplace_back(1, static_cast<char>(c));
    high += static_cast<char>(c);
  }
  strings.push_back(high);
  std::string all;
  for (int c = 0x01; c <= 0xff; ++c) all += static_cast<char>(c);
  strings.push_back(all);
  return strings;
}

TEST_CASE("is_shell_safe accepts only letters, digits and _-./+") {
  CHECK(is_shell_safe("a"));
  CHECK(is_shell_safe("abcXYZ"));
  CHECK(is_shell_safe("0123456789"));
  CHECK(is_shell_safe("_-./+"));
  CHECK(is_shell_safe("file.txt"));
  CHECK(is_shell_safe("/usr/local/bin/tool"));
  CHECK(is_shell_safe("-n"));
  CHECK(is_shell_safe("--flag"));
  CHECK(is_shell_safe("a+b"));
  CHECK(is_shell_safe("../x_y-z"));

  CHECK_FALSE(is_shell_safe(""));
  CHECK_FALSE(is_shell_safe(" "));
  CHECK_FALSE(is_shell_safe("a b"));
  CHECK_FALSE(is_shell_safe("a\tb"));
  CHECK_FALSE(is_shell_safe("a\nb"));
  CHECK_FALSE(is_shell_safe(std::string("a\0b", 3)));
  for (const char* unsafe : {"'", "\"", "$", "`", "\\", ";", "&", "|", "<", ">", "(", ")", "{", "}",
                             "[", "]",  "*", "?", "~",  "#", "!", "=", "%", ",", ":", "@", "^"}) {
    CAPTURE(unsafe);
    CHECK_FALSE(is_shell_safe(unsafe));
    CHECK_FALSE(is_shell_safe(std::string("abc") + unsafe + "def"));
  }
  CHECK_FALSE(is_shell_safe("é"));
  CHECK_FALSE(is_shell_safe("\x80"));
  CHECK_FALSE(is_shell_safe("\xff"));
  CHECK_FALSE(is_shell_safe("\x01"));
  CHECK_FALSE(is_shell_safe("\x7f"));
}

TEST_CASE("shell_quote leaves safe words alone and quotes the rest as GNU parallel does") {
  CHECK(shell_quote("abc") == "abc");
  CHECK(shell_quote("a/b.c") == "a/b.c");
  CHECK(shell_quote("-x") == "-x");
  CHECK(shell_quote("a+b_c") == "a+b_c");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("a=b") == "'a=b'");
  CHECK(shell_quote("a~") == "'a~'");
  CHECK(shell_quote("é") == "'é'");
  CHECK(shell_quote("a\\b") == "'a\\b'");
  CHECK(shell_quote("{}") == "'{}'");
  CHECK(shell_quote("it's") == "'it'\"'\"'s'");
  CHECK(shell_quote("'") == "''\"'\"''");
  CHECK(shell_quote("$(reboot)") == "'$(reboot)'");
  CHECK(shell_quote("a\nb") == "'a\nb'");
}

TEST_CASE("a quoted string is read back by /bin/sh byte for byte") {
  for (const std::string& s : hostile_strings()) {
    CAPTURE(s);
    CHECK(round_trip(s) == s);
  }
}

TEST_CASE("each quoted string is exactly one word, and quoted strings concatenate") {
  const std::vector<std::string> strings = hostile_strings();
  std::string script = "printf '%s\\0'";
  std::string expected;
  for (const std::string& s : strings) {
    script += ' ' + shell_quote(s);
    expected += s;
    expected += '\0';
  }
  const RunResult words = run_sh(script);
  CHECK(words.status == 0);
  CHECK(words.out == expected);

  // Two quoted strings side by side form one word holding both.
  for (size_t i = 0; i + 1 < strings.size(); ++i) {
    const std::string& a = strings[i];
    const std::string& b = strings[i + 1];
    CAPTURE(a);
    CAPTURE(b);
    const RunResult joined =
        run_sh("printf '%s\\0' " + shell_quote(a) + shell_quote(b) + "x" + shell_quote(a));
    CHECK(joined.out == a + b + "x" + a + std::string(1, '\0'));
  }
}

TEST_CASE("random strings of every byte but NUL survive quoting") {
  std::mt19937 random(20240601);
  std::uniform_int_distribution<int> byte(1, 255);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<size_t>(length(random)), ' ');
    for (char& c : s) c = static_cast<char>(byte(random));
    CAPTURE(i);
    CHECK(round_trip(s) == s);
  }
}

TEST_CASE("a 1 MiB random string survives quoting") {
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> byte(1, 255);
  std::string s(1024 * 1024, ' ');
  for (char& c : s) c = static_cast<char>(byte(random));
  const std::string back = round_trip(s);
  CHECK(back.size() == s.size());
  CHECK(back == s);
}

TEST_CASE("a quoted value cannot run a command") {
  char dir_template[] = "/tmp/taskpool-quote-pwned-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string d = dir;
  const std::vector<std::string> attacks = {
      "x; touch pwned", "x && touch pwned",   "x | touch pwned", "$(touch pwned)",
      "`touch pwned`",  "x'; touch pwned; '", "x\ntouch pwned",  "x\"; touch pwned; \"",
  };
  for (const std::string& attack : attacks) {
    CAPTURE(attack);
    const RunResult result = run_sh("cd " + shell_quote(d) + " && echo " + shell_quote(attack));
    CHECK(result.status == 0);
    CHECK(result.out == attack + "\n");
    struct stat st;
    CHECK(stat((d + "/pwned").c_str(), &st) != 0);
  }
  // The same text unquoted does create the file, so the check above can see an injection.
  run_sh("cd " + shell_quote(d) + " && echo x; touch pwned");
  struct stat st;
  CHECK(stat((d + "/pwned").c_str(), &st) == 0);
  unlink((d + "/pwned").c_str());
  rmdir(dir);
}

// Random strings over the bytes the shell reads as syntax (and a few plain ones), so quotes,
// backslashes and expansions come packed together, as uniform random bytes seldom have them.
std::vector<std::string> quote_heavy_strings(size_t count) {
  constexpr std::string_view kBytes = "'\"\\$`!*?[]{}()<>;&|#~=% \t\na-./+\x01\x7f\xc3\xa9\xff";
  std::mt19937 random(4242);
  std::uniform_int_distribution<size_t> pick(0, kBytes.size() - 1);
  std::uniform_int_distribution<int> length(0, 24);
  std::vector<std::string> strings;
  for (size_t i = 0; i < count; ++i) {
    std::string s(static_cast<size_t>(length(random)), ' ');
    for (char& c : s) c = kBytes[pick(random)];
    strings.push_back(std::move(s));
  }
  return strings;
}

TEST_CASE("quote-heavy random strings survive quoting through /bin/sh") {
  for (const std::string& s : quote_heavy_strings(150)) {
    CAPTURE(s);
    CHECK(round_trip(s) == s);
  }
}

// The fuzz target tests/fuzz/template_quote_fuzz.cc checks expansion with an in-process reader of
// shell words; this checks the same lines with the real shell, and argv by running it directly.
TEST_CASE("a record expanded into a command reaches the program byte for byte, shell or not") {
  std::vector<std::string> records = hostile_strings();
  const std::vector<std::string> more = quote_heavy_strings(100);
  records.insert(records.end(), more.begin(), more.end());
  // The shell's printf, so one shell runs every line; /usr/bin/printf needs no shell.
  const CommandTemplate in_shell({"printf", "'%s\\0'", "{}"});
  const CommandTemplate direct({"/usr/bin/printf", "'%s\\0'", "{}"});
  std::string script;
  std::string expected;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string& record = records[i];
    CAPTURE(record);
    Job job;
    job.seq = i + 1;
    job.record.fields = {record};
    script += in_shell.expand(job, 1).line + "\n";
    expected += record + std::string(1, '\0');
    const Command c = direct.expand(job, 1);
    REQUIRE(c.argv.size() == 3);
    CHECK(c.argv[2] == record);
    if (i % 4 == 0) CHECK(run(c.argv).out == record + std::string(1, '\0'));
  }
  const RunResult shell = run_sh(script);
  CHECK(shell.status == 0);
  CHECK(shell.out == expected);
}

}  // namespace
}  // namespace taskpool
