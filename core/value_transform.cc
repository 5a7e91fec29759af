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
  if (plus && inside.starts_with(':')) return parse_bash_like(inside.substr(1));
  return std::nullopt;
}

}  // namespace taskpool
