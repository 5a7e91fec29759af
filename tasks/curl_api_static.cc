// curl_api() in a statically linked taskpool (see CMakeLists.txt): a static C library cannot
// load libcurl, which would bring a C library of its own into the process. taskpool runs
// taskpool-net, the same program linked dynamically, for what needs libcurl (cli/main.cc), so
// this is reached only if a new use of libcurl skips that.
#include "core/error.h"
#include "tasks/curl_api.h"

namespace taskpool {

const CurlApi& curl_api() {
  throw Error(
      "this taskpool is linked statically and cannot load libcurl; taskpool-net, "
      "installed beside it, can");
}

}  // namespace taskpool
