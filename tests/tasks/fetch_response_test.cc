#include "tasks/fetch_response.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace taskpool {
namespace {

using Kind = Verdict::Kind;

ResponseHead head_of(const std::vector<std::string>& lines) {
  ResponseHead head;
  for (const std::string& line : lines) head.add(line + "\r\n");
  return head;
}

ResponseHead partial(const std::string& content_range) {
  return head_of(
      {"HTTP/1.1 206 Partial Content", "Content-Range: " + content_range, "ETag: \"v1\""});
}

TEST_CASE("parse_content_range: a satisfied byte range, nothing else") {
  const auto range = parse_content_range(" bytes 100-199/1000\r\n");
  REQUIRE(range);
  CHECK(range->first == 100);
  CHECK(range->last == 199);
  CHECK(range->total == 1000);
  const auto unknown_total = parse_content_range("bytes 0-9/*");
  REQUIRE(unknown_total);
  CHECK(!unknown_total->total);
  for (const char* bad : {"", "bytes */1000", "bytes 5-4/10", "bytes 0-9/9", "items 0-9/10",
                          "bytes 0-9", "bytes -9/10", "bytes 0-9/10x", "bytes a-9/10"}) {
    CAPTURE(bad);
    CHECK(!parse_content_range(bad));
  }
}

TEST_CASE("ResponseHead: a status line starts a new response") {
  const ResponseHead head = head_of({"HTTP/1.1 302 Found", "Location: /b", "ETag: \"old\"",
                                     "HTTP/2 200", "content-length: 42", "last-modified: Mon"});
  CHECK(head.status == 200);
  CHECK(!head.has_location);
  CHECK(head.etag.empty());
  CHECK(head.content_length == 42);
  CHECK(head.validator() == "Mon");
}

TEST_CASE("ResponseHead: a weak ETag is no validator for a range") {
  CHECK(head_of({"HTTP/1.1 200 OK", "ETag: W/\"x\"", "Last-Modified: Tue"}).validator() == "Tue");
  CHECK(head_of({"HTTP/1.1 200 OK", "ETag: W/\"x\""}).validator().empty());
  CHECK(head_of({"HTTP/1.1 200 OK", "ETag: \"s\"", "Last-Modified: Tue"}).validator() == "\"s\"");
}

TEST_CASE("judge_response: a 206 continues the .part only where it ends, to the file's end") {
  const PartState part{123457, 300000, "\"v1\""};
  const Verdict fits = judge_response(partial("bytes 123457-299999/300000"), part);
  CHECK(fits.kind == Kind::kAppend);
  CHECK(fits.total == 300000);
  // The answer an attacker's server gave: the whole file, labelled as such.
  const Verdict from_zero = judge_response(partial("bytes 0-299999/300000"), part);
  CHECK(from_zero.kind == Kind::kStartOver);
  CHECK(from_zero.reason.find("bytes 123457-") != std::string::npos);
  CHECK(from_zero.reason.find("bytes 0-299999/300000") != std::string::npos);
  CHECK(judge_response(partial("bytes 123457-199999/300000"), part).kind == Kind::kStartOver);
  CHECK(judge_response(partial("bytes 123457-399999/400000"), part).kind == Kind::kStartOver);
  CHECK(judge_response(partial("garbage"), part).kind == Kind::kStartOver);
  ResponseHead other_version = partial("bytes 123457-299999/300000");
  other_version.etag = "\"v2\"";
  CHECK(judge_response(other_version, part).kind == Kind::kStartOver);
}

TEST_CASE("judge_response: what is not known is not held against a 206") {
  const PartState part{100, std::nullopt, ""};
  CHECK(judge_response(partial("bytes 100-999/1000"), part).kind == Kind::kAppend);
  CHECK(judge_response(partial("bytes 100-999/*"), part).kind == Kind::kAppend);
  // The recorded size stands in for an unknown total.
  const Verdict short_range = judge_response(partial("bytes 100-499/*"), {100, 1000, ""});
  CHECK(short_range.kind == Kind::kStartOver);
}

TEST_CASE("judge_response: a 206 to a request for the whole file must cover all of it") {
  const Verdict half = judge_response(partial("bytes 0-149999/300000"), PartState());
  CHECK(half.kind == Kind::kRetry);
  CHECK(half.reason.find("bytes 0-149999/300000") != std::string::npos);
  const Verdict whole = judge_response(partial("bytes 0-299999/300000"), PartState());
  CHECK(whole.kind == Kind::kWhole);
  CHECK(whole.total == 300000);
  CHECK(judge_response(partial("bytes 0-9/*"), PartState()).kind == Kind::kRetry);
  CHECK(judge_response(head_of({"HTTP/1.1 206 Partial"}), PartState()).kind == Kind::kRetry);
}

TEST_CASE("judge_response: a 200 is the whole file, even to a Range request") {
  const Verdict verdict =
      judge_response(head_of({"HTTP/1.1 200 OK", "Content-Length: 5"}), {100, 1000, "\"v\""});
  CHECK(verdict.kind == Kind::kWhole);
  CHECK(verdict.total == 5);
}

TEST_CASE("judge_response: answers that hold no file are refused, naming the status") {
  const Verdict no_content = judge_response(head_of({"HTTP/1.1 204 No Content"}), PartState());
  CHECK(no_content.kind == Kind::kRefuse);
  CHECK(no_content.reason.starts_with("the server answered 204"));
  const Verdict redirect = judge_response(head_of({"HTTP/1.1 302 Found"}), PartState());
  CHECK(redirect.kind == Kind::kRefuse);
  CHECK(redirect.reason == "the server answered 302 without a Location to follow");
  CHECK(judge_response(head_of({"HTTP/1.1 205 Reset"}), PartState()).kind == Kind::kRefuse);
  CHECK(judge_response(head_of({"HTTP/1.1 304 Not Modified"}), PartState()).kind == Kind::kRefuse);
}

}  // namespace
}  // namespace taskpool
