// Linked sources (:::+), -E, and several records per job (-n, -N, -X, -m).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/input.h"
#include "core/template.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Values = std::vector<std::string>;
using Records = std::vector<Values>;
using testing::list;

std::unique_ptr<RecordStream> stream_of(Records lists, std::vector<bool> linked = {}) {
  std::vector<std::unique_ptr<ValueSource>> sources;
  for (Values& values : lists) sources.push_back(list(std::move(values)));
  return std::make_unique<RecordStream>(std::move(sources), std::nullopt, std::move(linked));
}

template <typename Source>
Records drain_records(Source& source) {
  Records records;
  while (auto record = source.next()) records.push_back(record->fields);
  return records;
}

Values numbers(int n) {
  Values values;
  for (int i = 1; i <= n; ++i) values.push_back(std::to_string(i));
  return values;
}

TEST_CASE("a linked source pairs with the one before it, ending with the shorter") {
  auto linked = stream_of({{"a", "b", "c"}, {"1", "2", "3"}}, {false, true});
  CHECK(drain_records(*linked) == Records{{"a", "1"}, {"b", "2"}, {"c", "3"}});
  auto shorter = stream_of({{"a", "b", "c"}, {"1", "2"}}, {false, true});
  CHECK(drain_records(*shorter) == Records{{"a", "1"}, {"b", "2"}});
}

TEST_CASE("linked groups combine with other sources like one source") {
  // ::: x y ::: a b :::+ 1 2 : the linked pair (a 1), (b 2) varies fastest.
  auto stream = stream_of({{"x", "y"}, {"a", "b"}, {"1", "2"}}, {false, false, true});
  CHECK(drain_records(*stream) ==
        Records{{"x", "a", "1"}, {"x", "b", "2"}, {"y", "a", "1"}, {"y", "b", "2"}});
  // ::: a b :::+ 1 2 ::: x y : the first group is linked and streamed.
  auto first = stream_of({{"a", "b"}, {"1", "2"}, {"x", "y"}}, {false, true, false});
  CHECK(drain_records(*first) ==
        Records{{"a", "1", "x"}, {"a", "1", "y"}, {"b", "2", "x"}, {"b", "2", "y"}});
}

TEST_CASE("-E ends a source at the first value equal to the end string") {
  EndAtSource source(list({"1", "2", "STOP", "3", "STOP"}), "STOP");
  CHECK(source.next() == "1");
  CHECK(source.next() == "2");
  CHECK_FALSE(source.next().has_value());
  CHECK_FALSE(source.next().has_value());  // stays ended
  EndAtSource never(list({"1", "2"}), "STOP");
  CHECK(never.next() == "1");
  CHECK(never.next() == "2");
  CHECK_FALSE(never.next().has_value());
}

TEST_CASE("grouping by count: -n and -N put up to N records in each job") {
  auto stream = stream_of({numbers(10)});
  RecordGrouper::Options three;
  three.max_records = 3;
  RecordGrouper grouper(*stream, three);
  CHECK(drain_records(grouper) ==
        Records{{"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9"}, {"10"}});
  auto empty = stream_of({{}});
  RecordGrouper none(*empty, three);
  CHECK(drain_records(none).empty());
}

TEST_CASE("grouping by length: a job takes records until the next would not fit") {
  auto stream = stream_of({{"aaaa", "bb", "ccccc", "d", "eeeeeeeeee", "f"}});
  // Each record costs its length plus one separator; a line holds 8.
  RecordGrouper::Options options;
  options.max_length = 8;
  options.length = [](const Record& r, bool) { return r.fields.at(0).size() + 1; };
  RecordGrouper grouper(*stream, options);
  // "eeeeeeeeee" is too long on its own: it still makes a job of its own, which then fails.
  CHECK(drain_records(grouper) == Records{{"aaaa", "bb"}, {"ccccc", "d"}, {"eeeeeeeeee"}, {"f"}});
}

TEST_CASE("the exec limit counts a pointer for each word besides the characters") {
  auto stream = stream_of({numbers(9)});
  RecordGrouper::Options options;
  options.max_length = 1000;
  options.max_exec_bytes = 3 * (2 + sizeof(char*));
  options.length = [](const Record&, bool) { return RecordGrouper::Measure{2, 1}; };
  RecordGrouper grouper(*stream, options);
  CHECK(drain_records(grouper) == Records{{"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9"}});
}

TEST_CASE("count and length limits together: whichever comes first") {
  auto stream = stream_of({numbers(9)});
  RecordGrouper::Options options;
  options.max_records = 4;
  options.max_length = 6;
  options.length = [](const Record&, bool) { return size_t{2}; };
  RecordGrouper grouper(*stream, options);
  CHECK(drain_records(grouper) == Records{{"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9"}});
}

TEST_CASE("a small input that fits in one job is spread over the workers") {
  auto stream = stream_of({numbers(9)});
  RecordGrouper::Options options;
  options.max_length = 1000;
  options.length = [](const Record&, bool) { return size_t{2}; };
  options.spread_over = 4;
  RecordGrouper grouper(*stream, options);
  // ceil(9 / 4) = 3 records per job, as GNU parallel -X -j4 does.
  CHECK(drain_records(grouper) == Records{{"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9"}});

  auto two = stream_of({{"a", "b"}});
  RecordGrouper::Options many = options;
  many.spread_over = 8;
  RecordGrouper spread(*two, many);
  CHECK(drain_records(spread) == Records{{"a"}, {"b"}});
}

TEST_CASE("spreading keeps multi-field records together") {
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(list({"a,1", "b,2", "c,3", "d,4"}));
  RecordStream stream(std::move(sources), ColumnSplitter(","));
  RecordGrouper::Options options;
  options.max_length = 1000;
  options.length = [](const Record&, bool) { return size_t{4}; };
  options.spread_over = 2;
  RecordGrouper grouper(stream, options);
  CHECK(drain_records(grouper) == Records{{"a", "1", "b", "2"}, {"c", "3", "d", "4"}});
}

TEST_CASE("a large input is not spread: only whole-input first groups are") {
  auto stream = stream_of({numbers(10)});
  RecordGrouper::Options options;
  options.max_length = 8;
  options.length = [](const Record&, bool) { return size_t{2}; };
  options.spread_over = 4;
  RecordGrouper grouper(*stream, options);
  CHECK(drain_records(grouper) == Records{{"1", "2", "3", "4"}, {"5", "6", "7", "8"}, {"9", "10"}});
}

TEST_CASE("-L: a line that ends in a blank goes on with the next one") {
  auto stream = stream_of({{"a b", "c ", "d", "e\t", "f ", "g", "h", "last "}});
  RecordGrouper::Options options;
  options.max_records = 2;
  options.continue_lines = true;
  RecordGrouper grouper(*stream, options);
  CHECK(drain_records(grouper) == Records{{"a b", "c d"}, {"e\tf g", "h"}, {"last "}});
  // Any blank Perl's \s knows, as GNU parallel: \v, \f and \r too.
  auto perl = stream_of({{"a\v", "b", "c\f", "d\r", "e", "f"}});
  RecordGrouper blanks(*perl, options);
  CHECK(drain_records(blanks) == Records{{"a\vb", "c\fd\re"}, {"f"}});
}

Command expand(const CommandTemplate& t, Values fields) {
  return t.expand(Job{1, Record{std::move(fields)}}, 1);
}

TEST_CASE("-X repeats the word around {} for each record; -m puts them all in its place") {
  const CommandTemplate context({"echo", "pre{}post", "x"}, "{}", true);
  CHECK(expand(context, {"1", "2", "3"}).line == "echo pre1post pre2post pre3post x");
  const CommandTemplate multi({"echo", "pre{}post", "x"});
  CHECK(expand(multi, {"1", "2", "3"}).line == "echo pre1 2 3post x");
  // Quoting stays per value; the context word is repeated around each quoted value.
  CHECK(expand(context, {"a b", "c"}).line == "echo pre'a b'post precpost x");
  CHECK(expand(context, {"a b", "c"}).argv == Values{"echo", "prea bpost", "precpost", "x"});
  // Other replacement strings with context.
  const CommandTemplate noext({"mv", "{}", "dir/{.}.bak"}, "{}", true);
  CHECK(expand(noext, {"a.txt", "b.txt"}).line == "mv a.txt b.txt dir/a.bak dir/b.bak");
  // A word that is only {} has no context to repeat.
  const CommandTemplate plain({"rm", "-f", "{}"}, "{}", true);
  CHECK(expand(plain, {"a", "b"}).line == "rm -f a b");
  // A word with {} twice is repeated whole, each {} the same record, as GNU parallel does.
  const CommandTemplate twice({"echo", "a{}b{}c", "{}:{.}"}, "{}", true);
  CHECK(expand(twice, {"1", "x.y"}).line == "echo a1b1c ax.ybx.yc 1:1 x.y:x");
  // Other strings in the word stay the job's: {#}, {%}, and a field {N} of all its records.
  const CommandTemplate others({"echo", "{#}.{}.{%}", "x{1}y{}"}, "{}", true);
  CHECK(expand(others, {"1", "2"}).line == "echo 1.1.1 1.2.1 x1y1 x1y2");
  // Blanks inside the words split them too (GNU parallel splits at spaces, quotes or not).
  const CommandTemplate quoted({"echo a{}b\"c d{}\""}, "{}", true);
  CHECK(expand(quoted, {"1", "2"}).line == "echo a1b\"c a2b\"c d1\" d2\"");
}

TEST_CASE("added_length is exactly what a further record adds to the line") {
  for (bool context : {false, true}) {
    CAPTURE(context);
    for (const Values& words : std::vector<Values>{{"echo", "pre{}post"},
                                                   {"echo"},
                                                   {"cp", "{}", "{.}.bak", "|", "cat"},
                                                   {"echo", "{/}", "{//}"},
                                                   {"echo", "a{}b{/}c", "x"}}) {
      const CommandTemplate t(words, "{}", context);
      Values fields{"dir/a.txt"};
      size_t length = expand(t, fields).line.size();
      for (const char* more : {"b c", "it's", "dir.x/e", "plain"}) {
        const size_t added = t.added_length(Record{{more}});
        fields.push_back(more);
        const size_t now = expand(t, fields).line.size();
        CHECK(now - length == added);
        length = now;
      }
    }
  }
}

}  // namespace
}  // namespace taskpool
