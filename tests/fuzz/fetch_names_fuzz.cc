// Fuzzes the download file names (tasks/fetch_names.h): whatever the URL or the explicit path,
// the file taskpool writes stays inside the output directory.
//
// Properties:
//   file_name_for_url, sanitize_file_name  one safe component: non-empty, at most kMaxFileName
//       bytes, no '/', NUL or control byte, no bidi control character (U+061C, U+200E, U+200F,
//       U+202A-U+202E, U+2066-U+2069), never "." or ".."; sanitize_file_name changes nothing
//       that is already such a name, so it is idempotent
//   safe_relative_path  nullopt for an absolute path or one with a ".." component; otherwise
//       components that are each one safe component, and the path joined to an output directory
//       stays inside it
//   NameRegistry  every claim gets a path no earlier claim got, in the same directory, within
//       kMaxFileName, and never the name of a directory an earlier path is in
//   and wherever a name is cut to kMaxFileName, valid UTF-8 stays valid, and a short extension
//   (16 bytes with the dot) is kept
//
// Input: the whole text, then each of its lines, is tried as a URL, a name and an explicit path;
// the names and paths the lines give are then claimed in order.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/utf8.h"
#include "tasks/fetch_names.h"
#include "tests/fuzz/fuzz_check.h"

namespace taskpool {
namespace {

using fuzz::escaped;

bool has_bidi_control(std::string_view name) {
  for (const std::string_view bidi :
       {"\xD8\x9C", "\xE2\x80\x8E", "\xE2\x80\x8F", "\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC",
        "\xE2\x80\xAD", "\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8",
        "\xE2\x81\xA9"}) {
    if (name.find(bidi) != std::string_view::npos) return true;
  }
  return false;
}

bool is_safe_component(std::string_view name) {
  if (name.empty() || name.size() > kMaxFileName || name == "." || name == "..") return false;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/' || byte < 0x20 || byte == 0x7f) return false;
  }
  return !has_bidi_control(name);
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

void check_name(std::string_view text) {
  const std::string from_url = file_name_for_url(text);
  FUZZ_CHECK(is_safe_component(from_url), escaped(text) + " -> " + escaped(from_url));
  const std::string sanitized = sanitize_file_name(text);
  FUZZ_CHECK(is_safe_component(sanitized), escaped(text) + " -> " + escaped(sanitized));
  FUZZ_CHECK(sanitize_file_name(sanitized) == sanitized, escaped(sanitized));
  if (is_safe_component(text)) FUZZ_CHECK(sanitized == text, escaped(text));
  // A cut name is never cut inside a character, and keeps a short extension.
  if (is_utf8(text)) FUZZ_CHECK(is_utf8(sanitized), escaped(text) + " -> " + escaped(sanitized));
  const size_t dot = text.rfind('.');
  if (text.size() > kMaxFileName && dot != std::string_view::npos && text.size() - dot <= 16 &&
      text.find('/', dot) == std::string_view::npos) {
    FUZZ_CHECK(std::string_view(sanitized).ends_with(sanitize_file_name(text.substr(dot))) ||
                   text.substr(dot) == "." || text.substr(dot) == "..",
               escaped(text) + " -> " + escaped(sanitized));
  }
}

std::optional<std::string> check_path(std::string_view text) {
  const auto path = safe_relative_path(text);
  const auto parts = components(text);
  const bool climbs = std::find(parts.begin(), parts.end(), "..") != parts.end();
  if (text.starts_with('/') || climbs) {
    FUZZ_CHECK(!path, escaped(text) + " -> " + escaped(path.value_or("")));
  }
  if (!path) return std::nullopt;
  for (const std::string_view component : components(*path)) {
    FUZZ_CHECK(is_safe_component(component), escaped(text) + " -> " + escaped(*path));
  }
  const std::filesystem::path joined = (std::filesystem::path("/out") / *path).lexically_normal();
  FUZZ_CHECK(joined.native().starts_with("/out/") && joined.native().size() > 5,
             escaped(text) + " -> " + joined.native());
  return path;
}

std::string directory_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? "" : path.substr(0, slash + 1));
}

// The files a claimed path uses: the path, and its temporaries.
std::vector<std::string> files_of(const std::string& path) {
  return {path, path + std::string(kPartSuffix), path + std::string(kPartRecordSuffix)};
}

std::vector<std::string> claim_all(NameRegistry& registry, const std::vector<std::string>& paths) {
  std::unordered_set<std::string> given;  // paths and their temporaries
  std::unordered_set<std::string> directories;
  std::vector<std::string> got_all;
  for (const std::string& path : paths) {
    const std::string got = registry.claim(path);
    for (const std::string& file : files_of(got)) {
      FUZZ_CHECK(given.insert(file).second, "claimed twice: " + escaped(file));
      FUZZ_CHECK(!directories.contains(file), "a directory in use: " + escaped(file));
    }
    FUZZ_CHECK(directory_of(got) == directory_of(path), escaped(path) + " -> " + escaped(got));
    FUZZ_CHECK(is_safe_component(got.substr(directory_of(got).size())), escaped(got));
    if (is_utf8(path)) FUZZ_CHECK(is_utf8(got), escaped(path) + " -> " + escaped(got));
    for (size_t slash = got.find('/'); slash != std::string::npos;
         slash = got.find('/', slash + 1)) {
      directories.insert(got.substr(0, slash));
    }
    got_all.push_back(got);
  }
  return got_all;
}

void check_claims(const std::vector<std::string>& paths) {
  NameRegistry registry;
  const std::vector<std::string> got = claim_all(registry, paths);
  // The same claims in the same order give the same paths, with any memory budget.
  NameSet::Options small;
  small.memory_budget = 16 * 1024;
  NameRegistry again(small);
  FUZZ_CHECK(claim_all(again, paths) == got, "claims are not deterministic");
}

}  // namespace
}  // namespace taskpool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_name(input);  // whole, newlines and all
  check_path(input);
  std::vector<std::string> claims;
  for (int line = 0; line < 64; ++line) {
    const size_t newline = input.find('\n');
    const std::string_view text = input.substr(0, newline);
    check_name(text);
    claims.push_back(file_name_for_url(text));
    if (auto path = check_path(text)) claims.push_back(std::move(*path));
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  check_claims(claims);
  return 0;
}
