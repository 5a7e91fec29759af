// taskpool-serve, the job server's daemon, which `taskpool serve ...` runs (cli/main.cc): a
// program of its own so that taskpool and its clients never load SQLite and libmicrohttpd.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cli/outcome.h"
#include "cli/serve/daemon.h"
#include "cli/serve/token_file.h"
#include "core/error.h"
#include "tasks/guardian.h"

namespace taskpool {
namespace {

struct ServeFlags {
  ServeConfig config;
  std::string token_file;
};

void declare(CLI::App& app, ServeFlags& flags) {
  app.set_help_flag("-h,--help", "Show this help and exit");
  app.add_option("--listen", flags.config.listen,
                 "HOST:PORT to listen on (default 127.0.0.1:8080; port 0: any free one)");
  app.add_option("--state", flags.config.state,
                 "The directory of the jobs, their output and the lock (created when missing)")
      ->required();
  app.add_option("-j,--jobs", flags.config.workers, "Jobs running at once (default: one per CPU)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--queue-size", flags.config.queue_size,
                 "Jobs a new group holds waiting at most; past it: 429 (default 100000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--token-file", flags.token_file,
                 "A file holding the token clients must send (Authorization: Bearer TOKEN)");
  app.add_option("--template", flags.config.command,
                 "The command of every job, e.g. 'convert {} {.}.png': clients send records only");
  app.footer(
      "Serves the HTTP API under /v1 (see doc/guide.md, \"taskpool serve\") until SIGTERM\n"
      "or SIGINT (running jobs finish; a second one kills them) or POST /v1/drain (queued\n"
      "jobs finish too), then exits 0.");
}

int serve_main(int argc, char** argv) {
  // Run as `taskpool serve ...` (argv[1] is the verb) or as itself.
  const int skip = argc >= 2 && std::strcmp(argv[1], "serve") == 0 ? 2 : 1;
  ServeFlags flags;
  CLI::App app{"taskpool serve: runs jobs submitted over HTTP, durably", "taskpool serve"};
  declare(app, flags);
  try {
    std::vector<std::string> reversed(argv + skip, argv + argc);
    std::reverse(reversed.begin(), reversed.end());
    app.parse(reversed);
    if (!flags.token_file.empty()) flags.config.token = read_token(flags.token_file);
    if (!flags.config.command.empty() &&
        flags.config.command.find_first_not_of(" \t") == std::string::npos) {
      throw UsageError("--template: is empty");
    }
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "taskpool: serve: %s\n", e.what());
    return kUsageStatus;
  } catch (const Error& e) {
    std::fprintf(stderr, "taskpool: serve: %s\n", e.what());
    return kUsageStatus;
  }
  try {
    return serve(flags.config);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "taskpool: serve: %s\n", e.what());
    return kUsageStatus;
  } catch (const Error& e) {
    std::fprintf(stderr, "taskpool: serve: %s\n", e.what());
    return 1;
  }
}

}  // namespace
}  // namespace taskpool

int main(int argc, char** argv) {
  // A guardian this program started (tasks/guardian.h) is this program too.
  taskpool::Guardian::run_if_asked(argc, argv);
  try {
    return taskpool::serve_main(argc, argv);
  } catch (const std::exception& e) {  // out of memory, say: said, not a core dump
    std::fprintf(stderr, "taskpool: serve: %s\n", e.what());
    return 1;
  }
}
