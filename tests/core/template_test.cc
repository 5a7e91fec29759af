#include "core/template.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/job.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Words = std::vector<std::string>;

Job job_of(Words fields, uint64_t seq = 1) {
  Job job;
  job.seq = seq;
  job.record.fields = std::move(fields);
  return job;
}

Command expand(const Words& words, const Words& fields, uint64_t seq = 1, WorkerId worker = 1) {
  return CommandTemplate(words).expand(job_of(fields, seq), worker);
}

// The line for `fields` under the template `words`.
std::string line_of(const Words& words, const Words& fields) { return expand(words, fields).line; }

using testing::show;

// What `/bin/sh -c line` prints on stdout.
std::string sh_output(const std::string& line) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
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

TEST_CASE("every replacement string on one field") {
  const Words one = {"dir.x/sub/file.tar.gz"};
  CHECK(line_of({"echo", "{}"}, one) == "echo dir.x/sub/file.tar.gz");
  CHECK(line_of({"echo", "{.}"}, one) == "echo dir.x/sub/file.tar");
  CHECK(line_of({"echo", "{/}"}, one) == "echo file.tar.gz");
  CHECK(line_of({"echo", "{//}"}, one) == "echo dir.x/sub");
  CHECK(line_of({"echo", "{/.}"}, one) == "echo file.tar");
  CHECK(line_of({"echo", "{1}"}, one) == "echo dir.x/sub/file.tar.gz");
  CHECK(line_of({"echo", "{1.}"}, one) == "echo dir.x/sub/file.tar");
  CHECK(line_of({"echo", "{1/}"}, one) == "echo file.tar.gz");
  CHECK(line_of({"echo", "{1//}"}, one) == "echo dir.x/sub");
  CHECK(line_of({"echo", "{1/.}"}, one) == "echo file.tar");
  CHECK(line_of({"echo", "{2}"}, one) == "echo ");
  CHECK(line_of({"echo", "{}", "{.}", "{/}", "{//}", "{/.}"}, one) ==
        "echo dir.x/sub/file.tar.gz dir.x/sub/file.tar file.tar.gz dir.x/sub file.tar");
  CHECK(line_of({"echo", "{/}-{//}/{/.}.{#}"}, one) == "echo file.tar.gz-dir.x/sub/file.tar.1");
}

TEST_CASE("replacement strings on several fields") {
  const Words fields = {"a b", "c/d.e"};
  CHECK(line_of({"echo", "{}"}, fields) == "echo 'a b' c/d.e");
  CHECK(line_of({"echo", "{1}"}, fields) == "echo 'a b'");
  CHECK(line_of({"echo", "{2}"}, fields) == "echo c/d.e");
  CHECK(line_of({"echo", "{2}", "{1}"}, fields) == "echo c/d.e 'a b'");
  CHECK(line_of({"echo", "{2.}"}, fields) == "echo c/d");
  CHECK(line_of({"echo", "{2/}"}, fields) == "echo d.e");
  CHECK(line_of({"echo", "{2//}"}, fields) == "echo c");
  CHECK(line_of({"echo", "{2/.}"}, fields) == "echo d");
  CHECK(line_of({"echo", "{1//}"}, fields) == "echo .");
  CHECK(line_of({"echo", "{3}"}, fields) == "echo ");
  CHECK(line_of({"echo", "x{3}x"}, fields) == "echo xx");
  CHECK(line_of({"echo", "{3.}", "{3/}"}, fields) == "echo  ");
  // {} and its transforms give every field, each its own word.
  CHECK(line_of({"echo", "{}"}, {"a", "b", "c"}) == "echo a b c");
  CHECK(line_of({"echo", "{.}", "{/}"}, {"a.x/b.y", "c/d.z"}) == "echo a.x/b c/d b.y d.z");
  CHECK(line_of({"echo", "{//}"}, {"a.x/b.y", "c/d.z"}) == "echo a.x c");
  CHECK(line_of({"echo", "{/.}"}, {"a.x/b.y", "c/d.z"}) == "echo b d");
  CHECK(line_of({"echo", "x{}y"}, {"a b", "c"}) == "echo x'a b' cy");
  CHECK(line_of({"echo", "x{}y"}, {"a", "b"}) == "echo xa by");
  // Empty fields stay words.
  CHECK(line_of({"echo", "{}"}, {"a", "", "b"}) == "echo a '' b");
  CHECK(line_of({"echo", "{2}"}, {"a", "", "b"}) == "echo ''");
}

TEST_CASE("field numbers of more than one digit") {
  Words fields;
  for (int i = 1; i <= 11; ++i) fields.push_back("f" + std::to_string(i));
  CHECK(line_of({"echo", "{10}", "{11}", "{1}", "{12}"}, fields) == "echo f10 f11 f1 ");
  CHECK(line_of({"echo", "{10/}"}, fields) == "echo f10");
}

TEST_CASE("{} with one field gives the record as one word") {
  const Command c = expand({"echo", "{}"}, {"a b"});
  CHECK(c.line == "echo 'a b'");
  CHECK(show(c.argv) == show({"echo", "a b"}));
}

TEST_CASE("a template without replacement strings gets the record appended") {
  CHECK(line_of({"echo"}, {"a b"}) == "echo 'a b'");
  CHECK(line_of({"echo", "x"}, {"a"}) == "echo x a");
  CHECK(line_of({"echo"}, {"a", "b c"}) == "echo a 'b c'");
  CHECK(line_of({"gzip", "-9"}, {"f.txt"}) == "gzip -9 f.txt");
  const Command c = expand({"echo"}, {"a b"});
  CHECK(show(c.argv) == show({"echo", "a b"}));
  // A replacement string anywhere, even only {#} or {%}, means nothing is appended.
  CHECK(line_of({"echo", "{#}"}, {"a"}) == "echo 1");
  CHECK(line_of({"echo", "{%}"}, {"a"}) == "echo 1");
  CHECK(line_of({"echo", "{2}"}, {"a", "b"}) == "echo b");
  CHECK(line_of({"echo", "{/}"}, {"x/a"}) == "echo a");
}

TEST_CASE("-n 0: the record gives no argument, as in GNU parallel") {
  const auto none = [](const Words& words) {
    return CommandTemplate(words, "{}", CommandTemplate::Spread::kNone);
  };
  const Job job = job_of({"a b", "c"}, 7);
  CHECK(none({"echo", "hi"}).expand(job, 2).line == "echo hi ");
  CHECK(none({"echo", "hi"}).expand(job, 2).argv == Words{"echo", "hi"});
  CHECK(none({"echo", "x{}y", "{}", "{1}{2.}", "z"}).expand(job, 2).line == "echo xy   z");
  CHECK(none({"echo", "{#}", "{%}", "{/}"}).expand(job, 2).line == "echo 7 2 ");
  CHECK(none({}).expand(job, 2).line.empty());
  CHECK(none({"echo", "{}"}).record_use() == CommandTemplate::RecordUse::kNone);
}

TEST_CASE("-q: each word is one shell word, quoted whole once its strings are replaced") {
  CommandTemplate::Options options;
  options.quote_words = true;
  const Job job = job_of({"x y"}, 3);
  const CommandTemplate words({"echo", "a b", "{}", "x{}y", "$HOME|x", "{#}"}, options);
  CHECK(words.expand(job, 1).line == "echo 'a b' 'x y' 'xx yy' '$HOME|x' 3");
  CHECK(words.expand(job, 1).argv == Words{"echo", "a b", "x y", "xx yy", "$HOME|x", "3"});
  CHECK(CommandTemplate({"sh", "-c", "echo \"$1\"", "x"}, options).expand(job, 1).argv ==
        Words{"sh", "-c", "echo \"$1\"", "x", "x y"});
  // No command: the record is one word, the name of the program.
  CHECK(CommandTemplate(Words{}, options).expand(job_of({"echo a"}), 1).line == "'echo a'");
}

TEST_CASE("expand_text: the strings replaced by the values as they are (--tagstring)") {
  CommandTemplate::Options options;
  options.append_record = false;
  const Job job = job_of({"a b", "c.txt"}, 4);
  CHECK(CommandTemplate({"<{}>{#}/{%}"}, options).expand_text(job, 2) == "<a b c.txt>4/2");
  CHECK(CommandTemplate({"{1}-{2.}"}, options).expand_text(job, 2) == "a b-c");
  CHECK(CommandTemplate({"fixed"}, options).expand_text(job, 2) == "fixed");
  CHECK(CommandTemplate({"{}"}, options).expand_text(job, 2) == "a b c.txt");
}

TEST_CASE("{host}: the host of the record as a URL, as curl reads it") {
  CHECK(url_host("https://u:pw@Ex.COM:8080/a/b?c#d") == "ex.com");
  CHECK(url_host("http://127.0.0.2:8000/x") == "127.0.0.2");
  CHECK(url_host("example.com/file.iso") == "example.com");
  CHECK(url_host("example.com") == "example.com");
  CHECK(url_host("ftp://[::1]:21/x") == "::1");
  CHECK(url_host("http://a.example/x\tout/name") == "a.example");
  CHECK(url_host("") == "");
  CommandTemplate::Options options;
  options.append_record = false;
  CHECK(CommandTemplate({"{host}"}, options).expand_text(job_of({"https://A.example/1"}), 1) ==
        "a.example");
  // Of the first field: --fetch's records are URL and file name.
  CHECK(CommandTemplate({"{host}"}, options).expand_text(job_of({"http://c.example/", "f"}), 1) ==
        "c.example");
  CHECK(CommandTemplate({"{2host}"}, options).expand_text(job_of({"x", "http://b.example"}), 1) ==
        "b.example");
  // In a command, quoted as any value.
  CHECK(line_of({"echo", "{host}"}, {"http://h.example/a b"}) == "echo h.example");
}

TEST_CASE("words are joined with single spaces, not quoted") {
  CHECK(line_of({"echo a", "b"}, {"x"}) == "echo a b x");
  CHECK(line_of({"echo", "{}", "|", "wc", "-c"}, {"x"}) == "echo x | wc -c");
  CHECK(line_of({"echo {} > out.txt"}, {"x y"}) == "echo 'x y' > out.txt");
}

TEST_CASE("with no command words or only {}, the record is the command line") {
  CHECK(CommandTemplate(Words{}).record_is_command());
  CHECK(CommandTemplate(Words{"{}"}).record_is_command());
  CHECK_FALSE(CommandTemplate(Words{"echo"}).record_is_command());
  CHECK_FALSE(CommandTemplate(Words{"echo", "{}"}).record_is_command());
  CHECK_FALSE(CommandTemplate(Words{"{}", "x"}).record_is_command());
  CHECK_FALSE(CommandTemplate(Words{"{.}"}).record_is_command());

  for (const Words& words : {Words{}, Words{"{}"}}) {
    CAPTURE(show(words));
    const Command simple = expand(words, {"echo a  'b c'"});
    CHECK(simple.line == "echo a  'b c'");
    CHECK(show(simple.argv) == show({"echo", "a", "b c"}));

    const Command piped = expand(words, {"echo a | wc -c"});
    CHECK(piped.line == "echo a | wc -c");
    CHECK(piped.argv.empty());

    // Several fields make one line, joined with spaces and not quoted.
    CHECK(expand(words, {"echo", "a b"}).line == "echo a b");
  }
}

TEST_CASE("substituted values are quoted so the shell sees the exact value") {
  CHECK(line_of({"echo", "{}"}, {"it's"}) == "echo 'it'\"'\"'s'");
  CHECK(line_of({"echo", "{}"}, {"$(reboot)"}) == "echo '$(reboot)'");
  CHECK(line_of({"echo", "{}"}, {""}) == "echo ''");
  CHECK(line_of({"echo", "x{}y"}, {"a b"}) == "echo x'a b'y");
  CHECK(line_of({"echo", "{/}"}, {"dir/$(id) x"}) == "echo '$(id) x'");
  CHECK(line_of({"echo", "{//}"}, {"a b/c"}) == "echo 'a b'");
  CHECK(line_of({"echo", "{.}"}, {"a;b.c"}) == "echo 'a;b'");

  const Words hostile = {
      "a b",
      "'",
      "\"",
      "$(touch /tmp/taskpool-template-pwned)",
      "`id`",
      "x; y",
      "a && b",
      "*",
      "?",
      "~",
      "-n",
      "#x",
      "a\nb",
      "\t",
      "\\",
      "é",
      "\x01\x1f\x7f\x80\xff",
      "{}",
      "{1}",
      "{#}",
      "",
  };
  for (const std::string& value : hostile) {
    CAPTURE(value);
    CHECK(sh_output(line_of({"printf", "%s", "{}"}, {value})) == value);
    CHECK(sh_output(line_of({"printf", "%s", "{1}"}, {value})) == value);
    CHECK(sh_output(line_of({"printf", "%s"}, {value})) == value);
    CHECK(sh_output(line_of({"printf", "'%s\\0'", "{}"}, {value, value})) ==
          value + '\0' + value + '\0');
    if (value.find('/') == std::string::npos) {
      CHECK(sh_output(line_of({"printf", "%s", "{/}"}, {"d/" + value})) == value);
    }
    // The value never becomes a template of its own.
    CHECK(sh_output(line_of({"printf", "%s", "{}{#}"}, {value})) == value + "1");
  }
  CHECK(access("/tmp/taskpool-template-pwned", F_OK) != 0);
}

TEST_CASE("text that is not a replacement string stays literal") {
  CHECK(line_of({"echo", "{foo}", "{}"}, {"a"}) == "echo {foo} a");
  CHECK(line_of({"echo", "{foo}"}, {"a"}) == "echo {foo} a");
  CHECK(line_of({"echo", "{", "}", "{}"}, {"a"}) == "echo { } a");
  CHECK(line_of({"echo", "{ }"}, {"a"}) == "echo { } a");
  CHECK(line_of({"echo", "{{}", "{}}"}, {"q"}) == "echo {q q}");
  CHECK(line_of({"echo", "{1x}", "{.x}", "{//.}", "{1..}"}, {"a"}) ==
        "echo {1x} {.x} {//.} {1..} a");
  CHECK(line_of({"echo", "{", "{}"}, {"a"}) == "echo { a");
  CHECK(line_of({"echo", "}{"}, {"a"}) == "echo }{ a");
  CHECK(line_of({"echo", "{#x}", "{%%}"}, {"a"}) == "echo {#x} {%%} a");
  CHECK(line_of({"echo", "{", "{1"}, {"a"}) == "echo { {1 a");
  CHECK(line_of({"awk", "'{print $1}'"}, {"f"}) == "awk '{print $1}' f");
}

TEST_CASE("{0} is not a field and stays literal") {
  CHECK(line_of({"echo", "{0}", "{}"}, {"a"}) == "echo {0} a");
}

TEST_CASE("{#} is the sequence number and {%} the worker") {
  const Command c = expand({"echo", "{#}", "{%}"}, {"a"}, 42, 3);
  CHECK(c.line == "echo 42 3");
  CHECK(show(c.argv) == show({"echo", "42", "3"}));
  CHECK(expand({"echo", "job-{#}-on-{%}.log"}, {"a"}, 1234567890123ULL, 16).line ==
        "echo job-1234567890123-on-16.log");
  CHECK(expand({"echo", "{}", "{#}"}, {"x y"}, 7, 2).line == "echo 'x y' 7");
}

TEST_CASE("another replacement string for the record (-I)") {
  const Job job = job_of({"a b"});
  CHECK(CommandTemplate({"mv", "XX", "XX.bak"}, "XX").expand(job, 1).line == "mv 'a b' 'a b'.bak");
  CHECK(CommandTemplate({"echo", "XX", "{}"}, "XX").expand(job, 1).line == "echo 'a b' {}");
  CHECK(CommandTemplate({"echo"}, "XX").expand(job, 1).line == "echo 'a b'");
  CHECK(CommandTemplate({"echo", "{}"}, "XX").expand(job, 1).line == "echo {} 'a b'");
  const Command c = CommandTemplate({"cat", "--", "XX"}, "XX").expand(job, 1);
  CHECK(show(c.argv) == show({"cat", "--", "a b"}));
}

TEST_CASE("expand sets argv only when the line needs no shell") {
  const Command plain = expand({"echo", "{}"}, {"a b"});
  CHECK(show(plain.argv) == show({"echo", "a b"}));

  const Command piped = expand({"echo", "{}", "|", "wc", "-c"}, {"a b"});
  CHECK(piped.line == "echo 'a b' | wc -c");
  CHECK(piped.argv.empty());

  const Command redirected = expand({"cat", "{}", ">", "{.}.out"}, {"f.txt"});
  CHECK(redirected.line == "cat f.txt > f.out");
  CHECK(redirected.argv.empty());

  // Quoted hostile values are data: the command is still simple.
  const Command hostile = expand({"cat", "{}"}, {"$(id); *"});
  CHECK(hostile.line == "cat '$(id); *'");
  CHECK(show(hostile.argv) == show({"cat", "$(id); *"}));

  const Command empty = expand({"cat", "{}"}, {""});
  CHECK(empty.line == "cat ''");
  CHECK(show(empty.argv) == show({"cat", ""}));

  const Command several = expand({"cat", "{}"}, {"a b", "c"});
  CHECK(show(several.argv) == show({"cat", "a b", "c"}));

  // The shell's echo treats backslashes differently from /bin/echo.
  const Command backslash = expand({"echo", "{}"}, {"a\\nb"});
  CHECK(backslash.line == "echo 'a\\nb'");
  CHECK(backslash.argv.empty());

  const Command builtin = expand({"cd", "{}"}, {"/tmp"});
  CHECK(builtin.line == "cd /tmp");
  CHECK(builtin.argv.empty());
}

TEST_CASE("text() is the template as written") {
  CHECK(CommandTemplate(Words{"echo", "{}", "|", "wc"}).text() == "echo {} | wc");
  CHECK(CommandTemplate(Words{"echo"}).text() == "echo");
  CHECK(CommandTemplate(Words{"echo a", "{.}"}).text() == "echo a {.}");
  CHECK(CommandTemplate(Words{}).text() == "");
  CHECK(CommandTemplate(Words{"mv", "XX", "XX.bak"}, "XX").text() == "mv XX XX.bak");
}

TEST_CASE("expand can be called from several threads at once") {
  const CommandTemplate tmpl(Words{"echo", "{}", "{#}", "{%}"});
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 1; i <= 2000; ++i) {
        const std::string value = "v " + std::to_string(i);
        const Command c = tmpl.expand(job_of({value}, i), t + 1);
        const std::string expected =
            "echo 'v " + std::to_string(i) + "' " + std::to_string(i) + " " + std::to_string(t + 1);
        if (c.line != expected) ++mismatches[static_cast<size_t>(t)];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>{0, 0, 0, 0});
}

TEST_CASE("remove_extension is s:\\.[^/.]*$::") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"x.tar.gz", "x.tar"},
      {"file.txt", "file"},
      {"abc", "abc"},
      {"", ""},
      {".bashrc", ""},
      {"a/.bashrc", "a/"},
      {"a.b/c", "a.b/c"},
      {"a/b.c/d.e", "a/b.c/d"},
      {"a b.c", "a b"},
      {".a.b", ".a"},
      {"a.", "a"},
      {"a..b", "a."},
      {"a.b.c/", "a.b.c/"},
      {"a/b.c/", "a/b.c/"},
      {".x/y", ".x/y"},
      {"a b.c d", "a b"},
      {".", ""},
      {"/", "/"},
      {"a/.", "a/"},
      {"é.ü", "é"},
  };
  for (const auto& row : table) {
    const auto& in = row.first;
    const auto& out = row.second;
    CAPTURE(in);
    CHECK(remove_extension(in) == out);
  }
}

TEST_CASE("base_name is s:.*/::") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"a/b", "b"},  {"x", "x"},     {"a/b/", ""},     {"/", ""},
      {"", ""},      {"/a", "a"},    {"a//b", "b"},    {"//", ""},
      {"///x", "x"}, {"a/b///", ""}, {"a/b.c", "b.c"}, {"dir.x/sub/file.tar.gz", "file.tar.gz"},
  };
  for (const auto& row : table) {
    const auto& in = row.first;
    const auto& out = row.second;
    CAPTURE(in);
    CHECK(base_name(in) == out);
  }
}

TEST_CASE("dir_name is Perl's File::Basename::dirname") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"x", "."},       {"/abs/", "/"}, {"", "."},          {"a/b", "a"},       {"a/b/", "a"},
      {"/", "/"},       {"//a", "/"},   {"a//b/", "a"},     {"/a", "/"},        {"//", "/"},
      {"///", "/"},     {"a/", "."},    {"./a", "."},       {"../a/b", "../a"}, {"a//b//", "a"},
      {"a/b/c", "a/b"}, {"a//b", "a"},  {"a b/c d", "a b"},
  };
  for (const auto& row : table) {
    const auto& in = row.first;
    const auto& out = row.second;
    CAPTURE(in);
    CHECK(dir_name(in) == out);
  }
}

TEST_CASE("{/.} is the basename without its extension") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"a/b.c/d.e", "d"}, {"a/.x", "''"}, {"x.tar.gz", "x.tar"}, {"a/b/", "''"}, {"f", "f"},
  };
  for (const auto& row : table) {
    const auto& in = row.first;
    const auto& out = row.second;
    CAPTURE(in);
    CHECK(line_of({"echo", "{/.}"}, {in}) == "echo " + out);
  }
}

TEST_CASE("how much of a record the command line shows") {
  using Use = CommandTemplate::RecordUse;
  const auto use = [](const std::vector<std::string>& words) {
    return CommandTemplate(words).record_use();
  };
  CHECK(use({"echo", "{#}", "{%}"}) == Use::kNone);
  CHECK(use({"echo", "{/}", "{2.}"}) == Use::kParts);
  CHECK(use({"echo", "{/}", "{2}"}) == Use::kFields);
  CHECK(use({"echo", "{2}", "x{}y"}) == Use::kWhole);
  CHECK(use({"echo"}) == Use::kWhole);  // the record is appended
  CHECK(use({}) == Use::kWhole);        // the record is the command line
  CHECK(CommandTemplate({"echo", "@@"}, "@@").record_use() == Use::kWhole);
}

}  // namespace
}  // namespace taskpool
