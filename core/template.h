// The command template: command words with replacement strings, expanded once per attempt.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/command.h"
#include "core/job.h"
#include "core/value_transform.h"

namespace taskpool {

// Replacement strings, with GNU parallel's meaning:
//   {}    the record (all fields, one shell word each)
//   {.}   without extension        {/}   basename        {//}  dirname (Perl's dirname)
//   {/.}  basename without extension
//   {host} the host of the record (its first field) as a URL (url_host); not GNU parallel's
//   {#}   the job's sequence number  {%}   the worker number
//   {N}   field N (a ::: list or a --colsep column), also {N.} {N/} {N//} {N/.}; nothing
//         when the record has fewer fields; {-N} field N from the end ({-1} the last)
// With --plus (Options::plus), also {..} {...} {/..} {/...} {+/} {+.} {+..} {+...} {:-STR}
// {:N} {:N:M}, and each after a field number (see ValueTransform).
// Every substituted value is shell-quoted. A template without any replacement string gets
// " {}" appended. With no command words, or words that are exactly "{}", the record itself is
// the command line (not quoted).
//
// Thread-compatible: const methods may be called concurrently.
class CommandTemplate {
 public:
  // How a job's fields go into a word that holds the record string.
  enum class Spread {
    kInPlace,  // the fields, one word each, in its place: `pre{}post` gives `pre1 2post`
    kContext,  // -X, -N, -L: the whole word once per field: `pre1post pre2post`
    kNone,     // -N 0: the record gives no argument: `{}` and `{N}` are nothing, `prepost`
  };

  struct Options {
    std::string replace = "{}";  // the string that stands for the record (-I changes it)
    Spread spread = Spread::kInPlace;
    // -q: each word is one shell word (quoted whole once its strings are replaced), not shell
    // syntax; with no command, the record is one word too.
    bool quote_words = false;
    bool append_record = true;  // a template without replacement strings gets " {}"
    bool plus = false;          // --plus: its replacement strings too
  };

  // `words` are joined with single spaces into one command line, as GNU parallel does.
  CommandTemplate(const std::vector<std::string>& words, const Options& options);
  explicit CommandTemplate(const std::vector<std::string>& words, const std::string& replace = "{}",
                           Spread spread = Spread::kInPlace)
      : CommandTemplate(words, Options{replace, spread}) {}
  // `context`: Spread::kContext, else kInPlace.
  CommandTemplate(const std::vector<std::string>& words, const std::string& replace, bool context)
      : CommandTemplate(words, replace, context ? Spread::kContext : Spread::kInPlace) {}

  bool record_is_command() const { return record_is_command_; }
  // Whether the command holds {%}, the worker number: then one job's command differs from one
  // run to the next.
  bool uses_worker() const;

  // How much of a record the command line shows (which bounds the longest record that can run).
  enum class RecordUse {
    kNone,    // none of it: {#} or {%} alone
    kParts,   // only transformed: {.} {/} {//} {/.}, of the record or of a field
    kFields,  // some fields whole ({N}), not the record
    kWhole,   // all of it: {}, an appended record, or a record that is the command line
  };
  RecordUse record_use() const;
  // The template as the user wrote it (joined words), for messages.
  const std::string& text() const { return text_; }

  // The command for `job` on `worker`: the shell line, and argv when no shell is needed.
  Command expand(const Job& job, WorkerId worker) const;
  // The template with its strings replaced by the values as they are, not quoted
  // (--tagstring).
  std::string expand_text(const Job& job, WorkerId worker) const;

  // How much longer the command line gets when `record`'s fields are added to a job that already
  // has fields (-X, -m, -n filling a command line), counting one byte for each argument's
  // terminating NUL.
  size_t added_length(const Record& record) const;
  // How many more words (arguments) `record`'s fields add to such a job.
  size_t added_words(const Record& record) const;

 private:
  // Its parts are segments that have no parts: copying one copies two levels at most.
  struct Segment {  // NOLINT(misc-no-recursion)
    // kContext (-X, -N, -L): a word (between blanks) that holds the record, repeated whole for
    // each of the job's records, every record string in it standing for that one record.
    // kQuoted (-q): a word whose parts, expanded as they are, make one shell-quoted word.
    enum class Kind { kLiteral, kRecord, kField, kSeq, kWorker, kContext, kQuoted };
    Kind kind = Kind::kLiteral;
    ValueTransform transform;
    size_t field = 0;       // 1-based, for kField
    bool from_end = false;  // kField: counted from the last field ({-1})
    std::string literal;
    std::vector<Segment> parts;  // kContext, kQuoted: the word's segments
  };

  // The segments of `text`: literal text and replacement strings (setting `has_replacement`).
  static std::vector<Segment> parse(std::string_view text, const Options& options,
                                    bool& has_replacement);
  static Segment literal_segment(std::string_view text);

  void take_context();
  // Calls `f` with every segment, those inside -X words too.
  template <typename F>
  void for_each_segment(F f) const {
    for (const Segment& segment : segments_) {
      f(segment);
      for (const Segment& part : segment.parts) f(part);
    }
  }
  // The parts of a kContext word for one record (or the plain segment when `segment` is not one).
  void expand_segment(const Segment& segment, const Job& job, WorkerId worker, std::string& line,
                      bool quote) const;
  // One part of a word, or a segment that is no word (not kContext, kQuoted).
  void expand_part(const Segment& part, const Job& job, WorkerId worker, std::string& line,
                   bool quote) const;

  std::string text_;
  std::vector<Segment> segments_;
  bool record_is_command_ = false;
  bool no_record_ = false;  // Spread::kNone
  bool quote_words_ = false;
};

}  // namespace taskpool
