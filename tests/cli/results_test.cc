#include "cli/results.h"

#include <doctest/doctest.h>

namespace taskpool {
namespace {

TEST_CASE("--results names a table by its ending, any case, and stdout by -") {
  CHECK(results_target("r.csv", "{}").kind == ResultsTarget::Kind::kCsv);
  CHECK(results_target("r.TSV", "{}").kind == ResultsTarget::Kind::kTsv);
  CHECK(results_target("r.json", "{}").kind == ResultsTarget::Kind::kJson);
  CHECK(results_target("out", "{}").kind == ResultsTarget::Kind::kTree);
  CHECK(results_target("out/", "{}").kind == ResultsTarget::Kind::kTree);
  CHECK_FALSE(results_target("r.csv", "{}").to_stdout);
  CHECK(results_target("-.csv", "{}").to_stdout);
  CHECK(results_target("-.json", "{}").to_stdout);
}

TEST_CASE("--results with a replacement string is a name each job makes") {
  CHECK(results_target("my_{}", "{}").kind == ResultsTarget::Kind::kTemplate);
  CHECK(results_target("d/{#}/", "{}").kind == ResultsTarget::Kind::kTemplate);
  CHECK(results_target("my_{}", "XX").kind == ResultsTarget::Kind::kTree);
  CHECK(results_target("my_XX", "XX").kind == ResultsTarget::Kind::kTemplate);
}

TEST_CASE("a value as a directory name: GNU parallel's escapes, never . or ..") {
  CHECK(value_as_dirname("plain") == "plain");
  CHECK(value_as_dirname("a/b") == "a\\_b");
  CHECK(value_as_dirname("a\\b") == "a\\\\b");
  CHECK(value_as_dirname("a\tb") == "a\\tb");
  CHECK(value_as_dirname(std::string("a\0b", 3)) == "a\\0b");
  CHECK(value_as_dirname(".") == "\\.");
  CHECK(value_as_dirname("..") == "\\..");
  CHECK(value_as_dirname("...") == "...");
  CHECK(value_as_dirname(std::string(300, 'x')).size() == 255);
}

TEST_CASE("a job's directory: field numbers, or --header names, with the values") {
  const Record record({"a", "b/c"});
  CHECK(record_dirname(record, {}) == "1/a/2/b\\_c");
  CHECK(record_dirname(record, {"x", "y"}) == "x/a/y/b\\_c");
  CHECK(record_dirname(Record({""}), {}) == "1/");
}

TEST_CASE("a CSV field is quoted when it holds a blank, the separator, a quote or NUL") {
  CHECK(csv_field("plain", ',') == "plain");
  CHECK(csv_field("a,b", ',') == "\"a,b\"");
  CHECK(csv_field("a,b", '\t') == "a,b");
  CHECK(csv_field("a\tb", '\t') == "\"a\tb\"");
  CHECK(csv_field("a b", ',') == "\"a b\"");
  CHECK(csv_field("a\nb", ',') == "\"a\nb\"");
  CHECK(csv_field("d\"e", ',') == "\"d\"\"e\"");
  CHECK(csv_field(std::string("a\0b", 3), ',') == std::string("\"a\0b\"", 5));
  CHECK(csv_field("", ',').empty());
}

TEST_CASE("a JSON string escapes backslash, quote and control characters") {
  CHECK(json_escape("plain ü") == "plain ü");
  CHECK(json_escape("q\"\\") == "q\\\"\\\\");
  CHECK(json_escape("a\nb\x01") == "a\\u000ab\\u0001");
}

}  // namespace
}  // namespace taskpool
