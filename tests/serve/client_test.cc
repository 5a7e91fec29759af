// The clients (taskpool submit, status, wait, logs, cancel, pause, resume, jobs) against the job
// server's parts on a real socket (tests/serve/serve_loop.h).
#include "cli/serve/client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/serve/serve_loop.h"

namespace taskpool {
namespace {

using testing::ServeLoop;
using testing::ServeLoopOptions;

// One client command's exit status and what it wrote.
struct ClientRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string contents(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  std::fclose(file);
  return text;
}

// Runs `taskpool WORDS...` with the environment `env` (and no other); `sleep` stands in for the
// client's waits.
ClientRun run_client(
    std::vector<std::string> words, std::map<std::string, std::string> env = {},
    std::function<void(Duration)> sleep = [](Duration) {}) {
  words.insert(words.begin(), "taskpool");
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  ClientIo io;
  io.out = std::tmpfile();
  io.err = std::tmpfile();
  REQUIRE((io.out != nullptr && io.err != nullptr));
  io.getenv = [&env](const char* name) -> const char* {
    const auto found = env.find(name);
    return found == env.end() ? nullptr : found->second.c_str();
  };
  io.sleep = std::move(sleep);
  ClientRun run;
  run.status = serve_client(static_cast<int>(words.size()), argv.data(), io);
  run.out = contents(io.out);
  run.err = contents(io.err);
  return run;
}

std::string write_file(const ServeLoop& loop, const std::string& name, const std::string& text) {
  std::string path = loop.dir().sub(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST_CASE("client: submit prints the ids; status shows the jobs; wait exits as a run would") {
  ServeLoop loop;
  const ClientRun submitted = run_client(
      {"submit", "--server", loop.url(), "--group", "g", "echo", "{}", ":::", "a", "fail", "b"});
  CHECK(submitted.err == "");
  CHECK(submitted.status == 0);
  CHECK(submitted.out == "1\n2\n3\n");
  const ClientRun status = run_client({"status", "1", "2"}, {{"TASKPOOL_SERVER", loop.url()}});
  CHECK(status.status == 0);
  CHECK(status.out.find("1        succeeded      0     1  g            a\n") != std::string::npos);
  CHECK(status.out.find("2        failed         1     1  g            fail\n") !=
        std::string::npos);
  const ClientRun json = run_client({"status", "--json", "3", "--server", loop.url()});
  CHECK(json.out.find(R"("id":3,"group":"g","state":"succeeded","priority":0,"record":["b"],)"
                      R"("command":"echo {}")") != std::string::npos);
  CHECK(run_client({"wait", "1", "3", "--server", loop.url()}).status == 0);
  const ClientRun failed = run_client({"wait", "1", "2", "--server", loop.url()});
  CHECK(failed.status == 1);
  CHECK(failed.err == "taskpool: job 2 failed: exit status 1\n");
  const ClientRun groups = run_client({"status", "--server", loop.url()});
  CHECK(
      groups.out.find("g                0     no        0        0        0          2       1") !=
      std::string::npos);
}

TEST_CASE("client: wait waits for running jobs; logs --follow writes output until the end") {
  ServeLoop loop;
  REQUIRE(run_client({"submit", "--server", loop.url(), ":::", "hold"}).out == "1\n");
  int polls = 0;
  const ClientRun waited = run_client({"wait", "1", "--server", loop.url()}, {}, [&](Duration) {
    if (++polls == 3) loop.call([&] { loop.pool().release(4); });
  });
  CHECK(polls == 3);
  CHECK(waited.status == 1);
  CHECK(waited.err == "taskpool: job 1 failed: exit status 4\n");

  REQUIRE(run_client({"submit", "--server", loop.url(), ":::", "hold"}).out == "2\n");
  int follows = 0;
  const ClientRun followed =
      run_client({"logs", "2", "--follow", "--server", loop.url()}, {}, [&](Duration) {
        ++follows;
        loop.call([&] {
          if (follows < 3) {
            loop.pool().write(2, "line " + std::to_string(follows) + "\n");
          } else {
            loop.pool().release();
          }
        });
      });
  CHECK(followed.status == 0);
  CHECK(followed.out == "line 1\nline 2\n");
  CHECK(run_client({"logs", "2", "--server", loop.url()}).out == "line 1\nline 2\n");
  REQUIRE(run_client({"submit", "--server", loop.url(), ":::", "z"}).status == 0);
  CHECK(run_client({"logs", "3", "--stderr", "--server", loop.url()}).out == "err\n");
}

TEST_CASE("client: records from a file, NUL-ended, with priority and dependencies; bad ones not") {
  ServeLoopOptions options;
  options.workers = 0;  // nothing runs: the jobs are as submitted
  ServeLoop loop(options);
  const std::string file = write_file(loop, "records", std::string("x y\0z\0", 6));
  const ClientRun submitted = run_client({"submit", "--server", loop.url(), "-0", "-a", file,
                                          "--priority", "7", "--after", "1", "--after", "2"});
  CHECK(submitted.out == "");
  CHECK(submitted.err.find("after: there is no job 1") != std::string::npos);
  CHECK(run_client({"submit", "--server", loop.url(), "-0", "-a", file}).out == "1\n2\n");
  const ClientRun later =
      run_client({"submit", "--server", loop.url(), "--priority", "7", "--after", "1", ":::", "w"});
  CHECK(later.out == "3\n");
  const ClientRun shown = run_client({"status", "--json", "1", "3", "--server", loop.url()});
  CHECK(shown.out.find(R"("record":["x y"])") != std::string::npos);
  CHECK(
      shown.out.find(R"("state":"waiting","priority":7,"record":["w"],"command":"","after":[1])") !=
      std::string::npos);
  // A record that is not UTF-8 stops the submit before anything is sent.
  const std::string bad = write_file(loop, "bad", "fine\n\xff\xfe\n");
  const ClientRun refused = run_client({"submit", "--server", loop.url(), "-a", bad});
  CHECK(refused.status == 255);
  CHECK(refused.err ==
        "taskpool: submit: record 2 is not valid UTF-8 (the server takes text); nothing was "
        "submitted\n");
  CHECK(loop.call([&] { return loop.store().unfinished(); }) == 3);
}

TEST_CASE("client: a large submit goes in batches; its ids come back in order, one a line") {
  ServeLoopOptions options;
  options.workers = 0;
  options.api.submit.max_jobs = 10000;  // more in one request would get 400
  ServeLoop loop(options);
  std::string records;
  for (int i = 1; i <= 25000; ++i) records += "record-" + std::to_string(i) + "\n";
  const std::string file = write_file(loop, "many", records);
  const ClientRun submitted = run_client({"submit", "--server", loop.url(), "-a", file});
  REQUIRE(submitted.status == 0);
  std::string expected;
  for (int i = 1; i <= 25000; ++i) expected += std::to_string(i) + "\n";
  CHECK(submitted.out == expected);
  CHECK(loop.call([&] { return loop.store().unfinished(); }) == 25000);
  CHECK(run_client({"status", "--json", "25000", "--server", loop.url()})
            .out.find(R"("record":["record-25000"])") != std::string::npos);
}

TEST_CASE("client: cancel, pause, resume and jobs change the server") {
  ServeLoopOptions options;
  options.workers = 1;
  ServeLoop loop(options);
  REQUIRE(run_client({"submit", "--server", loop.url(), ":::", "hold", "b"}).out == "1\n2\n");
  const ClientRun cancelled = run_client({"cancel", "2", "1", "--server", loop.url()});
  CHECK(cancelled.status == 0);
  CHECK(cancelled.out == "job 2 cancelled\njob 1 is running: it is being stopped\n");
  CHECK(run_client({"wait", "1", "--server", loop.url()}).err ==
        "taskpool: job 1 cancelled: killed by signal 15\n");
  const ClientRun again = run_client({"cancel", "1", "9", "--server", loop.url()});
  CHECK(again.status == 1);
  CHECK(again.err == "taskpool: cancel: job 1 has ended (cancelled)\ntaskpool: cancel: no job 9\n");

  CHECK(run_client({"jobs", "render", "3", "--server", loop.url()}).status == 0);
  CHECK(run_client({"pause", "render", "--server", loop.url()}).status == 0);
  CHECK(run_client({"status", "--server", loop.url()}).out.find("render           3    yes") !=
        std::string::npos);
  CHECK(run_client({"resume", "render", "--server", loop.url()}).status == 0);
  CHECK(run_client({"pause", "--server", loop.url()}).status == 0);
  CHECK(run_client({"status", "--server", loop.url()}).out.starts_with("every group is paused\n"));
  CHECK(run_client({"resume", "--server", loop.url()}).status == 0);
  CHECK_FALSE(loop.call([&] { return loop.store().paused_all(); }));
}

// A port on 127.0.0.1 that nothing listens on.
uint16_t closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

TEST_CASE("client: messages name the server and the problem: unreachable, 401, 429") {
  const std::string nowhere = "127.0.0.1:" + std::to_string(closed_port());
  const ClientRun unreachable = run_client({"status", "--server", nowhere});
  CHECK(unreachable.status == 255);
  CHECK(unreachable.err.starts_with("taskpool: status: cannot reach the server at http://" +
                                    nowhere + ": "));

  ServeLoopOptions options;
  options.api.token = "the-token";
  options.workers = 0;
  options.store.queue_size = 1;
  ServeLoop loop(options);
  const ClientRun no_token = run_client({"status", "--server", loop.url()});
  CHECK(no_token.status == 255);
  CHECK(no_token.err == "taskpool: status: the server at " + loop.url() +
                            " asks for a token (401): give its token file with --token-file or "
                            "TASKPOOL_TOKEN_FILE\n");
  const std::string wrong = write_file(loop, "wrong", "not-it\n");
  CHECK(run_client({"status", "--server", loop.url(), "--token-file", wrong})
            .err.find("refused the token (401)") != std::string::npos);
  const std::string right = write_file(loop, "right", "the-token\n");
  const std::map<std::string, std::string> env = {{"TASKPOOL_SERVER", loop.url()},
                                                  {"TASKPOOL_TOKEN_FILE", right}};
  CHECK(run_client({"submit", ":::", "a"}, env).out == "1\n");

  std::vector<Duration> waits;
  const ClientRun full = run_client({"submit", "--retries", "2", ":::", "b"}, env,
                                    [&](Duration d) { waits.push_back(d); });
  CHECK(full.status == 255);
  CHECK(full.err == "taskpool: submit: the server at " + loop.url() +
                        " is full: the queue of group 'default' is full (1 of 1 jobs) (429, 3 "
                        "tries over 2 s); try again later, or give the group a larger "
                        "queue_size\n");
  CHECK(waits == std::vector<Duration>{std::chrono::seconds(1), std::chrono::seconds(1)});
}

TEST_CASE("client: usage errors name the argument and exit 255") {
  const std::map<std::string, ClientRun> runs = {
      {"wait x", run_client({"wait", "x"})},
      {"wait", run_client({"wait"})},
      {"jobs g", run_client({"jobs", "g"})},
      {"jobs g many", run_client({"jobs", "g", "many"})},
      {"submit --bogus", run_client({"submit", "--bogus", ":::", "a"})},
      {"logs 1 2", run_client({"logs", "1", "2"})},
      {"bad server", run_client({"status", "--server", "ftp://host"})},
      {"missing token file", run_client({"status", "--token-file", "/nonexistent/token"})},
  };
  for (const auto& entry : runs) {
    CAPTURE(entry.first);
    CHECK(entry.second.status == 255);
    CHECK(entry.second.out == "");
  }
  CHECK(runs.at("wait x").err == "taskpool: wait: 'x' is not a job id (1, 2, ...)\n");
  CHECK(runs.at("wait").err == "taskpool: wait: give the ids of the jobs\n");
  CHECK(runs.at("jobs g many").err ==
        "taskpool: jobs: 'many' is not a number of workers (0 for no limit)\n");
  CHECK(runs.at("submit --bogus").err.find("--bogus") != std::string::npos);
  CHECK(runs.at("bad server").err ==
        "taskpool: status: 'ftp://host' is not an http:// or https:// URL of a taskpool server\n");
  CHECK(runs.at("missing token file").err ==
        "taskpool: status: cannot read the token file /nonexistent/token: No such file or "
        "directory\n");
  CHECK(is_client_verb("submit"));
  CHECK_FALSE(is_client_verb("echo"));
}

}  // namespace
}  // namespace taskpool
