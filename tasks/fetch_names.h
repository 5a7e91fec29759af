// File names for downloads (--fetch): from a URL or an explicit path, always inside the output
// directory, never overwriting each other within a run.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/name_set.h"

namespace taskpool {

// The longest file name taskpool makes (bytes), below every common file system's 255.
inline constexpr size_t kMaxFileName = 200;

// The files of a download NAME while it runs: NAME.part holds the data, NAME.part.meta what
// --continue needs to know of it (tasks/part_record.h). They are NAME's: no other download gets
// these names.
inline constexpr std::string_view kPartSuffix = ".part";
inline constexpr std::string_view kPartRecordSuffix = ".part.meta";

// The file name for `url`: the last segment of its path, percent-decoded once (an encoded '/' is
// part of the name, then sanitized to '_'); the query string and the fragment are not part of it;
// "index.html" when that segment is empty (a URL ending in '/' or with no path). The authority is
// skipped after "SCHEME://" or a leading "//"; text without either is all path. Then
// sanitize_file_name.
std::string file_name_for_url(std::string_view url);

// One safe path component: every '/', NUL and control byte (< 0x20, 0x7f), and every bidi
// control character (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, which make a name
// read as another: "a\u202Egpj.exe" shows as "aexe.jpg"), becomes '_'; "" and "." become
// "index.html"; ".." becomes "_.."; a name longer than kMaxFileName is cut (keeping its extension
// when that is short, and never cutting a UTF-8 sequence in half).
std::string sanitize_file_name(std::string_view name);

// An explicit path from a `URL<TAB>PATH` record, relative to the output directory: components
// separated by '/', each sanitized; empty and "." components dropped. Returns nullopt (the job
// fails with a message) for an absolute path, a ".." component, or a path with no name left,
// which includes a path ending in '/' or "/." ("a/" names a directory, not a file). Not
// percent-decoded: the user wrote this path as it is.
std::optional<std::string> safe_relative_path(std::string_view path);

// Where a download's `path` (relative to the output directory) is on disk, as messages and the
// joblog show it: the two joined and normalised ("./dl//" and "a.txt" give "dl/a.txt").
std::string download_file(std::string_view output_dir, std::string_view path);

// What the output directory holds under a name, for the URL being named (with --continue).
enum class OnDisk {
  kNothing,        // neither NAME nor NAME.part
  kOwn,            // the URL's own: NAME with it as its origin, or NAME.part recorded for it
  kOtherDownload,  // NAME, with another URL as its origin: never this URL's
  kLeftover,       // a NAME that records no origin, or a NAME.part that is not this URL's
};

// Gives each download of a run its own path: the first claim of a path gets it; later claims of
// the same path get "NAME.1", "NAME.2", ... (the suffix goes after the extension, as wget does),
// skipping any already claimed. A claimed NAME holds NAME.part and NAME.part.meta too: no claim
// gets a name that is one of them, or whose own would be a claimed name ("x.part" after "x" gets
// "x.part.1"; "x" after "x.part" gets "x.1"). The name gives up bytes at its end when it needs
// room for the suffix, so it stays within kMaxFileName. The directories of a claimed path are
// claimed too (after "d/a", a file "d" gets "d.1"); the reverse, a file "d" then "d/a", is not
// resolved here: that download fails when it opens its file.
//
// Deterministic: the same claims in the same order give the same paths (but for a fingerprint
// collision, see NameSet). Memory is bounded (NameSet, and a fixed table of where each repeated
// name's suffixes go on). Not thread-safe.
class NameRegistry {
 public:
  using DiskState = std::function<OnDisk(const std::string& path)>;

  NameRegistry() : NameRegistry(NameSet::Options()) {}
  explicit NameRegistry(NameSet::Options options);

  // REQUIRES: `path` comes from file_name_for_url or safe_relative_path. Throws Error when the
  // names spill to a temporary file that cannot be written.
  //
  // With `on_disk` (--continue), the claim looks along the path's names that are free in this
  // run (NAME, NAME.1, ...) for the URL's own file or .part, up to the first name with nothing on
  // disk, and takes it; else the first of them that is not another URL's download (a leftover
  // .part is started over there). So a URL finds its own files again when the input's order
  // changed, and never takes another URL's file for its own. The names then also depend on what
  // the directory holds.
  std::string claim(const std::string& path, const DiskState& on_disk = {});

  // The heap it holds: its NameSet's, and kHintBytes once a name was claimed twice.
  size_t memory_bytes() const;
  bool spilled() const { return names_.spilled(); }

 private:
  // Where the numbered names of a path go on: every suffix below `first_free` is taken for
  // good. A fixed table, indexed by the path's fingerprint; a path that lost its entry starts
  // again at 1 (same answer, more lookups). Suffixes passed over for what is on disk stay free.
  struct SuffixHint {
    Fingerprint path;
    size_t first_free = 0;
  };
  static constexpr size_t kHints = 2048;

 public:
  static constexpr size_t kHintBytes = kHints * sizeof(SuffixHint);

 private:
  bool taken_for_good(const std::string& candidate);
  void take(const std::string& name);

  NameSet names_;
  std::vector<SuffixHint> hints_;
};

}  // namespace taskpool
