// libcurl, loaded when it is first needed (--fetch) rather than linked: linking it with its TLS
// stack costs every run of taskpool several milliseconds at startup, which one-liners that run
// commands would pay for nothing.
#pragma once

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

namespace taskpool {

// The libcurl functions taskpool uses. Thread-safe once loaded.
struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_version) version;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_reset) easy_reset;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_socket_action) multi_socket_action;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// Loads libcurl (once) and returns its functions. Throws Error saying how to install it when it
// cannot be loaded. (tasks/curl_api.cc; a statically linked taskpool has tasks/curl_api_static.cc,
// which always throws.)
const CurlApi& curl_api();

}  // namespace taskpool
