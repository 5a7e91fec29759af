#include "cli/serve/api_json.h"

#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

namespace taskpool {
namespace {

std::vector<NewJob> submit_ok(const std::string& body, const SubmitLimits& limits = {}) {
  auto parsed = parse_submit(body, limits);
  const auto* problem = std::get_if<FieldError>(&parsed);
  REQUIRE_MESSAGE(problem == nullptr, (problem == nullptr ? "" : problem->message()));
  return std::get<std::vector<NewJob>>(parsed);
}

std::string submit_error(const std::string& body, const SubmitLimits& limits = {}) {
  auto parsed = parse_submit(body, limits);
  const auto* problem = std::get_if<FieldError>(&parsed);
  REQUIRE(problem != nullptr);
  return problem->message();
}

TEST_CASE("a submit body: one record or a batch, with the fields the jobs share") {
  std::vector<NewJob> one = submit_ok(R"({"record": ["a b", "c"], "group": "render"})");
  REQUIRE(one.size() == 1);
  CHECK(one[0].fields == std::vector<std::string>{"a b", "c"});
  CHECK(one[0].group == "render");
  CHECK(one[0].priority == 0);

  std::vector<NewJob> batch =
      submit_ok(R"({"records": ["x.jpg", ["y.jpg", "2"]], "priority": -3, "after": [4, 5],)"
                R"( "command": "convert {1} {1.}.png"})");
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].fields == std::vector<std::string>{"x.jpg"});
  CHECK(batch[1].fields == std::vector<std::string>{"y.jpg", "2"});
  CHECK(batch[1].group == "default");
  CHECK(batch[1].priority == -3);
  CHECK(batch[1].after == std::vector<uint64_t>{4, 5});
  CHECK(batch[1].command == "convert {1} {1.}.png");
  // Any Unicode, escaped or not, comes through as UTF-8.
  CHECK(submit_ok(R"({"record": "caf\u00e9 \ud83d\ude00 é"})")[0].fields[0] ==
        "caf\xc3\xa9 \xf0\x9f\x98\x80 \xc3\xa9");
}

TEST_CASE("a bad submit body is refused, naming the field and the problem") {
  CHECK(submit_error("") == "the body is empty: send a JSON object");
  CHECK(submit_error("{\"record\": x}") ==
        "record: the body is not valid JSON: parse error at line 1, column 12: syntax error while "
        "parsing value - invalid literal; last read: '\"record\": x'");
  CHECK(submit_error("{\"record\": \"a\"").starts_with("the body is not valid JSON: parse error"));
  CHECK(submit_error("[\"a\"]") == "the body must be a JSON object");
  CHECK(submit_error("{\"record\": \"\xff\"}").find("invalid string: ill-formed UTF-8 byte") !=
        std::string::npos);
  // A parse error names the field it is in.
  CHECK(submit_error("{\"record\": \"\xff\"}").starts_with("record: the body is not valid JSON"));
  CHECK(submit_error("{\"group\": \"g\", \"records\": [\"a\", [\"b\", \"c\xc3\x28\"]]}")
            .starts_with("records[1][1]: the body is not valid JSON: parse error at line 1, "
                         "column 42: syntax error while parsing value - invalid string: ill-formed "
                         "UTF-8 byte"));
  CHECK(submit_error("{\"after\": [1], \"x\xff\": 1}").starts_with("the body is not valid JSON"));
  CHECK(submit_error("[\"a\", {\"b\": [1, tru]}]").starts_with("[1].b[1]: the body is not"));
  CHECK(submit_error("{\"record\": \"a\\u0000b\"}") ==
        "record: cannot hold a NUL byte (no command "
        "line can)");
  CHECK(submit_error(R"({"records": ["a", ["b", 3]]})") == "records[1][1]: must be a string");
  CHECK(submit_error(R"({"records": ["a", {}]})") ==
        "records[1]: must be a string or an array of strings");
  CHECK(submit_error(R"({"records": ["a", []]})") == "records[1]: has no field");
  CHECK(submit_error(R"({"records": []})") == "records: must be a non-empty array of records");
  CHECK(submit_error(R"({"group": "a"})") ==
        "records: give either record (one job) or records (a list of jobs)");
  CHECK(submit_error(R"({"record": "a", "records": ["b"]})") ==
        "records: give either record (one job) or records (a list of jobs)");
  CHECK(submit_error(R"({"record": "a", "grup": "x"})") == "grup: unknown field");
  CHECK(submit_error(R"({"record": "a", "group": "a/b"})") ==
        "group: must be 1 to 64 letters, digits, '_', '.' or '-'");
  CHECK(submit_error(R"({"record": "a", "group": 7})") ==
        "group: must be 1 to 64 letters, digits, '_', '.' or '-'");
  for (const char* priority :
       {"1.5", "\"1\"", "1000000001", "-1000000001", "18446744073709551615", "1e3", "true"}) {
    CAPTURE(priority);
    CHECK(submit_error(std::string(R"({"record": "a", "priority": )") + priority + "}") ==
          "priority: must be an integer from -1000000000 to 1000000000");
  }
  CHECK(submit_ok(R"({"record": "a", "priority": 1000000000})")[0].priority == 1'000'000'000);
  CHECK(submit_ok(R"({"record": "a", "priority": -1000000000})")[0].priority == -1'000'000'000);
  CHECK(submit_error(R"({"record": "a", "after": 3})") == "after: must be an array of job ids");
  CHECK(submit_error(R"({"record": "a", "after": [3, 0]})") ==
        "after[1]: must be a job id (1, 2, ...)");
  CHECK(submit_error(R"({"record": "a", "after": [-3]})") ==
        "after[0]: must be a job id (1, 2, ...)");
  CHECK(submit_error(R"({"record": "a", "command": ""})") == "command: is empty");
  CHECK(submit_error(R"({"record": "a", "command": ["ls"]})") == "command: must be a string");
}

TEST_CASE("submit limits: batch size, dependencies, deep nesting, a fixed template") {
  SubmitLimits limits;
  limits.max_jobs = 2;
  limits.max_after = 1;
  CHECK(submit_error(R"({"records": ["a", "b", "c"]})", limits) ==
        "records: more than 2 records in one submit: send them in batches");
  CHECK(submit_error(R"({"record": "a", "after": [1, 2]})", limits) == "after: more than 1 jobs");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(submit_error("{\"record\": " + deep + "}") == "the body nests deeper than 8 levels");
  // Brackets inside strings are not nesting.
  CHECK(submit_ok(R"({"record": "[[[[[[[[[[[[[[[[[[[[\"[[[[[[[[[["})")[0].fields[0] ==
        "[[[[[[[[[[[[[[[[[[[[\"[[[[[[[[[[");
  limits.fixed_template = true;
  CHECK(submit_error(R"({"record": "a", "command": "rm -rf {}"})", limits) ==
        "command: this server runs a fixed --template: send records only");
}

TEST_CASE("group settings: each field optional, applied to the group's current ones") {
  GroupSettings current;
  current.queue_size = 50;
  current.rate = 2;
  auto parsed =
      parse_group_settings(R"({"limit": 4, "paused": true, "on_interrupt": "fail"})", current);
  REQUIRE(std::holds_alternative<GroupSettings>(parsed));
  const GroupSettings& settings = std::get<GroupSettings>(parsed);
  CHECK(settings.worker_limit == 4);
  CHECK(settings.paused);
  CHECK(settings.on_interrupt == InterruptPolicy::kFail);
  CHECK(settings.queue_size == 50);
  CHECK(settings.rate == 2);
  CHECK(std::get<GroupSettings>(parse_group_settings("", current)).queue_size == 50);

  auto problem = [&](const std::string& body) {
    auto result = parse_group_settings(body, current);
    REQUIRE(std::holds_alternative<FieldError>(result));
    return std::get<FieldError>(result).message();
  };
  CHECK(problem(R"({"limit": -1})") ==
        "limit: must be a number of workers from 0 (no limit) to 1000000");
  CHECK(problem(R"({"paused": "yes"})") == "paused: must be true or false");
  CHECK(problem(R"({"rate": -0.5})") ==
        "rate: must be starts per second from 0 (no pacing) to 1000000");
  CHECK(problem(R"({"queue_size": 0})") == "queue_size: must be a number of jobs (1, 2, ...)");
  CHECK(problem(R"({"on_interrupt": "retry"})") == "on_interrupt: must be \"requeue\" or \"fail\"");
  CHECK(problem(R"({"limits": 3})") == "limits: unknown field");
}

TEST_CASE("a job's JSON has its state, record, attempts, exit status and times") {
  JobInfo job;
  job.id = 12;
  job.group = "g";
  job.fields = {"a", "b\"c"};
  job.state = JobState::kFailed;
  job.attempts = 2;
  job.exit_status = 3;
  job.submitted_ms = 1'700'000'000'123;
  job.ended_ms = 1'700'000'001'000;
  CHECK(job_json(job) ==
        R"({"id":12,"group":"g","state":"failed","priority":0,"record":["a","b\"c"],)"
        R"("command":"","after":[],"attempts":2,"interruptions":0,"exit_status":3,)"
        R"("signal":null,"reason":"","submitted":"2023-11-14T22:13:20.123Z","started":null,)"
        R"("ended":"2023-11-14T22:13:21.000Z","stdout_bytes":0,"stderr_bytes":0})"
        "\n");
}

}  // namespace
}  // namespace taskpool
