// File names for downloads (--fetch): from a URL or an explicit path, always inside the output
// directory, never overwriting each other within a run.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace taskpool {

// The longest file name taskpool makes (bytes), below every common file system's 255.
inline constexpr size_t kMaxFileName = 200;

// The file name for `url`: the last segment of its path, percent-decoded once (an encoded '/' is
// part of the name, then sanitized to '_'); the query string and the fragment are not part of it;
// "index.html" when that segment is empty (a URL ending in '/' or with no path). The authority is
// skipped after "SCHEME://" or a leading "//"; text without either is all path. Then
// sanitize_file_name.
std::string file_name_for_url(std::string_view url);

// One safe path component: every '/', NUL and control byte (< 0x20, 0x7f) becomes '_'; "" and
// "." become "index.html"; ".." becomes "_.."; a name longer than kMaxFileName is cut (keeping
// its extension when that is short, and never cutting a UTF-8 sequence in half).
std::string sanitize_file_name(std::string_view name);

// An explicit path from a `URL<TAB>PATH` record, relative to the output directory: components
// separated by '/', each sanitized; empty and "." components dropped. Returns nullopt (the job
// fails with a message) for an absolute path, a ".." component, or a path with no name left,
// which includes a path ending in '/' or "/." ("a/" names a directory, not a file). Not
// percent-decoded: the user wrote this path as it is.
std::optional<std::string> safe_relative_path(std::string_view path);

// Gives each download of a run its own path: the first claim of a path gets it; later claims of
// the same path get "NAME.1", "NAME.2", ... (the suffix goes after the extension, as wget does),
// skipping any already claimed. The name gives up bytes at its end when it needs room for the
// suffix, so it stays within kMaxFileName. The directories of a claimed path are claimed too
// (after "d/a", a file "d" gets "d.1"); the reverse, a file "d" then "d/a", is not resolved here:
// that download fails when it opens its file. Deterministic: the same claims in the same order
// give the same paths. Not thread-safe.
class NameRegistry {
 public:
  // REQUIRES: `path` comes from file_name_for_url or safe_relative_path.
  std::string claim(const std::string& path);

 private:
  std::unordered_set<std::string> claimed_;
  // Per path claimed more than once, the last suffix given, so the next claim starts after it.
  std::unordered_map<std::string, size_t> last_suffix_;
};

}  // namespace taskpool
