#include "cli/serve/client.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/option_areas.h"
#include "cli/outcome.h"
#include "cli/record_feed.h"
#include "cli/serve/api_client.h"
#include "cli/serve/client_records.h"
#include "cli/serve/token_file.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/utf8.h"

namespace taskpool {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<std::string_view, 8> kVerbs = {"submit", "status", "wait",   "logs",
                                                    "cancel", "pause",  "resume", "jobs"};
// One submit request at most: what the server takes in one (SubmitLimits::max_jobs), and a body
// well under its 8 MiB limit.
constexpr size_t kBatchRecords = 10000;
constexpr size_t kBatchBytes = size_t{4} << 20;
constexpr size_t kIdsPerRequest = 1000;  // ApiSettings::max_ids
constexpr Duration kFirstPoll = std::chrono::milliseconds(100);
constexpr Duration kLongestPoll = std::chrono::seconds(1);

// What every verb takes.
struct Common {
  std::string server;
  std::string token_file;
  int retries = 5;
};

struct Client {
  std::string verb;
  const ClientIo& io;
  ApiClient api;
};

ApiClient::Options client_options(const Common& common, const ClientIo& io) {
  ApiClient::Options options;
  const char* server = io.getenv("TASKPOOL_SERVER");
  if (!common.server.empty()) {
    options.server = common.server;
  } else if (server != nullptr && *server != '\0') {
    options.server = server;
  }
  const char* token_file = io.getenv("TASKPOOL_TOKEN_FILE");
  if (!common.token_file.empty()) {
    options.token = read_token(common.token_file);
  } else if (token_file != nullptr && *token_file != '\0') {
    options.token = read_token(token_file);
  }
  options.retries = common.retries;
  options.sleep = io.sleep;
  return options;
}

uint64_t job_id(const std::string& text) {
  const std::optional<uint64_t> id = parse_whole_number(text);
  if (!id || *id == 0) throw UsageError(fmt::format("'{}' is not a job id (1, 2, ...)", text));
  return *id;
}

std::vector<uint64_t> job_ids(const std::vector<std::string>& words) {
  if (words.empty()) throw UsageError("give the ids of the jobs");
  std::vector<uint64_t> ids;
  ids.reserve(words.size());
  for (const std::string& word : words) ids.push_back(job_id(word));
  return ids;
}

std::string random_key() {
  std::array<unsigned char, 16> bytes{};
  if (getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    throw Error(fmt::format("getrandom: {}", std::strerror(errno)));
  }
  std::string key;
  for (const unsigned char b : bytes) key += fmt::format("{:02x}", b);
  return key;
}

std::string describe_end(const Json& job) {
  const std::string reason = job.value("reason", "");
  if (!job["signal"].is_null()) return fmt::format("killed by signal {}", job["signal"].get<int>());
  if (!job["exit_status"].is_null() && job["exit_status"].get<int>() != 0) {
    return fmt::format("exit status {}", job["exit_status"].get<int>());
  }
  return reason.empty() ? std::string(job["state"].get<std::string>()) : reason;
}

// ---- submit ----------------------------------------------------------------------------------

struct SubmitOptions {
  std::string group;
  std::optional<int64_t> priority;
  std::vector<std::string> after;
  std::vector<std::string> arg_files;
  bool null = false;
  std::optional<std::string> colsep;
};

Json submit_shared(const SubmitOptions& options, const std::vector<std::string>& command) {
  Json body = Json::object();
  if (!options.group.empty()) body["group"] = options.group;
  if (options.priority) body["priority"] = *options.priority;
  if (!options.after.empty()) {
    Json after = Json::array();
    for (const std::string& id : options.after) after.push_back(job_id(id));
    body["after"] = after;
  }
  if (!command.empty()) {
    std::string line;
    for (const std::string& word : command) line += (line.empty() ? "" : " ") + word;
    if (!is_utf8(line)) throw UsageError("the command is not valid UTF-8");
    body["command"] = line;
  }
  return body;
}

// Sends `records` in batches, each with an Idempotency-Key of its own (a retry after a 429 or a
// lost answer adds nothing twice), and prints the ids of each batch as it is accepted.
int send_batches(Client& client, const Json& shared,
                 const std::vector<std::vector<std::string>>& records) {
  const std::string key = random_key();
  size_t sent = 0;
  for (size_t batch = 0; sent < records.size(); ++batch) {
    Json body = shared;
    body["records"] = Json::array();
    size_t bytes = 0;
    for (; sent < records.size() && body["records"].size() < kBatchRecords && bytes < kBatchBytes;
         ++sent) {
      for (const std::string& field : records[sent]) bytes += field.size() + 8;
      body["records"].push_back(records[sent]);
    }
    const std::vector<std::string> headers = {fmt::format("Idempotency-Key: {}-{}", key, batch)};
    ApiReply reply;
    try {
      reply = client.api.expect_success("POST", "/v1/jobs", body.dump(), headers);
    } catch (const Error& e) {
      if (batch == 0) throw;
      throw Error(
          fmt::format("{}; the records before record {} were accepted (their ids are "
                      "printed above)",
                      e.what(), sent - body["records"].size() + 1));
    }
    const Json answer = Json::parse(reply.body, nullptr, false);
    if (!answer.is_object() || !answer.contains("ids")) {
      throw Error(
          fmt::format("the server at {} answered a submit without ids", client.api.server()));
    }
    for (const Json& id : answer["ids"]) std::fprintf(client.io.out, "%s\n", id.dump().c_str());
    std::fflush(client.io.out);
  }
  return 0;
}

int submit(Client& client, const SubmitOptions& options, const std::vector<std::string>& command,
           std::vector<RunConfig::Source> sources) {
  RunConfig input;
  input.sources = std::move(sources);
  input.arg_files = options.arg_files;
  input.delimiter = options.null ? '\0' : '\n';
  input.colsep = options.colsep;
  const Json shared = submit_shared(options, command);
  const std::vector<std::vector<std::string>> records = read_submit_records(input);
  if (records.empty()) throw Error("no records to submit");
  return send_batches(client, shared, records);
}

// ---- status and wait -------------------------------------------------------------------------

// The jobs `ids`, as the server shows them.
std::vector<Json> fetch_jobs(Client& client, const std::vector<uint64_t>& ids) {
  std::vector<Json> jobs;
  for (size_t from = 0; from < ids.size(); from += kIdsPerRequest) {
    std::string list;
    for (size_t i = from; i < std::min(ids.size(), from + kIdsPerRequest); ++i) {
      list += (list.empty() ? "" : ",") + std::to_string(ids[i]);
    }
    const ApiReply reply = client.api.expect_success("GET", "/v1/jobs?ids=" + list);
    const Json answer = Json::parse(reply.body, nullptr, false);
    if (!answer.is_object() || !answer.contains("jobs")) {
      throw Error(fmt::format("the server at {} answered without jobs", client.api.server()));
    }
    for (const Json& job : answer["jobs"]) jobs.push_back(job);
  }
  return jobs;
}

std::string record_text(const Json& job) {
  std::string text;
  for (const Json& field : job["record"]) {
    text += (text.empty() ? "" : " ") + field.get<std::string>();
  }
  return text;
}

int status_jobs(Client& client, const std::vector<uint64_t>& ids, bool json) {
  const std::vector<Json> jobs = fetch_jobs(client, ids);
  FILE* out = client.io.out;
  if (json) {
    for (const Json& job : jobs) std::fprintf(out, "%s\n", job.dump().c_str());
    return 0;
  }
  std::fprintf(out, "%-8s %-10s %5s %5s  %-12s %s\n", "ID", "STATE", "EXIT", "TRIES", "GROUP",
               "RECORD");
  for (const Json& job : jobs) {
    const std::string exit = job["exit_status"].is_null() ? "-" : job["exit_status"].dump();
    std::fprintf(out, "%-8s %-10s %5s %5s  %-12s %s\n", job["id"].dump().c_str(),
                 job["state"].get<std::string>().c_str(), exit.c_str(),
                 job["attempts"].dump().c_str(), job["group"].get<std::string>().c_str(),
                 record_text(job).c_str());
  }
  return 0;
}

int status_groups(Client& client, bool json) {
  const ApiReply reply = client.api.expect_success("GET", "/v1/groups");
  FILE* out = client.io.out;
  if (json) {
    std::fputs(reply.body.c_str(), out);
    return 0;
  }
  const Json answer = Json::parse(reply.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("groups")) {
    throw Error(fmt::format("the server at {} answered without groups", client.api.server()));
  }
  if (answer.value("paused", false)) std::fputs("every group is paused\n", out);
  if (answer.value("draining", false)) std::fputs("draining: no more jobs are accepted\n", out);
  std::fprintf(out, "%-12s %5s %6s %8s %8s %8s %10s %7s %10s\n", "GROUP", "LIMIT", "PAUSED",
               "WAITING", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED");
  for (const Json& group : answer["groups"]) {
    const Json& jobs = group["jobs"];
    std::fprintf(out, "%-12s %5s %6s %8s %8s %8s %10s %7s %10s\n",
                 group["name"].get<std::string>().c_str(), group["limit"].dump().c_str(),
                 group["paused"].get<bool>() ? "yes" : "no", jobs["waiting"].dump().c_str(),
                 jobs["queued"].dump().c_str(), jobs["running"].dump().c_str(),
                 jobs["succeeded"].dump().c_str(), jobs["failed"].dump().c_str(),
                 jobs["cancelled"].dump().c_str());
  }
  return 0;
}

bool final_state(const Json& job) {
  const std::string state = job["state"].get<std::string>();
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

// Waits for every job to end; exits as a run of them would (cli/outcome.h), telling of each
// one that did not succeed.
int wait_jobs(Client& client, const std::vector<uint64_t>& ids) {
  Duration interval = kFirstPoll;
  std::vector<Json> jobs = fetch_jobs(client, ids);
  while (!std::all_of(jobs.begin(), jobs.end(), final_state)) {
    client.io.sleep(interval);
    interval = std::min<Duration>(interval * 2, kLongestPoll);
    jobs = fetch_jobs(client, ids);
  }
  RunStats stats;
  for (const Json& job : jobs) {
    ++stats.jobs;
    if (job["state"] == "succeeded") {
      ++stats.succeeded;
      continue;
    }
    ++stats.failed;
    std::fprintf(client.io.err, "taskpool: job %s %s: %s\n", job["id"].dump().c_str(),
                 job["state"].get<std::string>().c_str(), describe_end(job).c_str());
  }
  return exit_status(stats);
}

// ---- logs ------------------------------------------------------------------------------------

// Writes the job's output from `offset` on; with `follow`, until the job has ended and all of
// it is written.
int logs(Client& client, uint64_t id, bool follow, bool stderr_stream) {
  const std::string stream = stderr_stream ? "stderr" : "stdout";
  uint64_t offset = 0;
  Duration interval = kFirstPoll;
  while (true) {
    const ApiReply reply = client.api.expect_success(
        "GET", fmt::format("/v1/jobs/{}/output?stream={}&offset={}", id, stream, offset));
    const uint64_t from = std::stoull(reply.header("x-taskpool-offset").value_or("0"));
    const uint64_t next = std::stoull(reply.header("x-taskpool-next").value_or("0"));
    const uint64_t total = std::stoull(reply.header("x-taskpool-total").value_or("0"));
    const std::string state = reply.header("x-taskpool-state").value_or("");
    if (from > offset) {
      std::fprintf(client.io.err,
                   "taskpool: job %llu's %s from byte %llu to %llu was not kept (the server keeps "
                   "the first and the last of each job's output)\n",
                   static_cast<unsigned long long>(id), stream.c_str(),
                   static_cast<unsigned long long>(offset), static_cast<unsigned long long>(from));
    }
    std::fwrite(reply.body.data(), 1, reply.body.size(), client.io.out);
    std::fflush(client.io.out);
    // More is there to read at once, unless the server gave nothing new (then it is polled).
    const bool moved = next > offset;
    offset = std::max(offset, next);
    if (offset < total && moved) continue;
    const bool over = state == "succeeded" || state == "failed" || state == "cancelled";
    if (!follow || over) return 0;
    if (!reply.body.empty()) interval = kFirstPoll;
    client.io.sleep(interval);
    interval = std::min<Duration>(interval * 2, kLongestPoll);
  }
}

// ---- cancel, pause, resume, jobs -------------------------------------------------------------

int cancel(Client& client, const std::vector<uint64_t>& ids) {
  int status = 0;
  for (const uint64_t id : ids) {
    const ApiReply reply = client.api.call("DELETE", fmt::format("/v1/jobs/{}", id));
    if (reply.status == 200) {
      std::fprintf(client.io.out, "job %llu cancelled\n", static_cast<unsigned long long>(id));
    } else if (reply.status == 202) {
      std::fprintf(client.io.out, "job %llu is running: it is being stopped\n",
                   static_cast<unsigned long long>(id));
    } else if (reply.status == 404 || reply.status == 409) {
      std::fprintf(client.io.err, "taskpool: cancel: %s\n", reply.error().c_str());
      status = 1;
    } else {
      throw Error(fmt::format("the server at {} says: {} (HTTP {})", client.api.server(),
                              reply.error(), reply.status));
    }
  }
  return status;
}

int set_group(Client& client, const std::string& group, const Json& change) {
  client.api.expect_success("POST", "/v1/groups/" + group, change.dump());
  return 0;
}

int pause_or_resume(Client& client, const std::vector<std::string>& groups, bool pause) {
  if (groups.size() > 1) throw UsageError("give one group, or none for every group");
  if (groups.empty()) {
    client.api.expect_success("POST", pause ? "/v1/pause" : "/v1/resume", "{}");
    return 0;
  }
  return set_group(client, groups[0], Json{{"paused", pause}});
}

int set_workers(Client& client, const std::vector<std::string>& words) {
  if (words.size() != 2) throw UsageError("give a group and a number of workers: jobs GROUP N");
  const std::optional<uint64_t> workers = parse_whole_number(words[1]);
  if (!workers) {
    throw UsageError(fmt::format("'{}' is not a number of workers (0 for no limit)", words[1]));
  }
  return set_group(client, words[0], Json{{"limit", *workers}});
}

// ---- the command line ------------------------------------------------------------------------

struct Arguments {
  Common common;
  SubmitOptions submit;
  std::vector<std::string> words;  // ids, groups, or submit's command
  bool json = false;
  bool follow = false;
  bool stderr_stream = false;
};

void declare(CLI::App& app, const std::string& verb, Arguments& args) {
  app.add_option("--server", args.common.server,
                 "The server's URL (default: TASKPOOL_SERVER, else http://127.0.0.1:8080)");
  app.add_option("--token-file", args.common.token_file,
                 "A file holding the server's token (default: TASKPOOL_TOKEN_FILE)");
  app.add_option("--retries", args.common.retries,
                 "Tries after the first while the server answers 429 (default 5)")
      ->check(CLI::Range(0, 100));
  if (verb == "submit") {
    app.add_option("--group", args.submit.group, "The jobs' group (default: default)");
    app.add_option("--priority", args.submit.priority, "Higher runs first (default 0)");
    app.add_option("--after", args.submit.after, "A job that must succeed first (repeatable)");
    app.add_option("-a,--arg-file", args.submit.arg_files, "Read records from FILE");
    app.add_flag("-0,--null", args.submit.null, "Records end with NUL, not newline");
    app.add_option("--colsep", args.submit.colsep, "Split each record into fields at REGEX");
    app.prefix_command();
    app.footer(
        "taskpool submit [OPTIONS] [COMMAND...] [::: VALUES...]...: the records come from the "
        ":::\nlists (every combination), -a files or stdin, one a line; COMMAND is the jobs' "
        "template\n(default: the server's). Prints the jobs' ids, one a line.");
    return;
  }
  if (verb == "status") app.add_flag("--json", args.json, "The jobs as JSON, one a line");
  if (verb == "logs") {
    app.add_flag("-f,--follow", args.follow, "Go on until the job has ended");
    app.add_flag("--stderr", args.stderr_stream, "Its standard error, not its output");
  }
  app.add_option("args", args.words, "Job ids, a group, or a group and a number");
}

int run_verb(Client& client, const Arguments& args, std::vector<RunConfig::Source> sources) {
  const std::string& verb = client.verb;
  if (verb == "submit") return submit(client, args.submit, args.words, std::move(sources));
  if (verb == "status") {
    if (args.words.empty()) return status_groups(client, args.json);
    return status_jobs(client, job_ids(args.words), args.json);
  }
  if (verb == "wait") return wait_jobs(client, job_ids(args.words));
  if (verb == "logs") {
    if (args.words.size() != 1) throw UsageError("give one job id");
    return logs(client, job_id(args.words[0]), args.follow, args.stderr_stream);
  }
  if (verb == "cancel") return cancel(client, job_ids(args.words));
  if (verb == "pause" || verb == "resume") {
    return pause_or_resume(client, args.words, verb == "pause");
  }
  return set_workers(client, args.words);
}

}  // namespace

bool is_client_verb(std::string_view word) {
  return std::find(kVerbs.begin(), kVerbs.end(), word) != kVerbs.end();
}

int serve_client(int argc, char** argv) { return serve_client(argc, argv, ClientIo{}); }

int serve_client(int argc, char** argv, const ClientIo& io_given) {
  ClientIo io = io_given;
  if (!io.getenv) io.getenv = [](const char* name) { return std::getenv(name); };
  if (!io.sleep) io.sleep = [](Duration d) { std::this_thread::sleep_for(d); };
  const std::string verb = argc >= 2 ? argv[1] : "";
  Arguments args;
  CLI::App app{fmt::format("taskpool {}: a client of a taskpool server", verb),
               fmt::format("taskpool {}", verb)};
  declare(app, verb, args);
  try {
    const std::vector<std::string> all(argv + 2, argv + argc);
    size_t options_end = 0;
    std::vector<RunConfig::Source> sources =
        verb == "submit" ? split_sources(all, options_end) : std::vector<RunConfig::Source>();
    if (verb != "submit") options_end = all.size();
    std::vector<std::string> reversed(all.rend() - static_cast<std::ptrdiff_t>(options_end),
                                      all.rend());
    app.parse(reversed);
    if (verb == "submit") {
      args.words = app.remaining();
      // prefix_command() would take an unknown option for the command's first word.
      if (!args.words.empty() && args.words[0].starts_with("-") && args.words[0] != "-") {
        throw UsageError(
            fmt::format("{}: no such option (the command comes after the options)", args.words[0]));
      }
    }
    Client client{verb, io, ApiClient(client_options(args.common, io))};
    return run_verb(client, args, std::move(sources));
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), io.out);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(io.err, "taskpool: %s: %s\n", verb.c_str(), e.what());
    return kUsageStatus;
  } catch (const Error& e) {
    std::fprintf(io.err, "taskpool: %s: %s\n", verb.c_str(), e.what());
    return kUsageStatus;
  }
}

}  // namespace taskpool
