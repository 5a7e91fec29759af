#include "core/command.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Words = std::vector<std::string>;

// The words /bin/sh makes of `line` when `line` is the arguments of printf: one NUL-ended
// string per word.
std::string sh_words(const std::string& line) {
  const std::string script = "printf '%s\\0' " + line;
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  REQUIRE(spawned == 0);
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CHECK(status == 0);
  return out;
}

std::string nul_joined(const Words& words) {
  std::string out;
  for (const std::string& w : words) {
    out += w;
    out += '\0';
  }
  return out;
}

using testing::show;

void check_split(const std::string& line, const Words& expected) {
  CAPTURE(line);
  const std::optional<Words> words = split_simple_command(line);
  REQUIRE(words.has_value());
  CHECK(show(*words) == show(expected));
  // What the shell makes of the same line.
  CHECK(sh_words(line) == nul_joined(expected));
}

void check_rejected(const std::string& line) {
  CAPTURE(line);
  CHECK_FALSE(split_simple_command(line).has_value());
}

TEST_CASE("plain words are split at blanks") {
  check_split("cat", {"cat"});
  check_split("cat a b", {"cat", "a", "b"});
  check_split("  cat   a    b  ", {"cat", "a", "b"});
  check_split("cat\ta\t\tb", {"cat", "a", "b"});
  check_split("/bin/ls -l --color=never /tmp", {"/bin/ls", "-l", "--color=never", "/tmp"});
  check_split("grep -c a+b file_1.txt x,y x:y x@y 100%",
              {"grep", "-c", "a+b", "file_1.txt", "x,y", "x:y", "x@y", "100%"});
  check_split("cat a~ a#b", {"cat", "a~", "a#b"});
  check_split("cat é 日本", {"cat", "é", "日本"});
}

TEST_CASE("single quotes keep everything literal") {
  check_split("cat 'a b'", {"cat", "a b"});
  check_split("cat '$HOME' '`id`' '$(reboot)'", {"cat", "$HOME", "`id`", "$(reboot)"});
  check_split("cat '; | & < > ( ) * ? [ ] ~ # !'", {"cat", "; | & < > ( ) * ? [ ] ~ # !"});
  check_split("cat 'back\\slash' '\"'", {"cat", "back\\slash", "\""});
  check_split("cat 'é 日本'", {"cat", "é 日本"});
  check_split("cat '*.cc' '~' '#x'", {"cat", "*.cc", "~", "#x"});
}

TEST_CASE("double quotes without $, ` and backslash keep their content") {
  check_split("cat \"a b\"", {"cat", "a b"});
  check_split("cat \"it's\"", {"cat", "it's"});
  check_split("cat \"*.cc\" \"a?\" \"[x]\" \"~\" \"#x\"", {"cat", "*.cc", "a?", "[x]", "~", "#x"});
  check_split("cat \"a;b|c&d<e>f(g)\"", {"cat", "a;b|c&d<e>f(g)"});
}

TEST_CASE("backslash escapes one character") {
  check_split("cat a\\ b", {"cat", "a b"});
  check_split("cat \\$HOME", {"cat", "$HOME"});
  check_split("cat \\'", {"cat", "'"});
  check_split("cat \\\"", {"cat", "\""});
  check_split("cat \\\\", {"cat", "\\"});
  check_split("cat \\*", {"cat", "*"});
  check_split("cat \\;", {"cat", ";"});
  check_split("cat \\#x \\~", {"cat", "#x", "~"});
  check_split("cat \\a\\b", {"cat", "ab"});
}

TEST_CASE("quoted empty strings are empty words, and quoted parts join into one word") {
  check_split("cat ''", {"cat", ""});
  check_split("cat \"\"", {"cat", ""});
  check_split("cat '' ''", {"cat", "", ""});
  check_split("cat a'b c'\"d e\"f", {"cat", "ab cd ef"});
  check_split("cat ''a", {"cat", "a"});
  check_split("cat a''", {"cat", "a"});
  check_split("c'a't", {"cat"});
  check_split("cat x\\ 'y z'\" w\"", {"cat", "x y z w"});
  // A tilde after a quoted part is not at the start of the word.
  check_split("cat ''~ \"\"~x a''~", {"cat", "~", "~x", "a~"});
}

TEST_CASE("operators, redirections and expansions need the shell") {
  for (const char* line : {
           "cat a; cat b", "cat a;",       "cat a | wc",    "cat a|wc",     "cat a && b",
           "cat a || b",   "cat a &",      "cat a&",        "cat < in",     "cat a > out",
           "cat a>out",    "cat a >> out", "cat a 2>&1",    "cat (a)",      "(cat a)",
           "cat a)",       "cat $HOME",    "cat a$b",       "cat ${x}",     "cat $(id)",
           "cat `id`",     "cat a`id`",    "cat \"$HOME\"", "cat \"`id`\"", "cat \"a\\b\"",
           "cat \"\\\"\"", "cat \"a!b\"",  "cat a\nb",      "cat a\n",      "cat a\\\nb",
       }) {
    check_rejected(line);
  }
}

TEST_CASE("globs, tilde and comments need the shell") {
  for (const char* line : {
           "cat *",
           "cat *.cc",
           "cat a*",
           "cat a?",
           "cat ?",
           "cat [ab]",
           "cat a[b]",
           "cat ~",
           "cat ~/x",
           "cat ~root",
           "cat #comment",
           "cat a #comment",
           "cat a # comment",
       }) {
    check_rejected(line);
  }
}

TEST_CASE("keywords need the shell") {
  for (const char* line : {
           "if true",
           "then x",
           "else x",
           "elif x",
           "fi",
           "for x in a b",
           "while true",
           "until true",
           "do x",
           "done",
           "case x in",
           "esac",
           "! cat a",
           "{ cat a",
           "}",
           "[[ -f x ]]",
       }) {
    check_rejected(line);
  }
}

TEST_CASE("assignments before the command need the shell") {
  check_rejected("FOO=1 cat a");
  check_rejected("FOO=1");
  check_rejected("_x=1 cat a");
  check_rejected("A=1 B=2 cat a");
  // After the command name an assignment is a plain word.
  check_split("cat FOO=1", {"cat", "FOO=1"});
  check_split("env FOO=1 cat", {"env", "FOO=1", "cat"});
}

TEST_CASE("builtins as the first word need the shell") {
  for (const char* line : {
           "cd /tmp",    "exit 1",   "export A=1", "set -e",     "unset A",   "ulimit -n",
           "exec ls",    "eval ls",  "source x",   ". x",        ":",         ": x",
           "read x",     "wait",     "trap x INT", "umask 022",  "alias a=b", "type ls",
           "command ls", "printf x", "pwd",        "kill 1",     "test -f x", "shift",
           "return",     "break",    "continue",   "readonly A", "local a",   "getopts a b",
           "hash ls",    "jobs",     "times",      "'cd' /tmp",  "\\cd /tmp",
       }) {
    check_rejected(line);
  }
}

TEST_CASE("true, false and plain echo run as programs") {
  check_split("true", {"true"});
  check_split("false", {"false"});
  check_split("true a b", {"true", "a", "b"});
  check_split("echo", {"echo"});
  check_split("echo a b", {"echo", "a", "b"});
  check_split("echo 'a b' c", {"echo", "a b", "c"});
  check_split("echo a -n", {"echo", "a", "-n"});
  // /bin/true --help prints help where the builtin prints nothing.
  check_rejected("true --help");
  check_rejected("false --version");
  check_rejected("true --version");
  check_rejected("false --help");
  // The builtin echo and /bin/echo differ on options and backslashes.
  check_rejected("echo -n a");
  check_rejected("echo -e a");
  check_rejected("echo --help");
  check_rejected("echo 'a\\nb'");
  check_rejected("echo a\\\\b");
  check_rejected("echo 'a\\c'");
}

TEST_CASE("unfinished quotes need the shell") {
  check_rejected("cat 'a");
  check_rejected("cat \"a");
  check_rejected("cat 'a'\"");
}

TEST_CASE("an empty line has nothing to exec") {
  CHECK(make_command("").argv.empty());
  CHECK(make_command("   ").argv.empty());
  CHECK(make_command("\t").argv.empty());
}

TEST_CASE("make_command keeps the line and fills argv only for simple commands") {
  const Command simple = make_command("cat 'a b' c");
  CHECK(simple.line == "cat 'a b' c");
  CHECK(show(simple.argv) == show({"cat", "a b", "c"}));

  const Command piped = make_command("cat a | wc -c");
  CHECK(piped.line == "cat a | wc -c");
  CHECK(piped.argv.empty());

  const Command builtin = make_command("cd /tmp");
  CHECK(builtin.line == "cd /tmp");
  CHECK(builtin.argv.empty());

  const Command expansion = make_command("echo $HOME");
  CHECK(expansion.line == "echo $HOME");
  CHECK(expansion.argv.empty());

  const Command empty = make_command("");
  CHECK(empty.line.empty());
  CHECK(empty.argv.empty());
}

// A random word from pieces that never need the shell.
std::string random_word(std::mt19937& random) {
  static const std::string kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-,:@%=";
  static const std::string kSingleQuoted =
      "abc XYZ 019 $`\\\"*?[]~#;|&<>(){}!=%^\t"
      "\xc3\xa9\xe6\x97\xa5";
  static const std::string kDoubleQuoted = "abc XYZ 019 '*?[]~#;|&<>(){}=%^\t";
  static const std::string kEscaped = "abc XYZ019 $`\\\"'*?[]~#;|&<>(){}!=%^\t";
  auto pick = [&](const std::string& from, size_t max_len, bool allow_empty) {
    std::uniform_int_distribution<size_t> len(allow_empty ? 0 : 1, max_len);
    std::uniform_int_distribution<size_t> at(0, from.size() - 1);
    std::string s;
    for (size_t n = len(random); n > 0; --n) s += from[at(random)];
    return s;
  };
  std::uniform_int_distribution<int> pieces(1, 4);
  std::uniform_int_distribution<int> kind(0, 3);
  std::string word;
  for (int n = pieces(random); n > 0; --n) {
    switch (kind(random)) {
      case 0:
        word += pick(kPlain, 6, false);
        break;
      case 1:
        word += "'" + pick(kSingleQuoted, 6, true) + "'";
        break;
      case 2:
        word += "\"" + pick(kDoubleQuoted, 6, true) + "\"";
        break;
      default:
        word += "\\" + pick(kEscaped, 1, false);
        break;
    }
  }
  return word;
}

TEST_CASE("random simple lines split into the words /bin/sh makes of them") {
  std::mt19937 random(777);
  std::uniform_int_distribution<int> word_count(0, 6);
  std::uniform_int_distribution<int> blanks(1, 3);
  std::uniform_int_distribution<int> blank_kind(0, 3);
  const std::vector<std::string> commands = {"cat", "ls", "/bin/cat", "wc", "grep", "x-tool"};
  std::uniform_int_distribution<size_t> command(0, commands.size() - 1);
  for (int i = 0; i < 400; ++i) {
    std::string line = commands[command(random)];
    for (int w = word_count(random); w > 0; --w) {
      for (int b = blanks(random); b > 0; --b) line += blank_kind(random) == 0 ? '\t' : ' ';
      line += random_word(random);
    }
    CAPTURE(line);
    const std::optional<Words> words = split_simple_command(line);
    REQUIRE(words.has_value());
    CHECK(nul_joined(*words) == sh_words(line));
    const Command c = make_command(line);
    CHECK(c.line == line);
    CHECK(show(c.argv) == show(*words));
  }
}

TEST_CASE("one piece of shell syntax anywhere in a simple line makes it need the shell") {
  std::mt19937 random(31337);
  const std::vector<std::string> syntax = {
      ";",  "a;b", "|",     "a|b", "&",    "a&b", "&&",   "<x", ">x",     "a>b",
      "(",  ")",   "$x",    "a$x", "$(x)", "`x`", "a`x`", "*",  "a*",     "?",
      "a?", "[a]", "a[b]c", "~",   "~/x",  "#",   "#x",   "\n", "\"$x\"", "\"a\\b\"",
  };
  std::uniform_int_distribution<size_t> pick(0, syntax.size() - 1);
  std::uniform_int_distribution<int> word_count(0, 4);
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> parts = {"cat"};
    for (int w = word_count(random); w > 0; --w) parts.push_back(random_word(random));
    std::uniform_int_distribution<size_t> where(1, parts.size());
    parts.insert(parts.begin() + static_cast<std::ptrdiff_t>(where(random)), syntax[pick(random)]);
    std::string line;
    for (const std::string& p : parts) line += (line.empty() ? "" : " ") + p;
    CAPTURE(line);
    CHECK_FALSE(split_simple_command(line).has_value());
    const Command c = make_command(line);
    CHECK(c.line == line);
    CHECK(c.argv.empty());
  }
}

}  // namespace
}  // namespace taskpool
