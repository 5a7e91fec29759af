// Input sources and how they combine into records.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/column_splitter.h"
#include "core/job.h"
#include "core/record_reader.h"
#include "core/unique_fd.h"

namespace taskpool {

// A sequence of values (one input source: a ::: list, a file, stdin).
class ValueSource {
 public:
  virtual ~ValueSource() = default;
  virtual std::optional<std::string> next() = 0;
  // The size in bytes of the value next() gave last when it was too long to keep (it gave only
  // its beginning then); 0 when that value was whole.
  virtual uint64_t too_long() const { return 0; }
  // How far through its bytes the values given so far go, from 0 to 1, when the source is a
  // regular file; nothing otherwise. Thread-safe (another thread may ask while one reads).
  virtual std::optional<double> fraction_read() const { return std::nullopt; }
};

class ListSource final : public ValueSource {
 public:
  explicit ListSource(std::vector<std::string> values) : values_(std::move(values)) {}
  std::optional<std::string> next() override;

 private:
  std::vector<std::string> values_;
  size_t pos_ = 0;
};

// Owns the descriptor when `owns_fd` (closes it at destruction). Values longer than `limit` are
// read past (see RecordReader).
class FileSource final : public ValueSource {
 public:
  FileSource(int fd, std::string delimiter, std::string name, bool owns_fd, RecordLimit limit = {});
  FileSource(int fd, char delimiter, std::string name, bool owns_fd, RecordLimit limit = {})
      : FileSource(fd, std::string(1, delimiter), std::move(name), owns_fd, std::move(limit)) {}
  std::optional<std::string> next() override;
  uint64_t too_long() const override { return reader_.too_long(); }
  std::optional<double> fraction_read() const override;

 private:
  UniqueFd owned_;  // the descriptor, when this source is to close it
  size_t delimiter_size_;
  RecordReader reader_;
  uint64_t size_ = 0;               // of a regular file, else 0
  std::atomic<uint64_t> given_{0};  // bytes of the values given, delimiters included
};

// Ends `inner` at the first value equal to `end` (xargs' and GNU parallel's -E): that value and
// everything after it are not read.
class EndAtSource final : public ValueSource {
 public:
  EndAtSource(std::unique_ptr<ValueSource> inner, std::string end)
      : inner_(std::move(inner)), end_(std::move(end)) {}
  std::optional<std::string> next() override;
  uint64_t too_long() const override { return inner_->too_long(); }
  std::optional<double> fraction_read() const override { return inner_->fraction_read(); }

 private:
  std::unique_ptr<ValueSource> inner_;
  std::string end_;
  bool ended_ = false;
};

// Skips the values of `inner` that are empty or blank (Perl's \s: space, \t, \n, \v, \f, \r), as
// GNU parallel's and xargs' -r do.
class SkipBlankSource final : public ValueSource {
 public:
  explicit SkipBlankSource(std::unique_ptr<ValueSource> inner) : inner_(std::move(inner)) {}
  std::optional<std::string> next() override;
  uint64_t too_long() const override { return inner_->too_long(); }

 private:
  std::unique_ptr<ValueSource> inner_;
};

// Opens `path` ("-" is stdin) as a FileSource. Throws Error naming the path when it cannot.
std::unique_ptr<ValueSource> open_file_source(const std::string& path, const std::string& delimiter,
                                              RecordLimit limit = {});
inline std::unique_ptr<ValueSource> open_file_source(const std::string& path, char delimiter,
                                                     RecordLimit limit = {}) {
  return open_file_source(path, std::string(1, delimiter), std::move(limit));
}

// A ::: list whose values are split at `delimiter`, as GNU parallel reads them with -d: each
// value gives the parts between the delimiters ("a,b" at "," gives "a" and "b"; "a," gives "a"
// and "").
class SplitListSource final : public ValueSource {
 public:
  SplitListSource(std::vector<std::string> values, std::string delimiter)
      : values_(std::move(values)), delimiter_(std::move(delimiter)) {}
  std::optional<std::string> next() override;

 private:
  std::vector<std::string> values_;
  std::string delimiter_;
  size_t value_ = 0;  // the value being split
  size_t pos_ = 0;    // where its next part starts
};

// `value` as the fields of a record: split with `columns` when set. A value the pattern gives up
// on makes a record that is refused, with a message naming `what` ("record 3") and --colsep.
Record split_record(std::string value, const std::optional<ColumnSplitter>& columns,
                    const std::string& what);

// Makes records from sources. One source: each value is a record. Several sources: every
// combination, one field per source, the first source varying slowest, as GNU parallel does; a
// source without any value stands for one empty value then, as in GNU parallel (when every
// source is empty, there are no records).
// A source marked in `linked` (:::+) is not combined but paired with the one before it, element
// by element, ending with the shorter. With `columns`, every source's value is split into fields,
// as GNU parallel's --colsep does. With `link_all` (--link), the sources go side by side, the
// shorter ones starting over, until the longest ends (all are read into memory then). The first
// source (with those linked to it) is streamed; the others are read into memory when the first
// record is asked for. A value too long to keep, or
// one the --colsep pattern gives up on, makes every record it is in refused (Record::runnable).
class RecordStream {
 public:
  RecordStream(std::vector<std::unique_ptr<ValueSource>> sources,
               std::optional<ColumnSplitter> columns, std::vector<bool> linked = {},
               bool link_all = false);
  std::optional<Record> next();
  // How far through the input reading is, when it is one file (or stdin) alone and a regular
  // file (ValueSource::fraction_read).
  std::optional<double> fraction_read() const {
    if (sources_.size() != 1) return std::nullopt;
    return sources_.front()->fraction_read();
  }

 private:
  // The next values of the linked sources from `first` to `last` (as fields), or nullopt when
  // one ended. `number` names the row in messages.
  std::optional<Record> next_row(size_t first, size_t last, uint64_t number);
  // Appends `row`'s fields to `record`, and the reason it cannot run, if any.
  static void append(Record& record, const Record& row);
  // Reads the first value of each of several sources: one without any stands for one empty
  // value. False when every source is empty.
  bool stand_in_for_empty_sources();
  // --link: the next row of the sources side by side.
  std::optional<Record> next_linked_all();

  std::vector<std::unique_ptr<ValueSource>> sources_;
  std::optional<ColumnSplitter> columns_;
  std::vector<std::pair<size_t, size_t>> groups_;  // [first, last] of linked sources
  bool link_all_ = false;
  bool started_ = false;
  bool loaded_ = false;
  bool empty_product_ = false;
  std::vector<std::vector<Record>> rest_;  // rows of groups 2..n, in memory
  std::optional<Record> current_first_;
  std::vector<size_t> index_;  // position in each of rest_
  uint64_t rows_ = 0;          // rows read from the first group, for messages
};

// Puts several records into one job (-n, -N, -X, -m): their fields, in order, make the job's
// record. A group ends at `max_records` records, or before the record that would take the
// command line past a limit, as measured by `length` (the line for the first record, then what
// each further record adds): `max_length` bounds its characters, `max_exec_bytes` its characters
// plus the pointer the kernel stores for each word. A record too long on its own still makes a
// group of one, so that job fails alone and the run goes on.
class RecordGrouper {
 public:
  struct Measure {
    // Implicit on purpose: a bare size is chars.
    // cppcheck-suppress noExplicitConstructor
    // NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions)
    Measure(size_t c = 0, size_t w = 0) : chars(c), words(w) {}
    size_t chars;
    size_t words;
  };
  struct Options {
    size_t max_records = 0;     // 0: no limit by count
    size_t max_length = 0;      // on characters; 0: no limit
    size_t max_exec_bytes = 0;  // on characters and word pointers; 0: no limit
    std::function<Measure(const Record&, bool first)> length;
    // When the whole input fits in the first group, spread it over this many jobs instead of
    // one, as GNU parallel does for -X and -m, so small inputs still run in parallel.
    size_t spread_over = 1;
    // -L: a record that ends in a blank (space, tab, \v, \f or \r) goes on with the next one,
    // as one record.
    bool continue_lines = false;
  };
  RecordGrouper(RecordStream& records, Options options)
      : records_(records), options_(std::move(options)) {}
  std::optional<Record> next();

 private:
  std::optional<Record> next_record();

  RecordStream& records_;
  Options options_;
  std::optional<Record> pending_;  // read, but did not fit in the last group
  std::deque<Record> spread_;      // the first group, split up
  bool first_group_ = true;
};

}  // namespace taskpool
