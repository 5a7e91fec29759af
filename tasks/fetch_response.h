// What a download makes of the HTTP response that carries its body: whether the body continues
// NAME.part, replaces it, or is refused. Pure logic: tasks/fetch_executor.cc carries it out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taskpool {

// A Content-Range header's "bytes FIRST-LAST/TOTAL" (LAST inclusive; TOTAL unknown for "*").
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;
};

// nullopt for anything but a satisfied byte range ("bytes */1000", the answer to a range that
// cannot be met, included).
std::optional<ContentRange> parse_content_range(std::string_view value);

// The status and the headers of one response, as libcurl hands over its header lines. A status
// line starts a new response, so after a redirect, a 1xx or a proxy's CONNECT answer only the
// last response is left.
struct ResponseHead {
  int status = 0;  // 0 until a status line came
  std::string content_range;
  std::string etag;
  std::string last_modified;
  std::optional<uint64_t> content_length;
  bool has_location = false;

  void add(std::string_view line);
  // What If-Range can send back: a strong ETag, else Last-Modified, else "" (a weak ETag
  // cannot be used for a range: RFC 9110, 13.1.5).
  std::string validator() const;
};

// The request a response answers: what NAME.part held, and what was known of the file.
struct PartState {
  uint64_t have = 0;              // the Range request's first byte; 0: the whole file was asked for
  std::optional<uint64_t> total;  // the file's size when the .part was begun
  std::string validator;          // the file's validator then (sent as If-Range)
};

struct Verdict {
  enum class Kind {
    kAppend,     // the body continues the .part
    kWhole,      // the body is the whole file: the .part is emptied first
    kStartOver,  // the body does not continue the .part: ask again for the whole file
    kRetry,      // the attempt fails; another may go better (curl's 33)
    kRefuse,     // the job fails: the answer is not a file, and would be the same again (8)
  };
  Kind kind = Kind::kWhole;
  std::string reason;             // why, for every kind but kAppend and kWhole
  std::optional<uint64_t> total;  // the file's size, when known (kAppend, kWhole)
};

// The verdict on `head`, the final response (the one whose body arrives), to the request made
// for `part`. A 206 continues the .part only when it starts at its end, reaches the end of the
// file, and is of the same file (total size and validator, when known); a 206 to a request for
// the whole file is the file only when it covers all of it. 204, 205, and a 3xx that was not
// followed (no Location) hold no file.
Verdict judge_response(const ResponseHead& head, const PartState& part);

}  // namespace taskpool
