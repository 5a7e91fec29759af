// The job server's clients, on the same binary: `taskpool submit|status|wait|logs|cancel|pause|
// resume|jobs ...`. The server is --server URL or TASKPOOL_SERVER (default
// http://127.0.0.1:8080); its token is read from --token-file or TASKPOOL_TOKEN_FILE, never
// taken from the command line (where `ps` would show it).
//
// Exit statuses: 0; for `wait`, as a run's (the jobs that failed or were cancelled, up to 100,
// 101 for more); 1 when `cancel` could not cancel a job; 255 for a usage error or when the
// server cannot be asked (unreachable, a refused token, a queue still full after the retries),
// with a message on stderr that names the server and the problem.
#pragma once

#include <cstdio>
#include <functional>
#include <string_view>

#include "core/time.h"

namespace taskpool {

// Where a client writes, and what it reads of its environment: the process's, or a test's.
struct ClientIo {
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  std::function<const char*(const char*)> getenv;  // default: ::getenv
  std::function<void(Duration)> sleep;             // default: the thread sleeps
};

// Whether `word` (argv[1]) is one of the client's verbs.
bool is_client_verb(std::string_view word);

// argv[1] is the verb. Returns the exit status.
int serve_client(int argc, char** argv);
int serve_client(int argc, char** argv, const ClientIo& io_given);

}  // namespace taskpool
