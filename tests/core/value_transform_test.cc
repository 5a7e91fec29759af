// GNU parallel's transforms of a value (core/value_transform.h), and the template's {-N} and
// --plus strings that use them. The expected values are what GNU parallel 20221122 prints.
#include "core/value_transform.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/template.h"

namespace taskpool {
namespace {

std::string text_of(const std::vector<std::string>& words, const std::vector<std::string>& fields,
                    bool plus = true) {
  CommandTemplate::Options options;
  options.plus = plus;
  options.append_record = false;
  return CommandTemplate(words, options).expand_text(Job{7, Record(fields)}, 1);
}

std::string plus_of(const char* string, const std::string& value) {
  return text_of({string}, {value});
}

TEST_CASE("--plus: {..} {...} {/..} {/...} take two or three extensions off") {
  CHECK(plus_of("{..}", "a.tar.gz") == "a");
  CHECK(plus_of("{...}", "a.tar.gz") == "a.tar.gz");  // fewer than three: unchanged
  CHECK(plus_of("{...}", "x/y.b.c.d") == "x/y");
  CHECK(plus_of("{..}", "dir.d/file") == "dir.d/file");  // a slash stops an extension
  CHECK(plus_of("{/..}", "dir.d/file") == "file");
  CHECK(plus_of("{/..}", "x/y.b.c.d") == "y.b");
  CHECK(plus_of("{/...}", "x/y.b.c.d") == "y");
  CHECK(plus_of("{..}", "a..b") == "a");
}

TEST_CASE("--plus: {+/} {+.} {+..} {+...} are what the others leave out") {
  CHECK(plus_of("{+/}", "x/y.b.c.d") == "x");
  CHECK(plus_of("{+/}", "noext") == "");
  CHECK(plus_of("{+/}", "/abs") == "");
  CHECK(plus_of("{+/}", "d/") == "d");
  CHECK(plus_of("{+.}", "a.tar.gz") == "gz");
  CHECK(plus_of("{+.}", "dir.d/file") == "d/file");  // as Perl's s:.*\.::
  CHECK(plus_of("{+.}", "noext") == "");
  CHECK(plus_of("{+..}", "a.tar.gz") == "tar.gz");
  CHECK(plus_of("{+..}", "a..b") == ".b");
  CHECK(plus_of("{+...}", "a.tar.gz") == "");
  CHECK(plus_of("{+...}", "x/y.b.c.d") == "b.c.d");
  CHECK(plus_of("{..}.{+..}", "a.tar.gz") == "a.tar.gz");
  CHECK(plus_of("{+/}/{/...}.{+...}", "x/y.b.c.d") == "x/y.b.c.d");
}

TEST_CASE("--plus: {:-STR} {:N} {:N:M}, as bash's") {
  CHECK(plus_of("{:-DEF}", "") == "DEF");
  CHECK(plus_of("{:-DEF}", "0") == "DEF");  // Perl's ||=, as GNU parallel
  CHECK(plus_of("{:-DEF}", "x") == "x");
  CHECK(plus_of("{:2}", "a.tar.gz") == "tar.gz");
  CHECK(plus_of("{:2}", "ab") == "");
  CHECK(plus_of("{:20}", "ab") == "");
  CHECK(plus_of("{:1:3}", "a.tar.gz") == ".ta");
  CHECK(plus_of("{:1:3}", "ab") == "b");
  CHECK(plus_of("{:3:40}", "ab") == "");
  CHECK(plus_of("{:x}", "ab") == "{:x}");
  CHECK(plus_of("{:1:}", "ab") == "{:1:}");
}

TEST_CASE("--plus: {#STR} {%STR} {/STR/NEW} {^STR} {,STR} and their doubles, as GNU parallel's") {
  // The values of GNU parallel's tutorial and what it prints for them.
  CHECK(plus_of("{#bc}", "abcAaAdef") == "abcAaAdef");
  CHECK(plus_of("{#abc}", "abcAaAdef") == "AaAdef");
  CHECK(plus_of("{##ab}", "abcAaAdef") == "cAaAdef");
  CHECK(plus_of("{%de}", "abcAaAdef") == "abcAaAdef");
  CHECK(plus_of("{%def}", "abcAaAdef") == "abcAaA");
  CHECK(plus_of("{%%def}", "abcAaAdef") == "abcAaA");
  CHECK(plus_of("{/def/ghi}", "abcAaAdef") == "abcAaAghi");
  CHECK(plus_of("{/a/}", "abcAaAdef") == "bcAaAdef");
  CHECK(plus_of("{//a/X}", "abcAaAdef") == "XbcAXAdef");
  CHECK(plus_of("{/#a/X}", "abcAaAdef") == "XbcAaAdef");
  CHECK(plus_of("{/%f/X}", "abcAaAdef") == "abcAaAdeX");
  CHECK(plus_of("{/a/b/c}", "aXa.ab") == "b/cXa.ab");  // NEW may hold a slash
  CHECK(plus_of("{^a}", "abcAaAdef") == "AbcAaAdef");
  CHECK(plus_of("{^^a}", "abcAaAdef") == "AbcAAAdef");
  CHECK(plus_of("{,A}", "AbcAaAdef") == "abcAaAdef");
  CHECK(plus_of("{,,A}", "AbcAaAdef") == "abcaaadef");
  CHECK(plus_of("{^ab}", "aXa.ab") == "aXa.ab");
  // Not replacement strings, as in GNU parallel: they stay text.
  CHECK(plus_of("{##}", "x") == "{##}");
  CHECK(plus_of("{###x}", "x") == "{###x}");
  CHECK(plus_of("{/#/x}", "x") == "{/#/x}");
  CHECK(plus_of("{/#%/x}", "%a") == "xa");
  CHECK(plus_of("{/a}", "x") == "{/a}");
}

TEST_CASE("--plus strings after a field number, and from the end") {
  CHECK(text_of({"{2..}", "{-1+.}", "{1:-z}"}, {"a.b.c", "d.e.f"}) == "d f a.b.c");
  CHECK(text_of({"{2:-z}"}, {"a", ""}) == "z");
  CHECK(text_of({"{1#a}", "{-1%.c}"}, {"ab", "b.c"}) == "b b");
}

TEST_CASE("without --plus its strings are text") {
  CHECK(text_of({"{..}", "{+/}", "{:-x}", "{.}"}, {"a.b.c"}, false) == "{..} {+/} {:-x} a.b");
  CHECK(text_of({"{#a}", "{%c}", "{/a/b}", "{^a}"}, {"a.b.c"}, false) == "{#a} {%c} {/a/b} {^a}");
}

TEST_CASE("{-N} counts fields from the end, with every transform") {
  const std::vector<std::string> fields = {"a.x", "b/c.y"};
  CHECK(text_of({"{-1}", "{-2.}", "{-1/}", "{-1//}", "{-1/.}"}, fields, false) ==
        "b/c.y a c.y b c");
  // Past the first field, GNU parallel's Perl index counts from the end again, then not.
  CHECK(text_of({"x{-3}x"}, fields, false) == "xb/c.yx");
  CHECK(text_of({"x{-4}x"}, fields, false) == "xa.xx");
  CHECK(text_of({"x{-5}x"}, fields, false) == "xx");
  CHECK(text_of({"{-0}", "{-}", "{-a}"}, fields, false) == "{-0} {-} {-a}");
  CommandTemplate::Options options;
  CHECK(CommandTemplate({"echo", "{-1}"}, options).expand(Job{1, Record({"p", "q r"})}, 1).line ==
        "echo 'q r'");
}

TEST_CASE("parse_transform knows GNU parallel's names, --plus's only with plus") {
  CHECK(parse_transform(".", false)->kind == ValueTransform::Kind::kNoExt);
  CHECK_FALSE(parse_transform("..", false));
  CHECK(parse_transform("..", true)->kind == ValueTransform::Kind::kNoExt2);
  CHECK_FALSE(parse_transform("+", true));
  CHECK_FALSE(parse_transform("", true));
  CHECK(parse_transform(":3:4", true)->length == 4);
}

}  // namespace
}  // namespace taskpool
