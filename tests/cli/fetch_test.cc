#include "cli/fetch.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Argv = std::vector<std::string>;
using testing::job;

TEST_CASE("a download's command is its URL and its file, chosen once per job") {
  FetchCommands commands;
  const Command first = commands.build(job(1, {"http://h/a/file.txt?x=1"}));
  CHECK(first.line == "http://h/a/file.txt?x=1");
  CHECK(first.argv == Argv{"http://h/a/file.txt?x=1", "file.txt"});
  // Another URL with the same name gets a suffix; a retry of job 1 keeps its own name.
  CHECK(commands.build(job(2, {"http://other/file.txt"})).argv[1] == "file.txt.1");
  CHECK(commands.build(job(1, {"http://h/a/file.txt?x=1"})).argv[1] == "file.txt");
  commands.forget(1);
  commands.forget(2);
  CHECK(commands.build(job(3, {"http://h/file.txt"})).argv[1] == "file.txt.2");
}

TEST_CASE("URL<TAB>PATH and two columns choose the path; unsafe paths are refused") {
  FetchCommands commands;
  CHECK(commands.build(job(1, {"http://h/x\tsub/dir/f.bin"})).argv ==
        Argv{"http://h/x", "sub/dir/f.bin"});
  CHECK(commands.build(job(2, {"http://h/y", "other.bin"})).argv ==
        Argv{"http://h/y", "other.bin"});
  for (const char* bad : {"../evil", "/abs/path", "a/../../b", "dir/"}) {
    CAPTURE(bad);
    const Command refused = commands.build(job(3, {std::string("http://h/z\t") + bad}));
    REQUIRE(refused.argv.size() == 3);
    CHECK(refused.argv[1].empty());
    CHECK(refused.argv[2].find(bad) != std::string::npos);
    commands.forget(3);
  }
}

TEST_CASE("hostile URLs give one safe file name") {
  FetchCommands commands;
  uint64_t seq = 0;
  for (const char* url : {"http://h/../../x", "http://h/%2e%2e%2fx", "http://h/..", "http://h/",
                          "http://h/a%0ab", "http://h/%00"}) {
    CAPTURE(url);
    const std::string name = commands.build(job(++seq, {url})).argv.at(1);
    CHECK(!name.empty());
    CHECK(name.find('/') == std::string::npos);
    CHECK(name != "..");
    CHECK(name.find('\n') == std::string::npos);
  }
}

TEST_CASE("the fetch report counts bytes and statuses, and lists failures") {
  using namespace std::chrono_literals;
  FetchReport report;
  Completion ok;
  ok.http_status = 200;
  ok.stdout_bytes = 2'000'000;
  report.add_attempt(ok);
  Completion missing;
  missing.http_status = 404;
  missing.exit_status = 22;
  missing.error = "http://h/nope: The requested URL returned error: 404";
  report.add_attempt(missing);
  report.add_failure("http://h/nope", missing);
  const std::string json = report.json(2s);
  CHECK(json.find("\"bytes\": 2000000") != std::string::npos);
  CHECK(json.find("\"mb_per_second\": 1.000") != std::string::npos);
  CHECK(json.find("\"http_statuses\": {\"200\": 1, \"404\": 1}") != std::string::npos);
  CHECK(json.find("{\"url\": \"http://h/nope\", \"reason\": \"The requested URL returned error: "
                  "404\", \"http_status\": 404}") != std::string::npos);
  const std::string text = report.text(2s);
  CHECK(text.find("2.0 MB (1.00 MB/s), HTTP 200x1 404x1") != std::string::npos);
  CHECK(text.find("failed    http://h/nope: The requested URL returned error: 404") !=
        std::string::npos);
}

}  // namespace
}  // namespace taskpool
