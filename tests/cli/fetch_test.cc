#include "cli/fetch.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli/report.h"
#include "core/scheduler.h"
#include "tests/core/fake_executor.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;
using Argv = std::vector<std::string>;

// Records of these fields, in order, as the reader gives them.
class FetchRecords final : public JobSource {
 public:
  explicit FetchRecords(std::vector<std::vector<std::string>> records)
      : records_(std::move(records)) {}
  State poll(Record& out) override {
    if (next_ == records_.size()) return State::kEnd;
    out.fields = records_[next_++];
    return State::kReady;
  }

 private:
  std::vector<std::vector<std::string>> records_;
  size_t next_ = 0;
};

// The argv of each record's download, in input order.
std::vector<Argv> named(std::vector<std::vector<std::string>> records) {
  FetchRecords source(std::move(records));
  FetchNamer namer(source, FetchNamer::Options());
  std::vector<Argv> out;
  Record record;
  uint64_t seq = 0;
  while (namer.poll(record) == JobSource::State::kReady) {
    const AttemptPayload payload = FetchNamer::download(Job{++seq, record});
    REQUIRE(payload.download.has_value());
    const Download& download = *payload.download;
    CHECK(payload.command.line == download.url);
    Argv argv{download.url, download.path};
    if (!download.refused.empty()) argv.push_back(download.refused);
    out.push_back(std::move(argv));
  }
  return out;
}

TEST_CASE("a download's command is its URL and its file, named as the record is taken") {
  const auto argv =
      named({{"http://h/a/file.txt?x=1"}, {"http://other/file.txt"}, {"http://h/file.txt"}});
  REQUIRE(argv.size() == 3);
  CHECK(argv[0] == Argv{"http://h/a/file.txt?x=1", "file.txt"});
  CHECK(argv[1] == Argv{"http://other/file.txt", "file.txt.1"});
  CHECK(argv[2] == Argv{"http://h/file.txt", "file.txt.2"});
  FetchRecords source(std::vector<std::vector<std::string>>{{"http://h/x.bin", "9"}});
  FetchNamer namer(source, FetchNamer::Options());
  Record record;
  REQUIRE(namer.poll(record) == JobSource::State::kReady);
  // The record keeps its own fields first (--priority-col reads them); a retry of the job gets
  // the same command.
  CHECK(record.fields.at(1) == "9");
  const Job job{1, record};
  CHECK(FetchNamer::download(job).command.line == "http://h/x.bin");
  CHECK(FetchNamer::download(job).download->path == FetchNamer::download(job).download->path);
}

TEST_CASE("URL<TAB>PATH and two columns choose the path; unsafe paths are refused") {
  const auto argv = named({{"http://h/x\tsub/dir/f.bin"}, {"http://h/y", "other.bin"}});
  CHECK(argv[0] == Argv{"http://h/x", "sub/dir/f.bin"});
  CHECK(argv[1] == Argv{"http://h/y", "other.bin"});
  for (const char* bad : {"../evil", "/abs/path", "a/../../b", "dir/"}) {
    CAPTURE(bad);
    const auto refused = named({{std::string("http://h/z\t") + bad}}).at(0);
    REQUIRE(refused.size() == 3);
    CHECK(refused[1].empty());
    CHECK(refused[2].find(bad) != std::string::npos);
  }
}

TEST_CASE("hostile URLs give one safe file name") {
  for (const char* url : {"http://h/../../x", "http://h/%2e%2e%2fx", "http://h/..", "http://h/",
                          "http://h/a%0ab", "http://h/%00", "http://h/a%E2%80%AEb"}) {
    CAPTURE(url);
    const std::string name = named({{url}}).at(0).at(1);
    CHECK(!name.empty());
    CHECK(name.find('/') == std::string::npos);
    CHECK(name != "..");
    CHECK(name.find('\n') == std::string::npos);
    const std::string right_to_left_override{'\xE2', '\x80', '\xAE'};
    CHECK(name.find(right_to_left_override) == std::string::npos);
  }
}

// The paths the jobs that ran were given, by sequence number, in a run of `urls` whose jobs
// `skip` leaves out (as --resume does).
std::map<uint64_t, std::string> paths_of_run(const std::vector<std::string>& urls,
                                             std::function<bool(uint64_t)> skip) {
  std::vector<std::vector<std::string>> records;
  for (const std::string& url : urls) records.push_back({url});
  FetchRecords records_source(records);
  FetchNamer namer(records_source, FetchNamer::Options());
  testing::FakeClock clock;
  testing::FakeExecutor executor(clock, [](uint64_t, int) { return testing::Outcome{1s, 0}; });
  testing::RecordingObserver observer;
  std::map<uint64_t, std::string> paths;
  SchedulerOptions options;
  options.workers = 2;
  options.skip = std::move(skip);
  Scheduler scheduler(
      options, clock, executor, namer,
      [&](const Job& job, WorkerId) {
        AttemptPayload payload = FetchNamer::download(job);
        paths[job.seq] = payload.download.value().path;
        return payload;
      },
      observer);
  scheduler.run();
  return paths;
}

TEST_CASE("a download's name does not depend on which jobs run") {
  const std::vector<std::string> urls = {"http://h/1/a.txt", "http://h/2/a.txt", "http://h/3/a.txt",
                                         "http://h/4/b.txt"};
  const auto all = paths_of_run(urls, {});
  CHECK(all == std::map<uint64_t, std::string>{
                   {1, "a.txt"}, {2, "a.txt.1"}, {3, "a.txt.2"}, {4, "b.txt"}});
  const auto resumed = paths_of_run(urls, [](uint64_t seq) { return seq == 1 || seq == 3; });
  CHECK(resumed == std::map<uint64_t, std::string>{{2, "a.txt.1"}, {4, "b.txt"}});
}

TEST_CASE("json_string gives valid JSON for any bytes: what is not UTF-8 becomes U+FFFD") {
  CHECK(json_string("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  CHECK(json_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  CHECK(json_string("\x80\xFF") == "\"\\ufffd\\ufffd\"");
  // A sequence cut short is one replacement; overlong forms and surrogates are not UTF-8.
  CHECK(json_string("\xE2\x82x") == "\"\\ufffdx\"");
  CHECK(json_string("\xC0\xAF") == "\"\\ufffd\\ufffd\"");
  CHECK(json_string("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
  CHECK(json_string("\xF4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  CHECK(json_string("end\xF0\x9F") == "\"end\\ufffd\"");
}

TEST_CASE("the fetch report's JSON is valid UTF-8 whatever the URL's bytes") {
  FetchReport report;
  Completion failed;
  failed.exit_status = 22;
  failed.detail.http_status = 404;
  const std::string url = "http://h/\xFF\xFE";
  failed.error = url + ": not found";
  report.add_failure(url, "", failed);
  CHECK(report.json(1s).find("\"url\": \"http://h/\\ufffd\\ufffd\"") != std::string::npos);
}

TEST_CASE("the fetch report counts bytes and statuses, and lists failures with their files") {
  FetchReport report;
  report.set_output_dir("./dl//");
  Completion ok;
  ok.detail.http_status = 200;
  ok.detail.stdout_bytes = 3 * 1024 * 1024;
  report.add_attempt(ok);
  Completion missing;
  missing.detail.http_status = 404;
  missing.exit_status = 22;
  missing.error = "http://h/nope: HTTP 404";
  report.add_attempt(missing);
  report.add_failure("http://h/nope", "sub/nope", missing);
  const std::string json = report.json(2s);
  CHECK(json.find("\"bytes\": 3145728") != std::string::npos);
  CHECK(json.find("\"bytes_per_second\": 1572864") != std::string::npos);
  CHECK(json.find("\"http_statuses\": {\"200\": 1, \"404\": 1}") != std::string::npos);
  CHECK(json.find(R"({"url": "http://h/nope", "path": "dl/sub/nope", "reason": "HTTP 404", )"
                  R"("http_status": 404})") != std::string::npos);
  const std::string text = report.text(2s);
  CHECK(text.find("3.00 MiB (1.50 MiB/s), HTTP 200x1 404x1") != std::string::npos);
  CHECK(text.find("failed    http://h/nope: HTTP 404") != std::string::npos);
}

}  // namespace
}  // namespace taskpool
