// Input sources and how they combine into records.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/record_reader.h"

namespace taskpool {

// A sequence of values (one input source: a ::: list, a file, stdin).
class ValueSource {
 public:
  virtual ~ValueSource() = default;
  virtual std::optional<std::string> next() = 0;
};

class ListSource final : public ValueSource {
 public:
  explicit ListSource(std::vector<std::string> values) : values_(std::move(values)) {}
  std::optional<std::string> next() override;

 private:
  std::vector<std::string> values_;
  size_t pos_ = 0;
};

// Owns the descriptor when `owns_fd` (closes it at destruction).
class FileSource final : public ValueSource {
 public:
  FileSource(int fd, char delimiter, std::string name, bool owns_fd);
  ~FileSource() override;
  std::optional<std::string> next() override;

 private:
  int fd_;
  bool owns_fd_;
  RecordReader reader_;
};

// Ends `inner` at the first value equal to `end` (xargs' and GNU parallel's -E): that value and
// everything after it are not read.
class EndAtSource final : public ValueSource {
 public:
  EndAtSource(std::unique_ptr<ValueSource> inner, std::string end)
      : inner_(std::move(inner)), end_(std::move(end)) {}
  std::optional<std::string> next() override;

 private:
  std::unique_ptr<ValueSource> inner_;
  std::string end_;
  bool ended_ = false;
};

// Opens `path` ("-" is stdin) as a FileSource. Throws Error naming the path when it cannot.
std::unique_ptr<ValueSource> open_file_source(const std::string& path, char delimiter);

// Splits a value into columns at a regular expression (GNU parallel's --colsep). A pattern
// that is a single literal character (after regex escapes like \t) splits without std::regex.
class ColumnSplitter {
 public:
  // Throws UsageError naming --colsep when the pattern is not a valid regular expression.
  explicit ColumnSplitter(const std::string& pattern);
  std::vector<std::string> split(const std::string& value) const;

 private:
  std::optional<char> single_char_;
  std::regex regex_;
};

// Makes records from sources. One source: each value is a record. Several sources: every
// combination, one field per source, the first source varying slowest, as GNU parallel does.
// A source marked in `linked` (:::+) is not combined but paired with the one before it, element
// by element, ending with the shorter. With `columns`, every source's value is split into fields,
// as GNU parallel's --colsep does. The first source (with those linked to it) is streamed; the
// others are read into memory when the first record is asked for.
class RecordStream {
 public:
  RecordStream(std::vector<std::unique_ptr<ValueSource>> sources,
               std::optional<ColumnSplitter> columns, std::vector<bool> linked = {});
  std::optional<Record> next();

 private:
  using Fields = std::vector<std::string>;
  // The next fields of the linked sources from `first` to `last`, or nullopt when one ended.
  std::optional<Fields> next_row(size_t first, size_t last);

  std::vector<std::unique_ptr<ValueSource>> sources_;
  std::optional<ColumnSplitter> columns_;
  std::vector<std::pair<size_t, size_t>> groups_;  // [first, last] of linked sources
  bool loaded_ = false;
  bool empty_product_ = false;
  std::vector<std::vector<Fields>> rest_;  // rows of groups 2..n, in memory
  std::optional<Fields> current_first_;
  std::vector<size_t> index_;  // position in each of rest_
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
    // -L: a record that ends in a blank (space or tab) goes on with the next one, as one record.
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
