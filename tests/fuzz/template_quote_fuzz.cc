// Fuzzes shell quoting (core/shell_quote.h) and the command template (core/template.h).
//
// A small reader of POSIX-sh words, below, knows only what shell_quote and these templates write
// (blanks between words, shell-safe bytes, '...' spans and "..." spans without $ ` \), so the
// properties are checked in-process, thousands of times a second; tests/core/shell_quote_test.cc
// checks the same quoting against a real /bin/sh.
//
// NUL bytes: shell_quote passes a NUL through inside the single quotes, and the reader below
// gives it back, so quoting itself is byte-transparent and these properties hold with NULs. A
// process cannot receive one, though: exec's strings end at the first NUL, so a record holding
// a NUL (possible with the '\n' delimiter, not with -0) is cut there when its command runs
// without a shell (`echo a<NUL>b` prints "a"), and makes `sh -c` see an unterminated quote when
// it runs with one. GNU parallel replaces the NUL with the two bytes "\0" and warns.
//
// Input (FuzzedDataProvider): a mode, then what the mode needs:
//   0  shell_quote round trips: one word, byte for byte, also side by side with another word
//   1  `echo {}` on a record of 0..4 fields: the words after echo are the fields (the last word
//      is the last field), and argv, when set, is those words
//   2  a template made of safe literals and replacement strings ({} {.} {/} {//} {/.} {#} {%}
//      {N} {N.} ..., -I strings, -X context): the words of the line are what GNU parallel's
//      rules give, argv matches them, and added_length/added_words predict the line's growth
//   3  arbitrary words, -I string and fields: expansion does not crash, text() is the words
//      joined, and the transforms keep their contracts
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job.h"
#include "core/shell_quote.h"
#include "core/template.h"
#include "tests/fuzz/fuzz_check.h"

namespace taskpool {
namespace {

using fuzz::escaped;
using Words = std::vector<std::string>;

std::string show(const Words& words) {
  std::string out = "[";
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + escaped(words[i]) + "\"";
  }
  return out + "]";
}

// Written here rather than taken from is_shell_safe, so the two can disagree.
bool bare_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == '+';
}

// The words /bin/sh makes of `line`, for lines of the shape described at the top. Nullopt for
// anything else: a byte the shell would read as syntax, an unterminated quote.
std::optional<Words> sh_words(std::string_view line) {
  Words words;
  std::string word;
  bool in_word = false;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ' ') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
    } else if (c == '\'') {
      const size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      word.append(line.substr(i + 1, close - i - 1));
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      const size_t close = line.find('"', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      const std::string_view inside = line.substr(i + 1, close - i - 1);
      if (inside.find_first_of("$`\\") != std::string_view::npos) return std::nullopt;
      word.append(inside);
      in_word = true;
      i = close + 1;
    } else if (bare_ok(c)) {
      word += c;
      in_word = true;
      ++i;
    } else {
      return std::nullopt;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string join(const Words& words) {
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) joined += ' ';
    joined += words[i];
  }
  return joined;
}

Job job_of(Words fields, uint64_t seq) {
  Job job;
  job.seq = seq;
  job.record.fields = std::move(fields);
  return job;
}

Words take_fields(FuzzedDataProvider& in, size_t min, size_t max) {
  Words fields(in.ConsumeIntegralInRange<size_t>(min, max));
  for (auto& field : fields) field = in.ConsumeRandomLengthString(64);
  return fields;
}

void check_quote(const std::string& s, const std::string& other) {
  const std::string quoted = shell_quote(s);
  const auto words = sh_words(quoted);
  FUZZ_CHECK(words && words->size() == 1 && words->front() == s,
             "s: " + escaped(s) + "\n  quoted: " + escaped(quoted));
  FUZZ_CHECK(is_shell_safe(s) == (quoted == s), "quoted: " + escaped(quoted));
  // Side by side, two quoted words are one word holding both; with a blank, two words.
  const std::string other_quoted = shell_quote(other);
  const auto glued = sh_words(quoted + other_quoted);
  FUZZ_CHECK(glued && glued->size() == 1 && glued->front() == s + other,
             escaped(quoted + other_quoted));
  const auto apart = sh_words(quoted + " " + other_quoted);
  FUZZ_CHECK(apart && *apart == (Words{s, other}), escaped(quoted + " " + other_quoted));
}

void check_echo(FuzzedDataProvider& in) {
  const Words fields = take_fields(in, 0, 4);
  const CommandTemplate command({"echo", "{}"});
  const Command c = command.expand(job_of(fields, 1), 1);
  Words expected = {"echo"};
  expected.insert(expected.end(), fields.begin(), fields.end());
  if (fields.empty()) expected.push_back("");  // '' for a record without fields
  const auto words = sh_words(c.line);
  FUZZ_CHECK(words && *words == expected, "line: " + escaped(c.line));
  FUZZ_CHECK(words->back() == expected.back(), "the last word is the record's last field");
  if (!c.argv.empty()) FUZZ_CHECK(c.argv == expected, "argv: " + show(c.argv));
  // echo runs without a shell unless dash's echo could differ: an option, a backslash.
  bool needs_shell = !fields.empty() && !fields.front().empty() && fields.front()[0] == '-';
  for (const auto& field : fields) needs_shell |= field.find('\\') != std::string::npos;
  FUZZ_CHECK(c.argv.empty() == needs_shell, "line: " + escaped(c.line));
}

// A part of a template word in mode 2: literal text or one replacement string.
struct Part {
  enum class Kind { kLiteral, kRecord, kField, kSeq, kWorker };
  Kind kind = Kind::kLiteral;
  int transform = 0;  // none, {.}, {/}, {//}, {/.}
  size_t field = 0;
  std::string text;  // as written in the template
};

constexpr const char* kTransforms[] = {"", ".", "/", "//", "/."};

std::string transformed(int transform, const std::string& value) {
  switch (transform) {
    case 1:
      return remove_extension(value);
    case 2:
      return base_name(value);
    case 3:
      return dir_name(value);
    case 4:
      return remove_extension(base_name(value));
    default:
      return value;
  }
}

Part take_part(FuzzedDataProvider& in, const std::string& replace) {
  Part part;
  part.kind = static_cast<Part::Kind>(in.ConsumeIntegralInRange(0, 4));
  switch (part.kind) {
    case Part::Kind::kLiteral: {
      // Lowercase, digits and _-./+ : shell-safe, and never part of a replacement string.
      constexpr std::string_view kSafe = "abcxyz019_-./+";
      const size_t length = in.ConsumeIntegralInRange<size_t>(1, 4);
      for (size_t i = 0; i < length; ++i) {
        part.text += kSafe[in.ConsumeIntegralInRange<size_t>(0, kSafe.size() - 1)];
      }
      break;
    }
    case Part::Kind::kRecord:
      part.transform = in.ConsumeIntegralInRange(0, 4);
      part.text =
          part.transform == 0 ? replace : "{" + std::string(kTransforms[part.transform]) + "}";
      break;
    case Part::Kind::kField:
      part.transform = in.ConsumeIntegralInRange(0, 4);
      part.field = in.ConsumeIntegralInRange<size_t>(1, 12);
      part.text = "{" + std::to_string(part.field) + kTransforms[part.transform] + "}";
      break;
    case Part::Kind::kSeq:
      part.text = "{#}";
      break;
    case Part::Kind::kWorker:
      part.text = "{%}";
      break;
  }
  return part;
}

using TemplateWord = std::vector<Part>;

// The words GNU parallel's rules make of `words` for `fields`: a record string is one word per
// field (splitting the template word around it, or with -X repeating that word for each field),
// or '' without fields; {N} is nothing when there is no field N.
Words expected_words(const std::vector<TemplateWord>& words, const Words& fields, bool context,
                     uint64_t seq, WorkerId worker) {
  Words out;
  for (const TemplateWord& word : words) {
    const auto record = std::find_if(word.begin(), word.end(),
                                     [](const Part& p) { return p.kind == Part::Kind::kRecord; });
    if (context && record != word.end() && !fields.empty()) {
      // REQUIRES (take_template): the other parts are literals.
      for (const auto& field : fields) {
        std::string repeated;
        for (const Part& part : word) {
          repeated += &part == &*record ? transformed(part.transform, field) : part.text;
        }
        out.push_back(repeated);
      }
      continue;
    }
    std::string current;
    bool exists = false;
    for (const Part& part : word) {
      switch (part.kind) {
        case Part::Kind::kLiteral:
          current += part.text;
          exists = true;
          break;
        case Part::Kind::kRecord:
          exists = true;
          for (size_t i = 0; i < fields.size(); ++i) {
            if (i > 0) out.push_back(std::exchange(current, std::string()));
            current += transformed(part.transform, fields[i]);
          }
          break;
        case Part::Kind::kField:
          if (part.field <= fields.size()) {
            current += transformed(part.transform, fields[part.field - 1]);
            exists = true;
          }
          break;
        case Part::Kind::kSeq:
          current += std::to_string(seq);
          exists = true;
          break;
        case Part::Kind::kWorker:
          current += std::to_string(worker);
          exists = true;
          break;
      }
    }
    if (exists) out.push_back(current);
  }
  return out;
}

void check_template(FuzzedDataProvider& in) {
  constexpr const char* kReplace[] = {"{}", "XX", "{in}"};
  const std::string replace = kReplace[in.ConsumeIntegralInRange(0, 2)];
  const bool context = in.ConsumeBool();
  constexpr const char* kPrograms[] = {"echo", "cmd", "true", "printf"};
  std::vector<TemplateWord> words = {
      {Part{Part::Kind::kLiteral, 0, 0, kPrograms[in.ConsumeIntegralInRange(0, 3)]}}};
  const size_t word_count = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t w = 0; w < word_count; ++w) {
    TemplateWord word;
    const size_t parts = in.ConsumeIntegralInRange<size_t>(1, 3);
    for (size_t p = 0; p < parts; ++p) word.push_back(take_part(in, replace));
    // With -X a word holding the record string is repeated whole only around literal text: a
    // word with another replacement string beside it is cut at that string (a known difference
    // from GNU parallel, which repeats the whole word), so such words are not generated.
    if (context) {
      const bool has_record = std::any_of(
          word.begin(), word.end(), [](const Part& p) { return p.kind == Part::Kind::kRecord; });
      if (has_record) {
        bool seen = false;
        for (Part& part : word) {
          if (part.kind == Part::Kind::kLiteral) continue;
          if (part.kind == Part::Kind::kRecord && !seen) {
            seen = true;
            continue;
          }
          part = Part{Part::Kind::kLiteral, 0, 0, "q"};
        }
      }
    }
    words.push_back(std::move(word));
  }
  Words written;
  bool has_replacement = false;
  for (const TemplateWord& word : words) {
    std::string text;
    for (const Part& part : word) {
      text += part.text;
      has_replacement |= part.kind != Part::Kind::kLiteral;
    }
    written.push_back(text);
  }
  std::vector<TemplateWord> meant = words;
  if (!has_replacement) {
    meant.push_back({Part{Part::Kind::kRecord, 0, 0, replace}});  // " {}" is appended
  }

  const Words fields = take_fields(in, 0, 4);
  const Words more = take_fields(in, 1, 3);
  const auto seq = in.ConsumeIntegralInRange<uint64_t>(1, 1'000'000'000'000);
  const auto worker = in.ConsumeIntegralInRange<WorkerId>(1, 64);

  const CommandTemplate command(written, replace, context);
  FUZZ_CHECK(!command.record_is_command(), join(written));
  FUZZ_CHECK(command.text() == join(written), command.text());
  const Command c = command.expand(job_of(fields, seq), worker);
  const Words expected = expected_words(meant, fields, context, seq, worker);
  const auto got = sh_words(c.line);
  FUZZ_CHECK(got && *got == expected, "template: " + escaped(join(written)) + "\n  line: " +
                                          escaped(c.line) + "\n  expected: " + show(expected));
  if (!c.argv.empty()) FUZZ_CHECK(c.argv == expected, "argv: " + show(c.argv));

  // What -X, -m and -n rely on to fill a command line: adding `more` to a job that has fields
  // makes the line added_length longer and adds added_words words. ({N} must not change with
  // the count: a field N between the two counts would appear.)
  if (fields.empty()) return;
  for (const TemplateWord& word : words) {
    for (const Part& part : word) {
      if (part.kind == Part::Kind::kField && part.field > fields.size() &&
          part.field <= fields.size() + more.size()) {
        return;
      }
    }
  }
  Words all = fields;
  all.insert(all.end(), more.begin(), more.end());
  const Command longer = command.expand(job_of(all, seq), worker);
  Record added;
  added.fields = more;
  FUZZ_CHECK(longer.line.size() == c.line.size() + command.added_length(added),
             "template: " + escaped(join(written)) + "\n  line: " + escaped(c.line) +
                 "\n  longer: " + escaped(longer.line) +
                 "\n  added_length: " + std::to_string(command.added_length(added)));
  const auto longer_words = sh_words(longer.line);
  FUZZ_CHECK(longer_words && longer_words->size() == got->size() + command.added_words(added),
             "template: " + escaped(join(written)) + "\n  longer: " + escaped(longer.line));
}

void check_transforms(const std::string& s) {
  // remove_extension: s:\.[^/.]*$:: takes a suffix of one dot and no slash.
  const std::string no_extension = remove_extension(s);
  FUZZ_CHECK(s.starts_with(no_extension), escaped(s));
  const std::string_view removed = std::string_view(s).substr(no_extension.size());
  FUZZ_CHECK(removed.empty() || (removed[0] == '.' && removed.find('/') == std::string_view::npos &&
                                 removed.find('.', 1) == std::string_view::npos),
             escaped(s));
  // base_name: s:.*/:: is the part after the last slash.
  const std::string base = base_name(s);
  FUZZ_CHECK(s.ends_with(base) && base.find('/') == std::string::npos, escaped(s));
  // dir_name: "." or a prefix of s, without trailing slashes unless it is one slash.
  const std::string dir = dir_name(s);
  FUZZ_CHECK(!dir.empty() && (dir == "." || s.starts_with(dir)),
             escaped(s) + " -> " + escaped(dir));
  FUZZ_CHECK(dir.size() == 1 || dir.back() != '/', escaped(s) + " -> " + escaped(dir));
}

void check_any_template(FuzzedDataProvider& in) {
  const Words words = take_fields(in, 0, 4);
  const std::string replace = in.ConsumeRandomLengthString(8);
  const bool context = in.ConsumeBool();
  const Words fields = take_fields(in, 0, 4);
  const CommandTemplate command(words, replace, context);
  FUZZ_CHECK(command.text() == join(words), escaped(command.text()));
  const Command c = command.expand(job_of(fields, in.ConsumeIntegral<uint64_t>()),
                                   in.ConsumeIntegral<WorkerId>());
  if (command.record_is_command()) FUZZ_CHECK(c.line == join(fields), escaped(c.line));
  Record record;
  record.fields = fields;
  (void)command.added_length(record);
  (void)command.added_words(record);
  for (const auto& field : fields) check_transforms(field);
  for (const auto& word : words) check_transforms(word);
}

}  // namespace
}  // namespace taskpool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskpool;
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {
      const std::string s = in.ConsumeRandomLengthString(256);
      check_quote(s, in.ConsumeRandomLengthString(16));
      break;
    }
    case 1:
      check_echo(in);
      break;
    case 2:
      check_template(in);
      break;
    default:
      check_any_template(in);
      break;
  }
  return 0;
}
