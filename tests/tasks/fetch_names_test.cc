#include "tasks/fetch_names.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace taskpool {
namespace {

using namespace std::string_literals;  // "a\0b"s keeps its NUL

struct Expectation {
  std::string input;
  std::string expected;
};

// Claims each input in order from one registry and checks the path each gets.
void check_claims(const std::vector<Expectation>& claims) {
  NameRegistry names;
  for (const Expectation& claim : claims) {
    CAPTURE(claim.input);
    CHECK(names.claim(claim.input) == claim.expected);
  }
}

std::string repeat(std::string_view piece, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// The UTF-8 bytes of one character. The bidi controls are built this way, not written in string
// literals, which would make the source itself misleading to read (and lint says so).
std::string utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

// The bidi control characters taskpool keeps out of names.
constexpr std::array<char32_t, 12> kBidiControls = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C,
                                                    0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069};

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : 4;
    if ((lead >> 3) == 0x1F || (lead >> 6) == 0x2) return false;
    if (i + length > s.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += length;
  }
  return true;
}

// What every name taskpool writes into the output directory must be. Returns why not, or "".
std::string unsafe_component_reason(const std::string& name) {
  if (name.empty()) return "empty";
  if (name == "." || name == "..") return "a dot name";
  if (name.size() > kMaxFileName) return "too long";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/') return "has a slash";
    if (byte < 0x20 || byte == 0x7f) return "has a control byte";
  }
  for (const char32_t bidi : kBidiControls) {
    if (name.find(utf8(bidi)) != std::string::npos) return "has a bidi control";
  }
  // The file lands in the output directory itself, one level down, whatever the name says.
  const std::filesystem::path joined = (std::filesystem::path("out/") += name).lexically_normal();
  if (joined.parent_path() != "out" || joined.filename() != name) return "escapes out/";
  return "";
}

// Same for a relative path from a URL<TAB>PATH record: every component safe, nothing to normalize.
std::string unsafe_path_reason(const std::string& path) {
  if (path.starts_with('/')) return "absolute";
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string reason = unsafe_component_reason(path.substr(start, slash - start));
    if (!reason.empty()) return "component " + reason;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  const std::string joined = (std::filesystem::path("out/") += path).lexically_normal().string();
  if (joined != "out/" + path) return "not normal";
  return "";
}

// Strings built to break names: raw bytes, encoded bytes, and pieces of traversal attempts.
class HostileStrings {
 public:
  explicit HostileStrings(uint32_t seed) : random_(seed) {}

  std::string next() {
    switch (pick(4)) {
      case 0:
        return random_bytes();
      case 1:
        return random_percent_encoding();
      case 2:
        return random_pieces(pick(2) == 0 ? 12 : 400);
      default:
        return "http://h/" + random_pieces(12);
    }
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }

  size_t length() { return pick(10) == 0 ? 900 + pick(400) : pick(40); }

  std::string random_bytes() {
    std::string out(length(), '\0');
    for (char& c : out) c = static_cast<char>(pick(256));
    return out;
  }

  std::string random_percent_encoding() {
    static constexpr char kHex[] = "0123456789abcdefABCDEF";
    std::string out;
    const size_t n = length();
    for (size_t i = 0; i < n; ++i) {
      out += '%';
      for (int digit = 0; digit < 2; ++digit) {
        // Now and then a byte that is not a hex digit, for invalid sequences.
        out += pick(20) == 0 ? static_cast<char>(pick(256)) : kHex[pick(sizeof(kHex) - 1)];
      }
    }
    return out;
  }

  std::string random_pieces(size_t max_pieces) {
    static const std::vector<std::string> kPieces = {"../",
                                                     "..",
                                                     ".",
                                                     "/",
                                                     "//",
                                                     "%2e",
                                                     "%2E",
                                                     "%2f",
                                                     "%2F",
                                                     "%2e%2e%2f",
                                                     "%252e",
                                                     "%25",
                                                     "%",
                                                     "%%",
                                                     "%0",
                                                     "%00",
                                                     "%0a",
                                                     "%0D",
                                                     "%7f",
                                                     "%ff",
                                                     "\\",
                                                     "..\\",
                                                     "://",
                                                     "http://h/",
                                                     "?",
                                                     "#",
                                                     "-",
                                                     " ",
                                                     "\t",
                                                     "\n",
                                                     "\0"s,
                                                     "\x7f",
                                                     "a",
                                                     "b.txt",
                                                     "\xC3\xA9",
                                                     "\xE6\x97\xA5",
                                                     "\xF0\x9F\x98\x80",
                                                     "\xE6\x97",
                                                     "\x80",
                                                     "\xFF",
                                                     "%E6%97%A5",
                                                     repeat("x", 150)};
    std::string out;
    const size_t n = pick(max_pieces + 1);
    for (size_t i = 0; i < n; ++i) out += kPieces[pick(kPieces.size())];
    return out;
  }

  std::mt19937 random_;
};

TEST_CASE("file_name_for_url: the last path segment, without query and fragment") {
  const std::vector<Expectation> cases = {
      {"http://h/a/b.txt?x=1#f", "b.txt"},
      {"http://h/", "index.html"},
      {"http://h", "index.html"},
      {"https://example.com/dir/", "index.html"},
      {"http://h?x=1", "index.html"},
      {"http://h#part/of/fragment", "index.html"},
      {"http://h/a?next=/b/c.txt", "a"},
      {"http://h/a#/b/c.txt", "a"},
      {"http://user:pw@h:8080/f.tar.gz", "f.tar.gz"},
      {"HTTP://H/F", "F"},
      {"file:///etc/passwd", "passwd"},
      {"//h/x.bin", "x.bin"},  // scheme-relative
      {"//h", "index.html"},
      {"example.com/a.txt", "a.txt"},  // no scheme: all path
      {"a.txt", "a.txt"},
      {"x?u=http://h/y", "x"},
      {"archive.org/web/2020/http://example.com", "example.com"},  // not a scheme: all path
      {"", "index.html"},
      {"http://h/a/", "index.html"},
  };
  for (const Expectation& c : cases) {
    CAPTURE(c.input);
    CHECK(file_name_for_url(c.input) == c.expected);
  }
}

TEST_CASE("file_name_for_url: percent-decodes once, keeping invalid sequences") {
  const std::vector<Expectation> cases = {
      {"http://h/a%20b.txt", "a b.txt"},
      {"http://h/%41%4a%4A%6a", "AJJj"},  // either case of hex digit
      {"http://h/caf%C3%A9", "caf\xC3\xA9"},
      {"http://h/100%", "100%"},
      {"http://h/%zz%4", "%zz%4"},
      {"http://h/%4", "%4"},
      {"http://h/%%41", "%A"},
      {"http://h/%252e", "%2e"},  // decoded once: "%25" is the '%', the rest stays
      {"http://h/%252e%252e%252f", "%2e%2e%2f"},
      {"http://h/a+b", "a+b"},  // '+' is a space only in form data
      {"http://h/x%2Fy", "x_y"},
      {"http://h/x%2fy", "x_y"},
  };
  for (const Expectation& c : cases) {
    CAPTURE(c.input);
    CHECK(file_name_for_url(c.input) == c.expected);
  }
}

TEST_CASE("file_name_for_url: traversal and control bytes end up as one harmless name") {
  const std::vector<Expectation> cases = {
      {"../../x", "x"},
      {"http://h/../../x", "x"},
      {"http://h/%2e%2e%2fx", ".._x"},
      {"http://h/%2e%2e%2f%2e%2e%2fetc%2fpasswd", ".._.._etc_passwd"},
      {"http://h/..", "_.."},
      {"http://h/a/..", "_.."},
      {"http://h/%2e%2e", "_.."},
      {"http://h/%2E%2E", "_.."},
      {"..", "_.."},
      {"http://h/.", "index.html"},
      {"http://h/%2e", "index.html"},
      {"http://h/a%00b", "a_b"},
      {"http://h/%00", "_"},
      {"http://h/a%0ab%09c%0D", "a_b_c_"},
      {"http://h/a%7Fb", "a_b"},
      {"http://h/-rf", "-rf"},  // taskpool never hands names to a shell
      {"http://h/x.%20", "x. "},
      {"http://h/x...", "x..."},
      {"http://h/a\\..\\b", "a\\..\\b"},  // a backslash is no separator here
  };
  for (const Expectation& c : cases) {
    CAPTURE(c.input);
    CHECK(file_name_for_url(c.input) == c.expected);
  }
}

TEST_CASE("file_name_for_url: long encoded names are cut on a character boundary") {
  const std::string name = file_name_for_url("http://h/" + repeat("%E6%97%A5", 400) + ".txt");
  CHECK(name == repeat("\xE6\x97\xA5", 65) + ".txt");
  CHECK(name.size() <= kMaxFileName);
  CHECK(is_valid_utf8(name));
}

TEST_CASE("sanitize_file_name: slashes and control bytes become '_'") {
  CHECK(sanitize_file_name("a/b") == "a_b");
  CHECK(sanitize_file_name("/") == "_");
  CHECK(sanitize_file_name("a\0b"s) == "a_b");
  CHECK(sanitize_file_name("\x01\x1f\x7f") == "___");
  CHECK(sanitize_file_name("a\nb\tc\rd") == "a_b_c_d");
  CHECK(sanitize_file_name(" \x20~") == "  ~");  // printable bytes stay
  CHECK(sanitize_file_name("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(sanitize_file_name("\x80\xFF") == "\x80\xFF");  // not UTF-8, yet a valid name
}

TEST_CASE("sanitize_file_name: bidi controls become '_', one each") {
  // "a<U+202E>gpj.exe" shows as "aexe.jpg".
  CHECK(sanitize_file_name("a" + utf8(0x202E) + "gpj.exe") == "a_gpj.exe");
  std::string all;
  for (const char32_t bidi : kBidiControls) all += utf8(bidi) + "x";
  CHECK(sanitize_file_name(all) == repeat("_x", kBidiControls.size()));
  // Their neighbours are not controls.
  for (const char32_t kept : {0x061B, 0x200D, 0x2029, 0x202F, 0x2065, 0x206A}) {
    CAPTURE(static_cast<uint32_t>(kept));
    CHECK(sanitize_file_name("a" + utf8(kept)) == "a" + utf8(kept));
  }
  // A sequence cut short is no control.
  const std::string cut = utf8(0x202E).substr(0, 2);
  CHECK(sanitize_file_name(cut) == cut);
  CHECK(file_name_for_url("http://h/a%E2%80%AEgpj.exe") == "a_gpj.exe");
}

TEST_CASE("sanitize_file_name: names the file system treats specially are replaced") {
  CHECK(sanitize_file_name("") == "index.html");
  CHECK(sanitize_file_name(".") == "index.html");
  CHECK(sanitize_file_name("..") == "_..");
  CHECK(sanitize_file_name("...") == "...");
  CHECK(sanitize_file_name(".hidden") == ".hidden");
  CHECK(sanitize_file_name("-n") == "-n");
  CHECK(sanitize_file_name("trailing. ") == "trailing. ");
  CHECK(sanitize_file_name("./") == "._");
  CHECK(sanitize_file_name("../") == ".._");
}

TEST_CASE("sanitize_file_name: long names are cut to kMaxFileName") {
  const std::string a(kMaxFileName, 'a');
  CHECK(sanitize_file_name(a) == a);
  CHECK(sanitize_file_name(a + "b") == a);
  CHECK(sanitize_file_name(repeat("a", 1000)) == a);

  SUBCASE("a short extension is kept") {
    CHECK(sanitize_file_name(repeat("a", 1000) + ".txt") == repeat("a", kMaxFileName - 4) + ".txt");
    CHECK(sanitize_file_name(repeat("a", 199) + ".txt") == repeat("a", 196) + ".txt");
    const std::string extension16 = "." + repeat("e", 15);
    CHECK(sanitize_file_name(repeat("a", 1000) + extension16) ==
          repeat("a", kMaxFileName - 16) + extension16);
    CHECK(sanitize_file_name(repeat("a", 1000) + ".tar.gz") ==
          repeat("a", kMaxFileName - 3) + ".gz");
  }
  SUBCASE("a long extension is just part of the name") {
    CHECK(sanitize_file_name(repeat("a", 1000) + "." + repeat("e", 16)) == a);
    CHECK(sanitize_file_name(repeat("b", 300) + ".x" + repeat("a", 1000)) == repeat("b", 200));
  }
  SUBCASE("a leading dot is no extension") {
    CHECK(sanitize_file_name("." + repeat("a", 1000)) == "." + repeat("a", kMaxFileName - 1));
  }
  SUBCASE("multi-byte characters are never cut in half") {
    const std::string two = "\xC3\xA9";
    const std::string three = "\xE6\x97\xA5";
    const std::string four = "\xF0\x9F\x98\x80";
    CHECK(sanitize_file_name(repeat(two, 600)) == repeat(two, 100));
    CHECK(sanitize_file_name(repeat(three, 400)) == repeat(three, 66));
    CHECK(sanitize_file_name(repeat(three, 400) + ".txt") == repeat(three, 65) + ".txt");
    CHECK(sanitize_file_name(repeat(four, 300) + ".json") == repeat(four, 48) + ".json");
    CHECK(sanitize_file_name("a" + repeat(four, 300)) == "a" + repeat(four, 49));
  }
  SUBCASE("bytes that are not UTF-8 are cut at the limit") {
    CHECK(sanitize_file_name(repeat("\x80", 300)) == repeat("\x80", kMaxFileName));
  }
  SUBCASE("control bytes are replaced in long names too") {
    CHECK(sanitize_file_name(repeat("\n", 300) + ".t\tt") == repeat("_", 196) + ".t_t");
  }
}

TEST_CASE("safe_relative_path: relative paths are kept, cleaned up") {
  const std::vector<Expectation> cases = {
      {"a/b/c.txt", "a/b/c.txt"},
      {"a", "a"},
      {"a//b", "a/b"},
      {"./a", "a"},
      {"a/./b", "a/b"},
      {"././a//./b", "a/b"},
      {"-a/-b", "-a/-b"},
      {"a\tb/c\nd", "a_b/c_d"},
      {"a\0b/c"s, "a_b/c"},
      {"...", "..."},
      {"a/...", "a/..."},
      {"..a/b..", "..a/b.."},
      {"%2e%2e/x", "%2e%2e/x"},  // written by the user, not percent-encoded
      {"a b/c ", "a b/c "},
      {"d/" + repeat("a", 1000) + ".txt", "d/" + repeat("a", kMaxFileName - 4) + ".txt"},
  };
  for (const Expectation& c : cases) {
    CAPTURE(c.input);
    const std::optional<std::string> got = safe_relative_path(c.input);
    REQUIRE(got.has_value());
    CHECK(*got == c.expected);
  }
}

TEST_CASE("safe_relative_path: refuses paths that leave the output directory or name no file") {
  const std::vector<std::string> refused = {
      "",   "/etc/passwd", "//a", "/",  "..", "../a",  "a/../b", "a/..", "a/b/../../..",
      "a/", "a/.",         ".",   "./", "//", "a/b//", "./././",
  };
  for (const std::string& path : refused) {
    CAPTURE(path);
    CHECK_FALSE(safe_relative_path(path).has_value());
  }
}

TEST_CASE("NameRegistry: later claims of one path get numbered suffixes") {
  check_claims({
      {"a.txt", "a.txt"},
      {"a.txt", "a.txt.1"},
      {"a.txt", "a.txt.2"},
      {"b.txt", "b.txt"},
      {"a.txt", "a.txt.3"},
  });
}

TEST_CASE("NameRegistry: a suffixed name another download already has is skipped") {
  check_claims({
      {"a.txt.1", "a.txt.1"},
      {"a.txt", "a.txt"},
      {"a.txt", "a.txt.2"},
      {"a.txt.2", "a.txt.2.1"},
      {"a.txt", "a.txt.3"},
  });
}

TEST_CASE("NameRegistry: paths in directories are numbered by their file name") {
  check_claims({
      {"d/a", "d/a"},
      {"d/a", "d/a.1"},
      {"e/a", "e/a"},
      {"a", "a"},
      {"d.1/a", "d.1/a"},
  });
}

TEST_CASE("NameRegistry: a file does not take the name of a directory already in use") {
  check_claims({
      {"d/e/a", "d/e/a"},
      {"d", "d.1"},
      {"d/e", "d/e.1"},
      {"d/e/b", "d/e/b"},
  });
}

TEST_CASE("NameRegistry: suffixes keep long names within kMaxFileName") {
  NameRegistry names;
  const std::string a(kMaxFileName, 'a');
  CHECK(names.claim(a) == a);
  CHECK(names.claim(a) == repeat("a", kMaxFileName - 2) + ".1");
  CHECK(names.claim("d/" + a) == "d/" + a);
  CHECK(names.claim("d/" + a) == "d/" + repeat("a", kMaxFileName - 2) + ".1");

  const std::string three = "\xE6\x97\xA5";
  const std::string wide = repeat(three, 66);  // 198 bytes
  std::string last;
  for (int i = 0; i <= 10; ++i) last = names.claim(wide);
  CHECK(last == repeat(three, 65) + ".10");  // 198 + 3 bytes would not fit
  CHECK(is_valid_utf8(last));
}

TEST_CASE("NameRegistry: the same claims in the same order give the same paths") {
  const std::vector<std::string> claims = {"a", "b", "a", "a.1", "a", "d/a", "d", "d/a", "b"};
  NameRegistry first;
  NameRegistry second;
  for (const std::string& path : claims) {
    CAPTURE(path);
    CHECK(first.claim(path) == second.claim(path));
  }
}

TEST_CASE("NameRegistry: many downloads of one name all get distinct names") {
  // Many URLs ending in '/' all map to "index.html".
  NameRegistry names;
  CHECK(names.claim("index.html") == "index.html");
  std::string last;
  for (int i = 1; i <= 50000; ++i) last = names.claim("index.html");
  CHECK(last == "index.html.50000");
  CHECK(names.claim("index.html.50001") == "index.html.50001");
  CHECK(names.claim("index.html") == "index.html.50002");
}

TEST_CASE("NameRegistry: a name's .part and .part.meta are its own") {
  SUBCASE("a URL named like another's temporary, after it") {
    check_claims({
        {"x", "x"},
        {"x.part", "x.part.1"},
        {"x.part.meta", "x.part.meta.1"},
        {"x.part.1", "x.part.1.1"},
    });
  }
  SUBCASE("before it") {
    check_claims({
        {"x.part", "x.part"},
        {"x", "x.1"},
        {"y.part.meta", "y.part.meta"},
        {"y", "y.1"},
        {"y", "y.2"},
    });
  }
  SUBCASE("a directory of that name") {
    check_claims({
        {"z.part/a", "z.part/a"},
        {"z", "z.1"},
    });
  }
  SUBCASE("a numbered name's temporaries too") {
    check_claims({
        {"a.1.part", "a.1.part"},
        {"a", "a"},
        {"a", "a.2"},  // a.1 would write a.1.part
        {"a", "a.3"},
    });
  }
}

// A directory's contents as download_on_disk would see them for `url`: path -> whose it is:
// "file:URL" for a finished file with that origin, "part:URL" for a .part recorded for it, and
// "file:" or "part:" for one that records no URL.
NameRegistry::DiskState disk(std::map<std::string, std::string> files, std::string url) {
  return [files = std::move(files), url = std::move(url)](const std::string& path) {
    const auto it = files.find(path);
    if (it == files.end()) return OnDisk::kNothing;
    const std::string& what = it->second;
    if (what == "file:" + url || what == "part:" + url) return OnDisk::kOwn;
    if (what.starts_with("file:") && what != "file:") return OnDisk::kOtherDownload;
    return OnDisk::kLeftover;
  };
}

TEST_CASE("NameRegistry: with what is on disk, a URL finds its own name, files and .parts") {
  // As after a run of [A, B, C] whose input comes again as [C, A, B] with --continue.
  const std::map<std::string, std::string> files = {
      {"a", "file:A"}, {"a.1", "part:B"}, {"a.2", "file:C"}};
  NameRegistry names;
  CHECK(names.claim("a", disk(files, "C")) == "a.2");
  CHECK(names.claim("a", disk(files, "A")) == "a");
  CHECK(names.claim("a", disk(files, "B")) == "a.1");
  CHECK(names.claim("a", disk(files, "D")) == "a.3");
}

TEST_CASE("NameRegistry: another URL's file is passed over, and stays free for it") {
  const std::map<std::string, std::string> files = {{"a", "file:A"}, {"a.2", "file:B"}};
  NameRegistry names;
  CHECK(names.claim("a", disk(files, "X")) == "a.1");  // nothing on disk there
  CHECK(names.claim("a", disk(files, "Y")) == "a.3");  // a.2 is B's: the search goes on past it
  CHECK(names.claim("a", disk(files, "A")) == "a");
  CHECK(names.claim("a", disk(files, "B")) == "a.2");
  CHECK(names.claim("a") == "a.4");
}

TEST_CASE("NameRegistry: a leftover is taken when the URL's own is not found further on") {
  const std::map<std::string, std::string> files = {
      {"a", "file:"}, {"a.1", "part:B"}, {"a.2", "file:C"}, {"b", "part:A"}};
  NameRegistry names;
  CHECK(names.claim("a", disk(files, "C")) == "a.2");  // its own, further on, comes first
  CHECK(names.claim("a", disk(files, "D")) == "a");    // a file nobody recorded: counts as done
  CHECK(names.claim("a", disk(files, "E")) == "a.1");  // B's .part, started over for E
  CHECK(names.claim("b", disk(files, "F")) == "b");    // A's .part: A is not in the input
}

// The rules of NameRegistry without its bounds, for comparing: every name kept as it is.
class ModelRegistry {
 public:
  std::string claim(const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      taken_.insert(path.substr(0, slash));
    }
    std::string candidate = path;
    for (size_t n = 1; taken(candidate); ++n) {
      candidate = path + "." + std::to_string(n);
    }
    taken_.insert(candidate);
    return candidate;
  }

 private:
  bool taken(const std::string& name) const {
    const auto has = [&](const std::string& n) { return taken_.contains(n); };
    if (has(name) || has(name + ".part") || has(name + ".part.meta")) return true;
    if (name.ends_with(".part.meta") && has(name.substr(0, name.size() - 10))) return true;
    return name.ends_with(".part") && has(name.substr(0, name.size() - 5));
  }
  std::unordered_set<std::string> taken_;
};

TEST_CASE("NameRegistry: memory stays within its budget; names stay unique and the same") {
  // Many names, a few hundred of them repeated hundreds of times (more repeated names than the
  // table of suffix hints has room for), and some that look like others' suffixes or
  // temporaries: far past the memory budget, so the names go to disk and its table doubles.
  std::mt19937 random(12345);
  std::vector<std::string> claims;
  for (int i = 0; i < 30000; ++i) {
    const auto pick = std::uniform_int_distribution<int>(0, 99)(random);
    const auto n = std::uniform_int_distribution<int>(0, 10000)(random);
    if (pick < 60) {
      claims.push_back("f" + std::to_string(n));
    } else if (pick < 80) {
      claims.push_back("r" + std::to_string(n % 300) + ".html");
    } else if (pick < 90) {
      claims.push_back("f" + std::to_string(n % 500) + (pick % 2 ? ".part" : ".1"));
    } else {
      claims.push_back("d" + std::to_string(n % 50) + "/f" + std::to_string(n % 2000));
    }
  }
  NameSet::Options small;
  small.memory_budget = 16 * 1024;
  NameRegistry registry(small);
  NameRegistry again(small);
  ModelRegistry model;
  std::unordered_set<std::string> given;
  size_t memory_at_first_spill = 0;
  for (const std::string& path : claims) {
    const std::string got = registry.claim(path);
    REQUIRE(got == model.claim(path));
    REQUIRE(again.claim(path) == got);
    REQUIRE(given.insert(got).second);
    if (registry.spilled() && memory_at_first_spill == 0) {
      memory_at_first_spill = registry.memory_bytes();
    }
    REQUIRE(registry.memory_bytes() <= small.memory_budget + 2 * 4096 + NameRegistry::kHintBytes);
  }
  CHECK(registry.spilled());
  CHECK(registry.memory_bytes() == memory_at_first_spill);
}

TEST_CASE("NameSet: fingerprints are found again in memory, on disk, and after it doubles") {
  NameSet::Options small;
  small.memory_budget = 16 * 1024;
  NameSet set(small);
  std::vector<Fingerprint> keys;
  for (uint64_t i = 0; i < 40000; ++i) {
    keys.push_back(set.fingerprint("name" + std::to_string(i), "group" + std::to_string(i / 3)));
  }
  // Fingerprints of one group share a home page: 600 of them overflow it into the pages after.
  for (uint64_t i = 0; i < 600; ++i) keys.push_back(Fingerprint{42, (i << 1) | 1});
  for (const Fingerprint& key : keys) {
    REQUIRE_FALSE(set.contains(key));
    set.insert(key);
    REQUIRE(set.contains(key));
  }
  CHECK(set.spilled());
  CHECK(set.size() == keys.size());
  CHECK(set.memory_bytes() <= small.memory_budget + 2 * 4096);
  for (const Fingerprint& key : keys) REQUIRE(set.contains(key));
  for (uint64_t i = 0; i < 1000; ++i) {
    CHECK_FALSE(set.contains(set.fingerprint("other" + std::to_string(i), "group")));
  }
  CHECK_FALSE(set.contains(Fingerprint{42, (600u << 1) | 1}));
}

TEST_CASE("NameSet: a spill directory that cannot be written is an error naming it") {
  NameSet::Options options;
  options.memory_budget = 16 * 1024;
  options.spill_dir = "/nonexistent/taskpool-test";
  NameSet set(options);
  std::string message;
  try {
    for (uint64_t i = 0; i < 2000; ++i) set.insert(set.fingerprint(std::to_string(i), ""));
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("/nonexistent/taskpool-test") != std::string::npos);
}

TEST_CASE("file names stay one safe component for hostile input") {
  HostileStrings inputs(20240611);
  for (int i = 0; i < 20000; ++i) {
    const std::string input = inputs.next();
    CAPTURE(input);
    const std::string from_url = file_name_for_url(input);
    CAPTURE(from_url);
    CHECK(unsafe_component_reason(from_url) == "");
    const std::string sanitized = sanitize_file_name(input);
    CAPTURE(sanitized);
    CHECK(unsafe_component_reason(sanitized) == "");
  }
}

TEST_CASE("explicit paths stay inside the output directory for hostile input") {
  HostileStrings inputs(7);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string input = inputs.next();
    CAPTURE(input);
    const std::optional<std::string> path = safe_relative_path(input);
    if (!path) continue;
    ++accepted;
    CAPTURE(*path);
    CHECK(unsafe_path_reason(*path) == "");
  }
  CHECK(accepted > 1000);  // the property must not hold only because everything is refused
}

TEST_CASE("long valid UTF-8 names stay valid UTF-8") {
  std::mt19937 random(99);
  const std::vector<std::string> characters = {"a", ".", "\xC3\xA9", "\xE6\x97\xA5",
                                               "\xF0\x9F\x98\x80"};
  for (int i = 0; i < 2000; ++i) {
    std::string name;
    const size_t n = std::uniform_int_distribution<size_t>(150, 600)(random);
    for (size_t k = 0; k < n; ++k) {
      name += characters[std::uniform_int_distribution<size_t>(0, characters.size() - 1)(random)];
    }
    CAPTURE(name);
    const std::string sanitized = sanitize_file_name(name);
    CHECK(is_valid_utf8(sanitized));
    CHECK(sanitized.size() <= kMaxFileName);
    CHECK(sanitized.size() + 3 >= std::min(name.size(), kMaxFileName));  // cut no more than needed
  }
}

}  // namespace
}  // namespace taskpool
