#include "core/error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace taskpool {

Error system_error(const std::string& what) { return Error(what + ": " + std::strerror(errno)); }

void die_on_system_error(const char* call) {
  std::fprintf(stderr, "taskpool: internal error: %s: %s\n", call, std::strerror(errno));
  std::abort();
}

}  // namespace taskpool
