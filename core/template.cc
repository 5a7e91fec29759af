#include "core/template.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "core/shell_quote.h"

namespace taskpool {

namespace {

std::string join(const std::vector<std::string>& words, char separator) {
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) joined += separator;
    joined += words[i];
  }
  return joined;
}

}  // namespace

namespace {

// Parses a replacement string other than the record's at `text[pos]` ('{'). Returns its length,
// or 0 when the braces hold something else (which stays literal text, as in GNU parallel).
template <typename Segment>
size_t parse_replacement(std::string_view text, size_t pos, Segment& segment, bool plus) {
  const size_t close = text.find('}', pos);
  if (close == std::string_view::npos) return 0;
  std::string_view inside = text.substr(pos + 1, close - pos - 1);
  using Kind = typename Segment::Kind;
  if (inside == "#") {
    segment.kind = Kind::kSeq;
    return close - pos + 1;
  }
  if (inside == "%") {
    segment.kind = Kind::kWorker;
    return close - pos + 1;
  }
  // {-N}: field N from the end.
  const bool from_end =
      inside.size() > 1 && inside[0] == '-' && inside[1] >= '0' && inside[1] <= '9';
  if (from_end) inside.remove_prefix(1);
  size_t digits = 0;
  while (digits < inside.size() && inside[digits] >= '0' && inside[digits] <= '9') ++digits;
  size_t field = 0;
  if (digits > 0) {
    if (digits > 9) return 0;
    for (size_t i = 0; i < digits; ++i) field = field * 10 + static_cast<size_t>(inside[i] - '0');
    if (field == 0) return 0;
    inside.remove_prefix(digits);
  }
  std::optional<ValueTransform> transform;
  if (inside.empty() && field > 0) {
    transform.emplace();
  } else {
    transform = parse_transform(inside, plus);
  }
  if (!transform) return 0;
  segment.kind = field > 0 ? Kind::kField : Kind::kRecord;
  segment.field = field;
  segment.from_end = from_end;
  segment.transform = std::move(*transform);
  return close - pos + 1;
}

}  // namespace

std::vector<CommandTemplate::Segment> CommandTemplate::parse(std::string_view text,
                                                             const Options& options,
                                                             bool& has_replacement) {
  const std::string& replace = options.replace;
  std::vector<Segment> segments;
  std::string literal;
  const auto flush_literal = [&] {
    if (literal.empty()) return;
    Segment segment;
    segment.literal = std::move(literal);
    segments.push_back(std::move(segment));
    literal.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    if (!replace.empty() && text.substr(pos, replace.size()) == replace) {
      flush_literal();
      Segment segment;
      segment.kind = Segment::Kind::kRecord;
      segments.push_back(std::move(segment));
      has_replacement = true;
      pos += replace.size();
      continue;
    }
    if (text[pos] == '{') {
      Segment segment;
      if (const size_t length = parse_replacement(text, pos, segment, options.plus); length > 0) {
        flush_literal();
        segments.push_back(std::move(segment));
        has_replacement = true;
        pos += length;
        continue;
      }
    }
    literal += text[pos++];
  }
  flush_literal();
  return segments;
}

CommandTemplate::CommandTemplate(const std::vector<std::string>& words, const Options& options)
    : text_(join(words, ' ')),
      no_record_(options.spread == Spread::kNone),
      quote_words_(options.quote_words) {
  if (words.empty() || (words.size() == 1 && words.front() == options.replace)) {
    record_is_command_ = true;
    return;
  }
  bool has_replacement = false;
  if (options.quote_words) {
    // -q: each word is one shell word, whatever it holds, once its strings are replaced.
    for (const std::string& word : words) {
      if (!segments_.empty()) segments_.push_back(literal_segment(" "));
      Segment quoted;
      quoted.kind = Segment::Kind::kQuoted;
      quoted.parts = parse(word, options, has_replacement);
      segments_.push_back(std::move(quoted));
    }
  } else {
    segments_ = parse(text_, options, has_replacement);
  }
  if (!has_replacement && options.append_record) {
    segments_.push_back(literal_segment(" "));
    Segment segment;
    segment.kind = Segment::Kind::kRecord;
    segments_.push_back(std::move(segment));
  }
  if (options.spread == Spread::kContext) take_context();
}

CommandTemplate::Segment CommandTemplate::literal_segment(std::string_view text) {
  Segment segment;
  segment.literal = std::string(text);
  return segment;
}

CommandTemplate::RecordUse CommandTemplate::record_use() const {
  if (no_record_) return RecordUse::kNone;
  if (record_is_command_) return RecordUse::kWhole;
  RecordUse use = RecordUse::kNone;
  for_each_segment([&](const Segment& segment) {
    if (segment.kind != Segment::Kind::kRecord && segment.kind != Segment::Kind::kField) return;
    const bool whole = segment.transform.kind == ValueTransform::Kind::kNone;
    if (whole && segment.kind == Segment::Kind::kRecord) {
      use = RecordUse::kWhole;
    } else if (use != RecordUse::kWhole) {
      use = std::max(use, whole ? RecordUse::kFields : RecordUse::kParts);
    }
  });
  return use;
}

void CommandTemplate::take_context() {
  // Words are split at blanks, as GNU parallel splits them (inside quotes too).
  constexpr std::string_view kBlanks = " \t\n";
  std::vector<Segment> out;
  std::vector<Segment> word;  // since the last blank
  bool word_has_record = false;
  const auto literal = [](std::string_view text) {
    Segment segment;
    segment.literal = std::string(text);
    return segment;
  };
  const auto end_word = [&] {
    if (word_has_record) {
      Segment context;
      context.kind = Segment::Kind::kContext;
      context.parts = std::move(word);
      out.push_back(std::move(context));
    } else {
      std::move(word.begin(), word.end(), std::back_inserter(out));
    }
    word.clear();
    word_has_record = false;
  };
  for (Segment& segment : segments_) {
    if (segment.kind != Segment::Kind::kLiteral) {
      word_has_record = word_has_record || segment.kind == Segment::Kind::kRecord;
      word.push_back(std::move(segment));
      continue;
    }
    std::string_view text = segment.literal;
    for (size_t blank; (blank = text.find_first_of(kBlanks)) != std::string_view::npos;) {
      if (blank > 0) word.push_back(literal(text.substr(0, blank)));
      end_word();
      const size_t next = std::min(text.find_first_not_of(kBlanks, blank), text.size());
      out.push_back(literal(text.substr(blank, next - blank)));
      text.remove_prefix(next);
    }
    if (!text.empty()) word.push_back(literal(text));
  }
  end_word();
  segments_ = std::move(out);
}

namespace {

// The field a kField segment stands for in `fields`, or null when the record has none there.
template <typename Segment>
const std::string* field_of(const Segment& segment, const std::vector<std::string>& fields) {
  const auto n = static_cast<long long>(fields.size());
  const auto k = static_cast<long long>(segment.field);
  if (!segment.from_end) return k >= 1 && k <= n ? &fields[k - 1] : nullptr;
  // As GNU parallel indexes a Perl array with n - k: below the first field it counts from the
  // end once more ({-3} of two fields is the last), then there is none.
  long long index = n - k;
  if (index < 0) index += n;
  return index >= 0 && index < n ? &fields[static_cast<size_t>(index)] : nullptr;
}

// The value as the transform makes it, shell-quoted unless `quote` is false (-q's words and
// --tagstring, which are quoted whole or not at all).
std::string transformed(const ValueTransform& transform, const std::string& value,
                        bool quote = true) {
  std::string out = transform.apply(value);
  return quote ? shell_quote(out) : out;
}

}  // namespace

bool CommandTemplate::uses_worker() const {
  bool uses = false;
  for_each_segment([&](const Segment& s) { uses = uses || s.kind == Segment::Kind::kWorker; });
  return uses;
}

Command CommandTemplate::expand(const Job& job, WorkerId worker) const {
  if (record_is_command_) {
    const std::string record = no_record_ ? "" : join(job.record.fields, ' ');
    return make_command(quote_words_ ? shell_quote(record) : record);
  }
  std::string line;
  for (const auto& segment : segments_) expand_segment(segment, job, worker, line, true);
  return make_command(std::move(line));
}

std::string CommandTemplate::expand_text(const Job& job, WorkerId worker) const {
  if (record_is_command_) return no_record_ ? "" : join(job.record.fields, ' ');
  std::string text;
  for (const auto& segment : segments_) expand_segment(segment, job, worker, text, false);
  return text;
}

void CommandTemplate::expand_segment(const Segment& segment, const Job& job, WorkerId worker,
                                     std::string& line, bool quote) const {
  const auto& fields = job.record.fields;
  switch (segment.kind) {
    case Segment::Kind::kQuoted: {
      std::string word;
      for (const Segment& part : segment.parts) expand_part(part, job, worker, word, false);
      line += quote ? shell_quote(word) : word;
      break;
    }
    case Segment::Kind::kContext:
      // The word once per record, each of its record strings standing for that record.
      for (size_t i = 0; i < std::max<size_t>(fields.size(), 1); ++i) {
        if (i > 0) line += ' ';
        for (const Segment& part : segment.parts) {
          if (part.kind != Segment::Kind::kRecord) {
            expand_part(part, job, worker, line, quote);
          } else if (fields.empty()) {
            line += quote ? "''" : "";
          } else {
            line += transformed(part.transform, fields[i], quote);
          }
        }
      }
      break;
    default:
      expand_part(segment, job, worker, line, quote);
      break;
  }
}

void CommandTemplate::expand_part(const Segment& part, const Job& job, WorkerId worker,
                                  std::string& line, bool quote) const {
  const auto& fields = job.record.fields;
  switch (part.kind) {
    case Segment::Kind::kLiteral:
      line += part.literal;
      break;
    case Segment::Kind::kRecord:
      if (no_record_) break;
      if (fields.empty() && quote) line += "''";
      // A record's host is its first field's: the URL (--fetch's other fields are its file).
      if (part.transform.kind == ValueTransform::Kind::kHost && !fields.empty()) {
        line += transformed(part.transform, fields[0], quote);
        break;
      }
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) line += ' ';
        line += transformed(part.transform, fields[i], quote);
      }
      break;
    case Segment::Kind::kField:
      // A field the record does not have is nothing at all, as in GNU parallel (an empty
      // field that exists is '').
      if (const std::string* field = field_of(part, fields); !no_record_ && field != nullptr) {
        line += transformed(part.transform, *field, quote);
      }
      break;
    case Segment::Kind::kSeq:
      line += std::to_string(job.seq);
      break;
    case Segment::Kind::kWorker:
      line += std::to_string(worker);
      break;
    case Segment::Kind::kContext:
    case Segment::Kind::kQuoted:
      break;  // never a part: words do not nest
  }
}

namespace {

// At most how long one part of a -X word is for `field` of `record`: {#} and {%} are counted at
// their widest, {N} as the record's own field N.
template <typename Segment>
size_t part_length(const Segment& part, const Record& record, const std::string& field) {
  using Kind = typename Segment::Kind;
  switch (part.kind) {
    case Kind::kLiteral:
      return part.literal.size();
    case Kind::kRecord:
      return transformed(part.transform, field).size();
    case Kind::kField: {
      const std::string* value = field_of(part, record.fields);
      return value == nullptr ? 0 : transformed(part.transform, *value).size();
    }
    case Kind::kSeq:
      return 20;  // digits of the largest uint64_t
    case Kind::kWorker:
      return 11;  // digits of the largest int, and a sign
    case Kind::kContext:
    case Kind::kQuoted:
      return 0;  // never a part: words do not nest
  }
  return 0;
}

}  // namespace

size_t CommandTemplate::added_length(const Record& record) const {
  if (record_is_command_) {
    size_t length = 0;
    for (const auto& field : record.fields) length += field.size() + 1;
    return length;
  }
  size_t length = 0;
  for (const auto& segment : segments_) {
    if (segment.kind == Segment::Kind::kRecord) {
      for (const auto& field : record.fields) {
        length += 1 + transformed(segment.transform, field).size();
      }
    }
    if (segment.kind != Segment::Kind::kContext) continue;
    for (const auto& field : record.fields) {
      length += 1;
      for (const Segment& part : segment.parts) length += part_length(part, record, field);
    }
  }
  return length;
}

size_t CommandTemplate::added_words(const Record& record) const {
  if (record_is_command_) return record.fields.size();
  size_t segments = 0;
  for (const auto& segment : segments_) {
    if (segment.kind == Segment::Kind::kRecord || segment.kind == Segment::Kind::kContext) {
      ++segments;
    }
  }
  return segments * record.fields.size();
}

}  // namespace taskpool
