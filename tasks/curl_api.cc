#include "tasks/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "core/error.h"

namespace taskpool {

namespace {

template <typename F>
void resolve(void* library, const char* name, F& function) {
  function = reinterpret_cast<F>(dlsym(library, name));
  if (function == nullptr) {
    throw Error(std::string("the libcurl on this system lacks ") + name +
                " (libcurl 7.66 or newer is needed for --fetch and the job server's clients)");
  }
}

CurlApi load() {
  // RTLD_NOW: a library with a missing symbol fails here, with the message below, rather than
  // partway through a run (lazy binding saved about 1 ms, and libcurl binds itself now anyway).
  void* library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    throw Error(std::string("--fetch and the job server's clients need libcurl, which could not "
                            "be loaded (") +
                dlerror() + "); install it with: apt-get install libcurl4");
  }
  CurlApi api{};
  resolve(library, "curl_global_init", api.global_init);
  resolve(library, "curl_version", api.version);
  resolve(library, "curl_easy_init", api.easy_init);
  resolve(library, "curl_easy_setopt", api.easy_setopt);
  resolve(library, "curl_easy_getinfo", api.easy_getinfo);
  resolve(library, "curl_easy_cleanup", api.easy_cleanup);
  resolve(library, "curl_easy_reset", api.easy_reset);
  resolve(library, "curl_easy_perform", api.easy_perform);
  resolve(library, "curl_easy_strerror", api.easy_strerror);
  resolve(library, "curl_multi_init", api.multi_init);
  resolve(library, "curl_multi_setopt", api.multi_setopt);
  resolve(library, "curl_multi_add_handle", api.multi_add_handle);
  resolve(library, "curl_multi_remove_handle", api.multi_remove_handle);
  resolve(library, "curl_multi_socket_action", api.multi_socket_action);
  resolve(library, "curl_multi_info_read", api.multi_info_read);
  resolve(library, "curl_multi_cleanup", api.multi_cleanup);
  resolve(library, "curl_slist_append", api.slist_append);
  resolve(library, "curl_slist_free_all", api.slist_free_all);
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl failed to initialize");
  return api;  // the library stays loaded for the rest of the run
}

}  // namespace

const CurlApi& curl_api() {
  static std::once_flag once;
  static CurlApi api;
  std::call_once(once, [] { api = load(); });
  return api;
}

}  // namespace taskpool
