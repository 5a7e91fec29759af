#include "core/input.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Values = std::vector<std::string>;
using Records = std::vector<Values>;
using testing::list;
using testing::show;

std::string show_records(const Records& records) {
  std::string out = "[";
  for (const Values& r : records) out += show(r);
  return out + "]";
}

Values drain(ValueSource& source) {
  Values values;
  while (std::optional<std::string> v = source.next()) values.push_back(std::move(*v));
  CHECK_FALSE(source.next().has_value());
  return values;
}

Records drain(RecordStream& stream) {
  Records records;
  while (std::optional<Record> r = stream.next()) records.push_back(std::move(r->fields));
  CHECK_FALSE(stream.next().has_value());
  return records;
}

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
}

// A file in /tmp with the given content, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char path[] = "/tmp/taskpool-input-test-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    write_all(fd, content);
    close(fd);
    path_ = path;
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A pipe whose read end holds `content` followed by end of input (small content only).
int pipe_with(const std::string& content) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  write_all(fds[1], content);
  close(fds[1]);
  return fds[0];
}

bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

std::vector<std::unique_ptr<ValueSource>> sources_of(Records lists) {
  std::vector<std::unique_ptr<ValueSource>> sources;
  for (Values& values : lists) sources.push_back(list(std::move(values)));
  return sources;
}

Records records_of(Records lists, std::optional<ColumnSplitter> columns = std::nullopt) {
  RecordStream stream(sources_of(std::move(lists)), std::move(columns));
  return drain(stream);
}

// The columns of `value`; the pattern must not give up on it.
Values cols(const ColumnSplitter& columns, std::string_view value) {
  std::string why;
  std::optional<Values> fields = columns.split(value, &why);
  REQUIRE_MESSAGE(fields.has_value(), why);
  return *fields;
}

// An endless source that counts how many values were taken from it.
class CountingSource final : public ValueSource {
 public:
  explicit CountingSource(int* taken) : taken_(taken) {}
  std::optional<std::string> next() override {
    ++*taken_;
    return "v" + std::to_string(*taken_);
  }

 private:
  int* taken_;
};

TEST_CASE("ListSource gives its values in order, then nothing") {
  ListSource source({"a", "", "b c", "a"});
  CHECK(show(drain(source)) == show({"a", "", "b c", "a"}));
  CHECK_FALSE(source.next().has_value());

  ListSource empty({});
  CHECK_FALSE(empty.next().has_value());
  CHECK_FALSE(empty.next().has_value());
}

TEST_CASE("FileSource reads delimited values from a descriptor") {
  SUBCASE("newlines") {
    FileSource source(pipe_with("a\n\nb c\nlast"), '\n', "pipe", true);
    CHECK(show(drain(source)) == show({"a", "", "b c", "last"}));
  }
  SUBCASE("NULs") {
    FileSource source(pipe_with(std::string("a\nb\0c\0", 6)), '\0', "pipe", true);
    CHECK(show(drain(source)) == show({"a\nb", "c"}));
  }
  SUBCASE("empty") {
    FileSource source(pipe_with(""), '\n', "pipe", true);
    CHECK_FALSE(source.next().has_value());
  }
}

TEST_CASE("FileSource closes the descriptor only when it owns it") {
  const int owned = pipe_with("x\n");
  {
    FileSource source(owned, '\n', "owned", true);
    CHECK(source.next() == std::optional<std::string>("x"));
    CHECK(fd_is_open(owned));
  }
  CHECK_FALSE(fd_is_open(owned));

  const int borrowed = pipe_with("y\n");
  {
    FileSource source(borrowed, '\n', "borrowed", false);
    CHECK(source.next() == std::optional<std::string>("y"));
  }
  CHECK(fd_is_open(borrowed));
  close(borrowed);
}

TEST_CASE("open_file_source reads a file by path") {
  const TempFile file("one\ntwo\n\nthree");
  std::unique_ptr<ValueSource> source = open_file_source(file.path(), '\n');
  REQUIRE(source != nullptr);
  CHECK(show(drain(*source)) == show({"one", "two", "", "three"}));

  const TempFile nul_file(std::string("a b\0c\n\0", 7));
  std::unique_ptr<ValueSource> nul_source = open_file_source(nul_file.path(), '\0');
  REQUIRE(nul_source != nullptr);
  CHECK(show(drain(*nul_source)) == show({"a b", "c\n"}));
}

TEST_CASE("a file source says how far through its bytes the values given so far go") {
  const TempFile file("aaaa\nbb\ncc\n");  // 11 bytes
  std::unique_ptr<ValueSource> source = open_file_source(file.path(), '\n');
  CHECK(source->fraction_read() == doctest::Approx(0.0));
  REQUIRE(source->next() == "aaaa");
  CHECK(source->fraction_read() == doctest::Approx(5.0 / 11));
  REQUIRE(source->next() == "bb");
  REQUIRE(source->next() == "cc");
  CHECK(source->fraction_read() == doctest::Approx(1.0));
  CHECK(source->next() == std::nullopt);
  CHECK(source->fraction_read() == doctest::Approx(1.0));
  // A list, a pipe or an empty file cannot say.
  CHECK(ListSource({"a"}).fraction_read() == std::nullopt);
  const TempFile empty("");
  CHECK(open_file_source(empty.path(), '\n')->fraction_read() == std::nullopt);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  close(fds[1]);
  CHECK(FileSource(fds[0], '\n', "a pipe", true).fraction_read() == std::nullopt);
}

TEST_CASE("open_file_source of a missing path throws an Error naming the path") {
  const std::string path = "/nonexistent/taskpool-input-missing.txt";
  try {
    // cppcheck-suppress unreadVariable ; the call must throw before the value could be read
    std::unique_ptr<ValueSource> source = open_file_source(path, '\n');
    FAIL("open_file_source should have thrown");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("No such file or directory") != std::string::npos);
  }
}

TEST_CASE("a directory as input is an Error naming it") {
  char dir_template[] = "/tmp/taskpool-input-dir-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string path = dir;
  std::string message;
  try {
    std::unique_ptr<ValueSource> source = open_file_source(path, '\n');
    if (source) source->next();
  } catch (const Error& e) {
    message = e.what();
  }
  rmdir(dir);
  CHECK(message.find(path) != std::string::npos);
}

TEST_CASE("open_file_source of - reads stdin and leaves it open") {
  const int saved = dup(0);
  REQUIRE(saved >= 0);
  const int fd = pipe_with("from\nstdin\n");
  REQUIRE(dup2(fd, 0) == 0);
  close(fd);
  Values values;
  {
    std::unique_ptr<ValueSource> source = open_file_source("-", '\n');
    REQUIRE(source != nullptr);
    values = drain(*source);
  }
  const bool stdin_open = fd_is_open(0);
  REQUIRE(dup2(saved, 0) == 0);
  close(saved);
  CHECK(show(values) == show({"from", "stdin"}));
  CHECK(stdin_open);
}

TEST_CASE("ColumnSplitter on a single character") {
  for (const std::string& tab : {std::string("\\t"), std::string("\t")}) {
    CAPTURE(tab);
    const ColumnSplitter columns(tab);
    CHECK(show(cols(columns, "a\tb\tc")) == show({"a", "b", "c"}));
    // As GNU parallel does, adjacent separators make an empty column.
    CHECK(show(cols(columns, "a\t\tb")) == show({"a", "", "b"}));
    CHECK(show(cols(columns, "a b")) == show({"a b"}));
    CHECK(show(cols(columns, "\ta")) == show({"", "a"}));
    CHECK(show(cols(columns, "a\t")) == show({"a", ""}));
  }
  const ColumnSplitter comma(",");
  CHECK(show(cols(comma, "a,b,,c")) == show({"a", "b", "", "c"}));
  CHECK(show(cols(comma, "a,b,")) == show({"a", "b", ""}));
  CHECK(show(cols(comma, "a,,")) == show({"a", "", ""}));
  CHECK(show(cols(comma, ",a")) == show({"", "a"}));
  CHECK(show(cols(comma, "abc")) == show({"abc"}));
  CHECK(show(cols(comma, "")) == show({""}));
  CHECK(show(cols(comma, ",")) == show({"", ""}));
  CHECK(show(cols(comma, "a b,c\td")) == show({"a b", "c\td"}));
}

TEST_CASE("ColumnSplitter on escaped regex characters") {
  CHECK(show(cols(ColumnSplitter("\\."), "a.b.c")) == show({"a", "b", "c"}));
  CHECK(show(cols(ColumnSplitter("\\|"), "a|b")) == show({"a", "b"}));
  CHECK(show(cols(ColumnSplitter("\\*"), "a*b")) == show({"a", "b"}));
  CHECK(show(cols(ColumnSplitter("\\."), "abc")) == show({"abc"}));
}

TEST_CASE("ColumnSplitter on a regular expression") {
  const ColumnSplitter spaces(" +");
  CHECK(show(cols(spaces, "a  b   c")) == show({"a", "b", "c"}));
  CHECK(show(cols(spaces, "a b")) == show({"a", "b"}));
  CHECK(show(cols(spaces, " a")) == show({"", "a"}));
  CHECK(show(cols(spaces, "abc")) == show({"abc"}));

  const ColumnSplitter either("[,;]");
  CHECK(show(cols(either, "a,b;c")) == show({"a", "b", "c"}));
  CHECK(show(cols(either, "a;;b")) == show({"a", "", "b"}));

  CHECK(show(cols(ColumnSplitter("ab"), "1ab2ab3")) == show({"1", "2", "3"}));
  CHECK(show(cols(ColumnSplitter("\\s*:\\s*"), "k : v:w")) == show({"k", "v", "w"}));
  CHECK(show(cols(ColumnSplitter("\\t+"), "a\t\t\tb")) == show({"a", "b"}));
}

TEST_CASE("a --colsep regular expression that matches the empty string splits between characters") {
  // Perl's split(/re/, value, -1), which GNU parallel uses: an empty match separates two
  // characters, and the empty match at the end leaves an empty last column.
  CHECK(show(cols(ColumnSplitter(" *"), "ab c")) == show({"a", "b", "c", ""}));
  CHECK(show(cols(ColumnSplitter(",?"), "xy,z")) == show({"x", "y", "z", ""}));
}

TEST_CASE("--colsep takes Perl's syntax, as GNU parallel does") {
  CHECK(show(cols(ColumnSplitter("\\s+"), "a \t b\n\fc")) == show({"a", "b", "c"}));
  CHECK(show(cols(ColumnSplitter("\\d"), "a1b22c")) == show({"a", "b", "", "c"}));
  // \h is horizontal space only (Perl, not ECMAScript); \v vertical space.
  CHECK(show(cols(ColumnSplitter("\\h"), "a\tb c\nd")) == show({"a", "b", "c\nd"}));
  CHECK(show(cols(ColumnSplitter("\\v"),
                  "a\nb\x0b"
                  "c d")) == show({"a", "b", "c d"}));
  // Lookahead: an empty match before each digit, but never where the last match ended.
  CHECK(show(cols(ColumnSplitter("(?=\\d)"), "a1b2")) == show({"a", "1b", "2"}));
  CHECK(show(cols(ColumnSplitter("(?<=,)"), "a,b,c")) == show({"a,", "b,", "c"}));
  // A possessive quantifier, an atomic group, \Q..\E, a named class.
  CHECK(show(cols(ColumnSplitter(",++"), "a,,,b")) == show({"a", "b"}));
  CHECK(show(cols(ColumnSplitter("(?>x+)y"), "1xxy2")) == show({"1", "2"}));
  CHECK(show(cols(ColumnSplitter("\\Q.*\\E"), "a.*b")) == show({"a", "b"}));
  CHECK(show(cols(ColumnSplitter("[[:punct:]]"), "a;b!c")) == show({"a", "b", "c"}));
  CHECK(show(cols(ColumnSplitter("(?i)X"), "axbXc")) == show({"a", "b", "c"}));
}

TEST_CASE("what a --colsep group captures is a column of its own, as in Perl's split") {
  CHECK(show(cols(ColumnSplitter("(\\d)"), "a1b2c")) == show({"a", "1", "b", "2", "c"}));
  // A group that took no part is an empty column (Perl's undef, which GNU parallel prints empty).
  CHECK(show(cols(ColumnSplitter("(-)|(\\|)"), "a-b|c")) ==
        show({"a", "-", "", "b", "", "|", "c"}));
  CHECK(show(cols(ColumnSplitter("(?:,)"), "a,b")) == show({"a", "b"}));
}

TEST_CASE("--colsep patterns that backtracked without end under std::regex finish") {
  // 50 000 blanks in a row overflowed std::regex's recursion.
  CHECK(show(cols(ColumnSplitter("\\s+"), "a" + std::string(50000, ' ') + "b")) ==
        show({"a", "b"}));
  // A group repeated over 100 KB.
  std::string ab;
  for (int i = 0; i < 50000; ++i) ab += "ab";
  CHECK(show(cols(ColumnSplitter("(a|b)*c"), ab + "c" + "rest")) == show({"", "b", "rest"}));
  CHECK(cols(ColumnSplitter("(a|b)*c"), ab).size() == 1);
}

TEST_CASE("a --colsep pattern that backtracks past the limit gives up on that value alone") {
  // Nested repeats on a 31-byte line: std::regex tried all 2^30 ways.
  const ColumnSplitter nested("(a+)+$");
  const std::string value = std::string(30, 'a') + "!";
  std::string why;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(nested.split(value, &why).has_value());
  // A bound a loaded machine keeps; unbounded, 2^32 ways would take hours.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  CHECK(why.find("backtracked more than 10000000 times") != std::string::npos);
  // The same splitter goes on with the next value.
  CHECK(show(cols(nested, "xaa")) == show({"x", "aa", ""}));
  CHECK_FALSE(nested.split(value).has_value());  // no reason asked for
}

TEST_CASE("copies of a ColumnSplitter split on two threads at once") {
  const ColumnSplitter first("[,;]+");
  const ColumnSplitter second(first);  // NOLINT(performance-unnecessary-copy-initialization)
  std::atomic<int> wrong{0};
  const auto work = [&wrong](const ColumnSplitter& columns) {
    for (int i = 0; i < 2000; ++i) {
      const auto fields = columns.split("a,;b;" + std::to_string(i));
      if (!fields || *fields != Values{"a", "b", std::to_string(i)}) ++wrong;
    }
  };
  std::thread other([&] { work(second); });
  work(first);
  other.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("a value --colsep gives up on makes a refused record, named, and the stream goes on") {
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(list({"xab", std::string(32, 'a') + "cb", "yb"}));
  RecordStream stream(std::move(sources), ColumnSplitter("(a+)+b"));
  std::optional<Record> r = stream.next();
  REQUIRE(r.has_value());
  CHECK((r->runnable() && show(r->fields) == show({"x", "a", ""})));
  r = stream.next();
  REQUIRE(r.has_value());
  CHECK_FALSE(r->runnable());
  CHECK(r->refused.find("record 2: --colsep '(a+)+b' could not split it: the pattern "
                        "backtracked") == 0);
  CHECK(show(r->fields) == show({std::string(32, 'a') + "cb"}));
  r = stream.next();
  REQUIRE(r.has_value());
  CHECK((r->runnable() && show(r->fields) == show({"yb"})));
  CHECK_FALSE(stream.next().has_value());
}

TEST_CASE("a value too long to keep makes a refused record, in every combination it is in") {
  RecordLimit limit;
  limit.max_bytes = 10;
  const std::string big(25, 'z');
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(
      std::make_unique<FileSource>(pipe_with("a\n" + big + "\nb,c\n"), '\n', "pipe", true, limit));
  sources.push_back(list({"1", "2"}));
  RecordStream stream(std::move(sources), ColumnSplitter(","));
  std::vector<std::pair<std::string, uint64_t>> seen;
  while (std::optional<Record> r = stream.next()) {
    std::string fields;
    for (const std::string& f : r->fields) fields += "[" + f + "]";
    seen.emplace_back(fields, r->too_long);
  }
  const std::vector<std::pair<std::string, uint64_t>> expected = {
      {"[a][1]", 0},    {"[a][2]", 0},   {"[" + big + "][1]", 25}, {"[" + big + "][2]", 25},
      {"[b][c][1]", 0}, {"[b][c][2]", 0}};
  CHECK(seen.size() == expected.size());
  for (size_t i = 0; i < std::min(seen.size(), expected.size()); ++i) {
    CAPTURE(i);
    CHECK(seen[i].first == expected[i].first);
    CHECK(seen[i].second == expected[i].second);
  }
}

TEST_CASE("-E does not end the input at the kept beginning of a record too long to keep") {
  RecordLimit limit;
  limit.max_bytes = 3;
  EndAtSource source(
      std::make_unique<FileSource>(pipe_with("abcd\nabc\nx\n"), '\n', "pipe", true, limit), "abcd");
  // Only "abc" of "abcd" is kept (the limit is below kKeptBytes here): it is not the end string.
  REQUIRE(source.next().has_value());
  CHECK(source.too_long() == 4);
  CHECK(source.next() == std::optional<std::string>("abc"));
  CHECK(source.next() == std::optional<std::string>("x"));
}

TEST_CASE("a refused record is a group of its own: -n, -X and -L group the records around it") {
  RecordGrouper::Options options;
  options.max_records = 3;
  for (const bool continue_lines : {false, true}) {
    CAPTURE(continue_lines);
    options.continue_lines = continue_lines;
    std::vector<std::unique_ptr<ValueSource>> sources;
    sources.push_back(list({"a ", "b", std::string(40, 'a') + "cb", "c", "d", "e", "f"}));
    RecordStream stream(std::move(sources), ColumnSplitter("(a+)+b"));
    RecordGrouper grouper(stream, options);
    Records groups;
    std::vector<bool> runnable;
    while (std::optional<Record> group = grouper.next()) {
      groups.push_back(group->fields);
      runnable.push_back(group->runnable());
    }
    const Records expected =
        continue_lines
            ? Records{{"a b"}, {std::string(40, 'a') + "cb"}, {"c", "d", "e"}, {"f"}}
            : Records{{"a ", "b"}, {std::string(40, 'a') + "cb"}, {"c", "d", "e"}, {"f"}};
    CHECK(show_records(groups) == show_records(expected));
    CHECK(runnable == std::vector<bool>{true, false, true, true});
  }
}

TEST_CASE("an invalid --colsep regular expression is a usage error") {
  for (const char* pattern : {"(", "[", "*", "a)"}) {
    CAPTURE(pattern);
    try {
      ColumnSplitter columns(pattern);
      FAIL("ColumnSplitter should have thrown");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).find("--colsep") != std::string::npos);
    }
  }
}

TEST_CASE("-r: values that are empty or only blanks are skipped, any other value kept whole") {
  SkipBlankSource source(list({"", "a", " ", "\t\v\f\r\n", " b ", "", "\x01", ""}));
  CHECK(show(drain(source)) == show(Values{"a", " b ", "\x01"}));
  SkipBlankSource blank(list({" ", ""}));
  CHECK(drain(blank).empty());
}

TEST_CASE("-d splits ::: values at the delimiter, as GNU parallel reads them") {
  SplitListSource source({"a,b", "c", "", "d,", ",", "e,,f"}, ",");
  CHECK(show(drain(source)) == show(Values{"a", "b", "c", "", "d", "", "", "", "e", "", "f"}));
  SplitListSource crlf({"a\r\nb\r", "\nc"}, "\r\n");
  CHECK(show(drain(crlf)) == show(Values{"a", "b\r", "\nc"}));
  SplitListSource none({}, ",");
  CHECK(drain(none).empty());
}

TEST_CASE("--link: the sources side by side, the shorter starting over, to the longest's end") {
  RecordStream stream(sources_of({{"a", "b", "c"}, {"1", "2"}, {"x"}}), std::nullopt, {}, true);
  CHECK(show_records(drain(stream)) ==
        show_records(Records{{"a", "1", "x"}, {"b", "2", "x"}, {"c", "1", "x"}}));
  RecordStream with_empty(sources_of({{}, {"1", "2"}}), std::nullopt, {}, true);
  CHECK(show_records(drain(with_empty)) == show_records(Records{{"", "1"}, {"", "2"}}));
  RecordStream all_empty(sources_of({{}, {}}), std::nullopt, {}, true);
  CHECK(drain(all_empty).empty());
}

TEST_CASE("one source: each value is a record with one field") {
  CHECK(show_records(records_of({{"a", "b c", ""}})) ==
        show_records(Records{{"a"}, {"b c"}, {""}}));
  CHECK(records_of({{}}).empty());
}

TEST_CASE("one source with columns: each value is split into fields") {
  CHECK(show_records(records_of({{"a\tb", "c", "d\t\te"}}, ColumnSplitter("\\t"))) ==
        show_records(Records{{"a", "b"}, {"c"}, {"d", "", "e"}}));
  CHECK(show_records(records_of({{"1,2,3", ",x"}}, ColumnSplitter(","))) ==
        show_records(Records{{"1", "2", "3"}, {"", "x"}}));
}

TEST_CASE("several sources: every combination, the first source varying slowest") {
  CHECK(show_records(records_of({{"a", "b"}, {"1", "2"}})) ==
        show_records(Records{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"b", "2"}}));
  CHECK(show_records(records_of({{"a", "b"}, {"1", "2"}, {"x", "y"}})) ==
        show_records(Records{{"a", "1", "x"},
                             {"a", "1", "y"},
                             {"a", "2", "x"},
                             {"a", "2", "y"},
                             {"b", "1", "x"},
                             {"b", "1", "y"},
                             {"b", "2", "x"},
                             {"b", "2", "y"}}));
  CHECK(show_records(records_of({{"a"}, {"1", "2", "3"}})) ==
        show_records(Records{{"a", "1"}, {"a", "2"}, {"a", "3"}}));
  CHECK(show_records(records_of({{"a", "b", "c"}, {"1"}})) ==
        show_records(Records{{"a", "1"}, {"b", "1"}, {"c", "1"}}));
  CHECK(show_records(records_of({{"a b", ""}, {"", "x"}})) ==
        show_records(Records{{"a b", ""}, {"a b", "x"}, {"", ""}, {"", "x"}}));
}

TEST_CASE("with columns, the value of every source is split, as GNU parallel does") {
  CHECK(show_records(records_of({{"a,b", "c"}, {"1,2"}}, ColumnSplitter(","))) ==
        show_records(Records{{"a", "b", "1", "2"}, {"c", "1", "2"}}));
}

TEST_CASE("an empty source among others stands for one empty value, as in GNU parallel") {
  CHECK(show_records(records_of({{"a", "b"}, {}})) == show_records(Records{{"a", ""}, {"b", ""}}));
  CHECK(show_records(records_of({{}, {"1", "2"}})) == show_records(Records{{"", "1"}, {"", "2"}}));
  CHECK(show_records(records_of({{"a"}, {}, {"1"}})) == show_records(Records{{"a", "", "1"}}));
  // Linked to it, the empty source has that one value: the pair ends after one row.
  RecordStream linked(sources_of({{"a", "b"}, {}}), std::nullopt, {false, true});
  CHECK(show_records(drain(linked)) == show_records(Records{{"a", ""}}));
  // Every source empty: no records at all.
  CHECK(records_of({{}, {}}).empty());
  CHECK(records_of({{}}).empty());
}

TEST_CASE("a value read ahead to tell whether its source is empty keeps its size when too long") {
  RecordLimit limit;
  limit.max_bytes = 3;
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(
      std::make_unique<FileSource>(pipe_with("abcdef\nx\n"), '\n', "pipe", true, limit));
  sources.push_back(list({"1"}));
  RecordStream stream(std::move(sources), std::nullopt);
  std::optional<Record> first = stream.next();
  REQUIRE(first.has_value());
  CHECK(first->too_long == 6);
  std::optional<Record> second = stream.next();
  REQUIRE(second.has_value());
  CHECK(show(second->fields) == show({"x", "1"}));
  CHECK(second->too_long == 0);
}

TEST_CASE("sources of different kinds combine") {
  const TempFile file("1\n2\n");
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(std::make_unique<FileSource>(pipe_with("a\nb\n"), '\n', "pipe", true));
  sources.push_back(open_file_source(file.path(), '\n'));
  RecordStream stream(std::move(sources), std::nullopt);
  CHECK(show_records(drain(stream)) ==
        show_records(Records{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"b", "2"}}));
}

TEST_CASE("the first source is streamed, not read ahead") {
  SUBCASE("alone") {
    int taken = 0;
    std::vector<std::unique_ptr<ValueSource>> sources;
    sources.push_back(std::make_unique<CountingSource>(&taken));
    RecordStream stream(std::move(sources), std::nullopt);
    for (int i = 1; i <= 5; ++i) {
      const std::optional<Record> r = stream.next();
      REQUIRE(r.has_value());
      CHECK(show(r->fields) == show({"v" + std::to_string(i)}));
    }
    CHECK(taken <= 6);
  }
  SUBCASE("with other sources") {
    int taken = 0;
    std::vector<std::unique_ptr<ValueSource>> sources;
    sources.push_back(std::make_unique<CountingSource>(&taken));
    sources.push_back(list({"1", "2"}));
    RecordStream stream(std::move(sources), std::nullopt);
    const Records expected = {{"v1", "1"}, {"v1", "2"}, {"v2", "1"},
                              {"v2", "2"}, {"v3", "1"}, {"v3", "2"}};
    for (const Values& fields : expected) {
      const std::optional<Record> r = stream.next();
      REQUIRE(r.has_value());
      CHECK(show(r->fields) == show(fields));
    }
    CHECK(taken <= 4);
  }
  SUBCASE("columns of a streamed source") {
    int taken = 0;
    std::vector<std::unique_ptr<ValueSource>> sources;
    sources.push_back(std::make_unique<CountingSource>(&taken));
    RecordStream stream(std::move(sources), ColumnSplitter("1"));
    const std::optional<Record> r = stream.next();
    REQUIRE(r.has_value());
    CHECK(show(r->fields) == show({"v", ""}));
    CHECK(taken <= 2);
  }
}

TEST_CASE("records from a pipe arrive while the writer is still writing") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  std::atomic<bool> first_read{false};
  std::atomic<bool> waited_in_vain{false};
  std::thread writer([&] {
    write_all(fds[1], "first\n");
    // Nothing more is written until the first record has been read.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!first_read.load()) {
      if (std::chrono::steady_clock::now() > deadline) {
        waited_in_vain = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    write_all(fds[1], "second\n");
    close(fds[1]);
  });
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(std::make_unique<FileSource>(fds[0], '\n', "live pipe", true));
  RecordStream stream(std::move(sources), std::nullopt);
  const std::optional<Record> first = stream.next();
  first_read = true;
  const std::optional<Record> second = stream.next();
  const std::optional<Record> end = stream.next();
  writer.join();
  CHECK_FALSE(waited_in_vain.load());
  REQUIRE(first.has_value());
  CHECK(show(first->fields) == show({"first"}));
  REQUIRE(second.has_value());
  CHECK(show(second->fields) == show({"second"}));
  CHECK_FALSE(end.has_value());
}

}  // namespace
}  // namespace taskpool
