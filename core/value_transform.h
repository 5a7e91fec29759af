// What a replacement string does to a value: GNU parallel's {.} {/} {//} {/.}, and with --plus
// {..} {...} {/..} {/...} {+/} {+.} {+..} {+...} {:-STR} {:N} {:N:M} and the Bash-like {#STR}
// {##STR} {%STR} {%%STR} {/STR/NEW} {//STR/NEW} {/#STR/NEW} {/%STR/NEW} {^STR} {^^STR} {,STR}
// {,,STR}. STR is literal text (GNU parallel reads it as a Perl regular expression: the same
// where it holds none of . * + ? [ ] ( ) | \ ^ $). Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace taskpool {

struct ValueTransform {
  enum class Kind {
    kNone,
    kNoExt,      // {.}    s:\.[^/.]*$::
    kBase,       // {/}    s:.*/::
    kDir,        // {//}   Perl's dirname
    kBaseNoExt,  // {/.}
    kHost,       // {host}: taskpool's, the host a URL names (url_host)
    // --plus:
    kNoExt2,      // {..}   two extensions off
    kNoExt3,      // {...}  three
    kBaseNoExt2,  // {/..}
    kBaseNoExt3,  // {/...}
    kPlusDir,     // {+/}   what {/} leaves out: up to the last slash, else nothing
    kPlusExt,     // {+.}   what {.} leaves out: after the last dot, else nothing
    kPlusExt2,    // {+..}  the last two extensions, else nothing
    kPlusExt3,    // {+...} the last three
    kDefault,     // {:-STR} STR when the value is empty (or "0", as Perl's ||=)
    kDropFirst,   // {:N}   without the first N bytes
    kSubstring,   // {:N:M} M bytes from byte N
    kReplace,     // {#STR} {%STR} {/STR/NEW} {^STR} ...: `text` becomes `with`, where `at` says
  };
  // Where kReplace replaces `text`: its first occurrence, all of them, only at the start or only
  // at the end of the value.
  enum class At { kFirst, kAll, kStart, kEnd };
  Kind kind = Kind::kNone;
  std::string text;  // kDefault's STR; kReplace's STR
  std::string with;  // kReplace's NEW ("" to remove STR; STR in upper or lower case)
  At at = At::kFirst;
  size_t from = 0;    // kDropFirst, kSubstring
  size_t length = 0;  // kSubstring

  std::string apply(std::string_view value) const;
  bool operator==(const ValueTransform&) const = default;
};

// The transform that `inside` (what follows the field number between the braces) names, or
// nothing when it names none. `plus`: --plus's transforms too.
std::optional<ValueTransform> parse_transform(std::string_view inside, bool plus);

// The transforms on their own, for tests and reuse.
std::string remove_extension(std::string_view s);  // s:\.[^/.]*$::
std::string base_name(std::string_view s);         // s:.*/::
std::string dir_name(std::string_view s);          // Perl File::Basename::dirname
// {host}: the host a URL names, as curl reads it (the scheme may be left out): without user,
// port or path, in lower case, an IPv6 address without its brackets. "https://u@Ex.com:8080/a"
// gives "ex.com"; a value that is only a host name gives itself.
std::string url_host(std::string_view s);
// s:(\.[^/.]*){n}$::, the last `n` extensions off (unchanged when it has fewer).
std::string remove_extensions(std::string_view s, size_t n);
// The last `n` extensions without their first dot ("" when it has fewer): {+..} for n = 2.
std::string extensions(std::string_view s, size_t n);

}  // namespace taskpool
