#include "tasks/fetch_names.h"

#include <filesystem>

namespace taskpool {

namespace {

// Longer "extensions" are more likely part of the name than a type a program looks at.
constexpr size_t kMaxKeptExtension = 16;  // bytes, with the dot

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One pass, so "%252e" gives "%2e" and never "."; a '%' not followed by two hex digits is kept,
// as the URL standard's percent-decode does.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool is_scheme(std::string_view text) {
  if (text.empty()) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(text[0])) return false;
  for (const char c : text) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// The path of `url` without its query and fragment. A "://" counts only after a real scheme, so
// "x?next=http://h/y" is a path, not a URL of host "h".
std::string_view url_path(std::string_view url) {
  const size_t end = url.find_first_of("?#");
  const std::string_view before_query = url.substr(0, end);
  size_t authority = std::string_view::npos;
  if (const size_t sep = before_query.find("://");
      sep != std::string_view::npos && is_scheme(before_query.substr(0, sep))) {
    authority = sep + 3;
  } else if (before_query.starts_with("//")) {  // scheme-relative: "//host/path"
    authority = 2;
  }
  if (authority == std::string_view::npos) return before_query;
  const size_t slash = before_query.find('/', authority);
  if (slash == std::string_view::npos) return {};
  return before_query.substr(slash);
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The longest prefix of `text` of at most `max` bytes that does not end inside a UTF-8 sequence.
// Bytes that are not UTF-8 are cut anywhere: a sequence has at most 3 continuation bytes.
std::string_view utf8_prefix(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  for (int back = 0; back < 3 && cut > 0 && is_utf8_continuation(text[cut]); ++back) --cut;
  if (is_utf8_continuation(text[cut])) cut = max;  // not a valid sequence: nothing to keep whole
  return text.substr(0, cut);
}

// Cuts a long name, keeping a short extension so the file still opens with the right program.
std::string shorten(const std::string& name) {
  if (name.size() <= kMaxFileName) return name;
  std::string_view extension;
  if (const size_t dot = name.rfind('.');
      dot != std::string::npos && name.size() - dot <= kMaxKeptExtension) {
    extension = std::string_view(name).substr(dot);
  }
  const std::string_view stem = std::string_view(name).substr(0, name.size() - extension.size());
  std::string out(utf8_prefix(stem, kMaxFileName - extension.size()));
  out += extension;
  return out;
}

// The name NAME of NAME, NAME.part and NAME.part.meta (and of "x.part.part"): names that can be
// each other's temporaries share a group (NameSet), so the lookups of one claim read one page.
std::string_view name_group(std::string_view name) {
  for (;;) {
    if (name.ends_with(kPartRecordSuffix)) {
      name.remove_suffix(kPartRecordSuffix.size());
    } else if (name.ends_with(kPartSuffix)) {
      name.remove_suffix(kPartSuffix.size());
    } else {
      return name;
    }
  }
}

// The length of the bidi control character that `text` starts with (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069, in UTF-8), or 0.
size_t bidi_control_length(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  if (text.size() >= 2 && byte(0) == 0xD8 && byte(1) == 0x9C) return 2;
  if (text.size() < 3 || byte(0) != 0xE2) return 0;
  if (byte(1) == 0x80 && (byte(2) == 0x8E || byte(2) == 0x8F)) return 3;
  if (byte(1) == 0x80 && byte(2) >= 0xAA && byte(2) <= 0xAE) return 3;
  if (byte(1) == 0x81 && byte(2) >= 0xA6 && byte(2) <= 0xA9) return 3;
  return 0;
}

std::string with_suffix(std::string_view path, size_t n) {
  const std::string suffix = "." + std::to_string(n);
  const size_t slash = path.rfind('/');
  const size_t name_start = slash == std::string_view::npos ? 0 : slash + 1;
  // Keeps the promise of kMaxFileName: the name gives up bytes to make room for the suffix.
  std::string out(path.substr(0, name_start));
  out += utf8_prefix(path.substr(name_start), kMaxFileName - suffix.size());
  out += suffix;
  return out;
}

}  // namespace

std::string file_name_for_url(std::string_view url) {
  const std::string_view path = url_path(url);
  const size_t slash = path.rfind('/');
  const std::string_view segment = slash == std::string_view::npos ? path : path.substr(slash + 1);
  // Decoding after splitting: an encoded "%2F" is part of the name, not a directory.
  return sanitize_file_name(percent_decode(segment));
}

std::string sanitize_file_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    const auto byte = static_cast<unsigned char>(name[i]);
    if (const size_t bidi = bidi_control_length(name.substr(i)); bidi > 0) {
      out += '_';
      i += bidi - 1;
    } else {
      out += name[i] == '/' || byte < 0x20 || byte == 0x7f ? '_' : name[i];
    }
  }
  if (out.empty() || out == ".") return "index.html";
  if (out == "..") return "_..";
  return shorten(out);
}

std::optional<std::string> safe_relative_path(std::string_view path) {
  if (path.starts_with('/')) return std::nullopt;
  std::string out;
  bool has_name = false;  // whether the last component is a name, not "" or "."
  for (;;) {
    const size_t slash = path.find('/');
    const std::string_view component = path.substr(0, slash);
    if (component == "..") return std::nullopt;
    has_name = !component.empty() && component != ".";
    if (has_name) {
      if (!out.empty()) out += '/';
      out += sanitize_file_name(component);
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (!has_name) return std::nullopt;
  return out;
}

NameRegistry::NameRegistry(NameSet::Options options) : names_(std::move(options)), hints_(kHints) {}

size_t NameRegistry::memory_bytes() const {
  return names_.memory_bytes() + hints_.capacity() * sizeof(SuffixHint);
}

bool NameRegistry::taken_for_good(const std::string& candidate) {
  const std::string_view group = name_group(candidate);
  const auto taken = [&](std::string_view name) {
    return names_.contains(names_.fingerprint(name, group));
  };
  const std::string_view name(candidate);
  // The name itself, the temporaries it would use, and the name whose temporary it is.
  if (taken(name) || taken(std::string(name) += kPartSuffix) ||
      taken(std::string(name) += kPartRecordSuffix)) {
    return true;
  }
  for (const std::string_view suffix : {kPartSuffix, kPartRecordSuffix}) {
    if (name.ends_with(suffix) && taken(name.substr(0, name.size() - suffix.size()))) return true;
  }
  return false;
}

void NameRegistry::take(const std::string& name) {
  const Fingerprint key = names_.fingerprint(name, name_group(name));
  if (!names_.contains(key)) names_.insert(key);
}

std::string NameRegistry::claim(const std::string& path, const DiskState& on_disk) {
  // A directory occupies its name too: after "d/a", a file "d" could not be created.
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    take(path.substr(0, slash));
  }
  Fingerprint key;
  SuffixHint* hint = nullptr;    // looked up once the search goes past the path itself
  size_t first_free = 1;         // every suffix below it is taken for good
  bool past_taken = false;       // a suffix not taken for good was seen: first_free stops there
  std::optional<size_t> usable;  // the first name free here that is not another URL's file
  size_t chosen = 0;             // 0: the path itself; n: its suffix n
  for (size_t n = 0;; ++n) {
    if (n == 1) {
      // Going on where the suffixes taken for good end keeps many claims of one name (every
      // "index.html") linear instead of quadratic. The table is made when first needed.
      if (hints_.empty()) hints_.resize(kHints);
      key = names_.fingerprint(path, name_group(path));
      hint = &hints_[static_cast<size_t>(key.group ^ key.name) % kHints];
      if (hint->path == key) n = first_free = hint->first_free;
    }
    const std::string candidate = n == 0 ? path : with_suffix(path, n);
    if (taken_for_good(candidate)) {
      if (n > 0 && !past_taken) first_free = n + 1;
      continue;
    }
    if (n > 0) past_taken = true;
    const OnDisk state = on_disk ? on_disk(candidate) : OnDisk::kNothing;
    if (state == OnDisk::kOwn) {
      chosen = n;
      break;
    }
    if (state != OnDisk::kOtherDownload && !usable) usable = n;
    if (state == OnDisk::kNothing) {
      chosen = *usable;
      break;
    }
  }
  std::string name = chosen == 0 ? path : with_suffix(path, chosen);
  take(name);
  if (chosen > 0 && chosen == first_free) first_free = chosen + 1;
  // The entry goes to the path that has gone furthest: the one that would cost most to count
  // again.
  if (hint != nullptr && (hint->path == key || hint->first_free <= first_free)) {
    *hint = {key, first_free};
  }
  return name;
}

std::string download_file(std::string_view output_dir, std::string_view path) {
  const std::filesystem::path file = std::filesystem::path(output_dir) / path;
  return file.lexically_normal().string();
}

}  // namespace taskpool
