// Input sources and how they combine into records.
#pragma once

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
// With `columns`, every source's value is split into fields, as GNU parallel's --colsep does. The first source is streamed; the others are
// read into memory when the first record is asked for.
class RecordStream {
 public:
  RecordStream(std::vector<std::unique_ptr<ValueSource>> sources,
               std::optional<ColumnSplitter> columns);
  std::optional<Record> next();

 private:
  std::vector<std::unique_ptr<ValueSource>> sources_;
  std::optional<ColumnSplitter> columns_;
  bool loaded_ = false;
  bool empty_product_ = false;
  std::vector<std::vector<std::string>> rest_;  // sources 2..n, in memory
  std::optional<std::string> current_first_;
  std::vector<size_t> index_;                   // position in each of rest_
};

}  // namespace taskpool
