#include "core/value_transform.h"

#include <charconv>
#include <tuple>
#include <utility>

namespace taskpool {
namespace {

// Perl's File::Basename::fileparse on Unix: the directory part keeps its trailing slash and is
// "./" when there is none.
std::pair<std::string, std::string> file_parse(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"./", std::string(path)};
  return {std::string(path.substr(0, slash + 1)), std::string(path.substr(slash + 1))};
}

// s{(.)/*\z}{$1}s: trailing slashes go, but never the first character.
void strip_trailing_slashes(std::string& path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
}

// Where the last `n` extensions of `s` start (the dot of (\.[^/.]*){n}$), if it has them.
std::optional<size_t> extensions_start(std::string_view s, size_t n) {
  size_t end = s.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t mark = end == 0 ? std::string_view::npos : s.find_last_of("./", end - 1);
    if (mark == std::string_view::npos || s[mark] != '.') return std::nullopt;
    end = mark;
  }
  return end;
}

std::optional<size_t> parse_size(std::string_view digits) {
  size_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return value;
}

// {:-STR}, {:N}, {:N:M}: `spec` is what follows the colon.
std::string ascii_case(std::string_view s, bool upper) {
  std::string out(s);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

ValueTransform replacing(std::string_view text, std::string with, ValueTransform::At at) {
  ValueTransform t;
  t.kind = ValueTransform::Kind::kReplace;
  t.text = std::string(text);
  t.with = std::move(with);
  t.at = at;
  return t;
}

// {/STR/NEW} {//STR/NEW} {/#STR/NEW} {/%STR/NEW}, `spec` after the first slash. STR is not empty
// and ends at the next slash (after its first byte); {/STR/NEW}'s holds no '#' or '%'.
std::optional<ValueTransform> parse_substitution(std::string_view spec) {
  using At = ValueTransform::At;
  At at = At::kFirst;
  if (spec.size() > 1 && (spec[0] == '/' || spec[0] == '#' || spec[0] == '%')) {
    at = spec[0] == '/' ? At::kAll : spec[0] == '#' ? At::kStart : At::kEnd;
    spec.remove_prefix(1);
  }
  const size_t slash = spec.find('/', 1);
  if (spec.empty() || slash == std::string_view::npos) return std::nullopt;
  const std::string_view text = spec.substr(0, slash);
  if (at == At::kFirst && text.find_first_of("#%/") != std::string_view::npos) return std::nullopt;
  return replacing(text, std::string(spec.substr(slash + 1)), at);
}

// The Bash-like strings but {:...}: {#STR} {##STR} {%STR} {%%STR} {/STR/NEW}... {^STR} {,,STR}.
std::optional<ValueTransform> parse_bash_edit(std::string_view inside) {
  using At = ValueTransform::At;
  if (inside.size() < 2) return std::nullopt;
  const char first = inside[0];
  const bool doubled = inside.size() > 2 && inside[1] == first;
  const std::string_view text = inside.substr(doubled ? 2 : 1);
  if (text.empty()) return std::nullopt;
  switch (first) {
    case '#':  // {##} is not one: the number of jobs in GNU parallel
      if (text[0] == '#') return std::nullopt;
      return replacing(text, "", At::kStart);
    case '%':
      return replacing(text, "", At::kEnd);
    case '/':
      return parse_substitution(inside.substr(1));
    case '^':
    case ',':
      return replacing(text, ascii_case(text, first == '^'), doubled ? At::kAll : At::kStart);
    default:
      return std::nullopt;
  }
}

// `value` with `text` replaced by `with` where `at` says.
std::string replace_text(std::string_view value, const ValueTransform& t) {
  using At = ValueTransform::At;
  const std::string_view text = t.text;
  if (t.at == At::kStart || t.at == At::kEnd) {
    const bool found = t.at == At::kStart ? value.starts_with(text) : value.ends_with(text);
    if (!found) return std::string(value);
    const size_t from = t.at == At::kStart ? 0 : value.size() - text.size();
    return std::string(value.substr(0, from)) + t.with +
           std::string(value.substr(from + text.size()));
  }
  std::string out;
  size_t pos = 0;
  for (size_t hit = value.find(text); hit != std::string_view::npos; hit = value.find(text, pos)) {
    out.append(value.substr(pos, hit - pos)).append(t.with);
    pos = hit + text.size();
    if (t.at == At::kFirst) break;
  }
  return out.append(value.substr(pos));
}

std::optional<ValueTransform> parse_bash_like(std::string_view spec) {
  ValueTransform t;
  if (spec.starts_with('-') && spec.size() > 1) {
    t.kind = ValueTransform::Kind::kDefault;
    t.text = std::string(spec.substr(1));
    return t;
  }
  const size_t colon = spec.find(':');
  const auto from = parse_size(spec.substr(0, colon));
  if (!from) return std::nullopt;
  t.from = *from;
  if (colon == std::string_view::npos) {
    t.kind = ValueTransform::Kind::kDropFirst;
    return t;
  }
  const auto length = parse_size(spec.substr(colon + 1));
  if (!length) return std::nullopt;
  t.kind = ValueTransform::Kind::kSubstring;
  t.length = *length;
  return t;
}

}  // namespace

std::string remove_extension(std::string_view s) { return remove_extensions(s, 1); }

std::string base_name(std::string_view s) {
  const size_t slash = s.rfind('/');
  return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

std::string dir_name(std::string_view s) {
  auto [dir, base] = file_parse(s);
  strip_trailing_slashes(dir);
  if (base.empty()) {
    std::tie(dir, base) = file_parse(dir);
    strip_trailing_slashes(dir);
  }
  return dir;
}

std::string url_host(std::string_view s) {
  if (const size_t scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
  }
  s = s.substr(0, s.find_first_of("/?#\t "));
  if (const size_t at = s.rfind('@'); at != std::string_view::npos) s.remove_prefix(at + 1);
  if (s.starts_with('[')) {
    s = s.substr(1, s.find(']') == std::string_view::npos ? s.npos : s.find(']') - 1);
  } else {
    s = s.substr(0, s.find(':'));
  }
  std::string host(s);
  for (char& c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return host;
}

std::string remove_extensions(std::string_view s, size_t n) {
  const auto start = extensions_start(s, n);
  return std::string(start ? s.substr(0, *start) : s);
}

std::string extensions(std::string_view s, size_t n) {
  if (n == 1) {  // s:.*\.::, which a slash does not stop
    const size_t dot = s.rfind('.');
    return dot == std::string_view::npos ? "" : std::string(s.substr(dot + 1));
  }
  const auto start = extensions_start(s, n);
  return start ? std::string(s.substr(*start + 1)) : "";
}

std::string ValueTransform::apply(std::string_view value) const {
  switch (kind) {
    case Kind::kNone:
      return std::string(value);
    case Kind::kNoExt:
      return remove_extension(value);
    case Kind::kBase:
      return base_name(value);
    case Kind::kDir:
      return dir_name(value);
    case Kind::kBaseNoExt:
      return remove_extension(base_name(value));
    case Kind::kHost:
      return url_host(value);
    case Kind::kNoExt2:
      return remove_extensions(value, 2);
    case Kind::kNoExt3:
      return remove_extensions(value, 3);
    case Kind::kBaseNoExt2:
      return remove_extensions(base_name(value), 2);
    case Kind::kBaseNoExt3:
      return remove_extensions(base_name(value), 3);
    case Kind::kPlusDir: {
      const size_t slash = value.rfind('/');
      return slash == std::string_view::npos ? "" : std::string(value.substr(0, slash));
    }
    case Kind::kPlusExt:
      return extensions(value, 1);
    case Kind::kPlusExt2:
      return extensions(value, 2);
    case Kind::kPlusExt3:
      return extensions(value, 3);
    case Kind::kDefault:
      return value.empty() || value == "0" ? text : std::string(value);
    case Kind::kDropFirst:
      return from >= value.size() ? "" : std::string(value.substr(from));
    case Kind::kSubstring:
      return from >= value.size() ? "" : std::string(value.substr(from, length));
    case Kind::kReplace:
      return replace_text(value, *this);
  }
  return std::string(value);
}

std::optional<ValueTransform> parse_transform(std::string_view inside, bool plus) {
  using K = ValueTransform::Kind;
  struct Name {
    std::string_view text;
    K kind;
    bool plus;
  };
  static constexpr Name kNames[] = {
      {".", K::kNoExt, false},      {"/", K::kBase, false},        {"//", K::kDir, false},
      {"/.", K::kBaseNoExt, false}, {"host", K::kHost, false},     {"..", K::kNoExt2, true},
      {"...", K::kNoExt3, true},    {"/..", K::kBaseNoExt2, true}, {"/...", K::kBaseNoExt3, true},
      {"+/", K::kPlusDir, true},    {"+.", K::kPlusExt, true},     {"+..", K::kPlusExt2, true},
      {"+...", K::kPlusExt3, true},
  };
  for (const Name& name : kNames) {
    if (inside == name.text && (plus || !name.plus)) {
      ValueTransform t;
      t.kind = name.kind;
      return t;
    }
  }
  if (!plus) return std::nullopt;
  if (inside.starts_with(':')) return parse_bash_like(inside.substr(1));
  return parse_bash_edit(inside);
}

}  // namespace taskpool
