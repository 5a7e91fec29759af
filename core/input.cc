#include "core/input.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "core/error.h"

namespace taskpool {

std::optional<std::string> ListSource::next() {
  if (pos_ >= values_.size()) return std::nullopt;
  return std::move(values_[pos_++]);
}

FileSource::FileSource(int fd, char delimiter, std::string name, bool owns_fd)
    : fd_(fd), owns_fd_(owns_fd), reader_(fd, delimiter, std::move(name)) {}

FileSource::~FileSource() {
  if (owns_fd_) close(fd_);
}

std::optional<std::string> FileSource::next() { return reader_.next(); }

std::unique_ptr<ValueSource> open_file_source(const std::string& path, char delimiter) {
  if (path == "-") return std::make_unique<FileSource>(STDIN_FILENO, delimiter, "stdin", false);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("cannot open input file '" + path + "'");
  return std::make_unique<FileSource>(fd, delimiter, "'" + path + "'", true);
}

namespace {

// The pattern as one literal character, when it is one: "x", "\t", "\\|", ",".
std::optional<char> single_character(const std::string& pattern) {
  constexpr std::string_view kSpecial = ".[]{}()*+?^$|\\";
  if (pattern.size() == 1 && kSpecial.find(pattern[0]) == std::string_view::npos) {
    return pattern[0];
  }
  if (pattern.size() == 2 && pattern[0] == '\\') {
    switch (pattern[1]) {
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case 'f': return '\f';
      case 'v': return '\v';
      case '0': return '\0';
      default:
        if (kSpecial.find(pattern[1]) != std::string_view::npos || pattern[1] == '/' ||
            pattern[1] == ',' || pattern[1] == ' ' || pattern[1] == ':' || pattern[1] == ';') {
          return pattern[1];
        }
    }
  }
  return std::nullopt;
}

}  // namespace

ColumnSplitter::ColumnSplitter(const std::string& pattern) : single_char_(single_character(pattern)) {
  if (single_char_) return;
  try {
    // ECMAScript understands \t, \s, \d and friends, as Perl (GNU parallel's language) does.
    regex_ = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    throw UsageError("--colsep: '" + pattern + "' is not a valid regular expression (" + e.what() +
                     ")");
  }
}

std::vector<std::string> ColumnSplitter::split(const std::string& value) const {
  std::vector<std::string> columns;
  if (single_char_) {
    size_t start = 0;
    for (;;) {
      const size_t at = value.find(*single_char_, start);
      if (at == std::string::npos) break;
      columns.push_back(value.substr(start, at - start));
      start = at + 1;
    }
    columns.push_back(value.substr(start));
    return columns;
  }
  // Perl's split, which GNU parallel uses: an empty match splits between two characters, but
  // never where the previous match ended (so never at the very start).
  size_t start = 0;
  size_t previous_end = 0;
  auto it = std::sregex_iterator(value.begin(), value.end(), regex_);
  for (; it != std::sregex_iterator(); ++it) {
    const auto& match = *it;
    const auto at = static_cast<size_t>(match.position(0));
    const auto length = static_cast<size_t>(match.length(0));
    if (length == 0 && at == previous_end) continue;
    columns.push_back(value.substr(start, at - start));
    start = at + length;
    previous_end = start;
  }
  columns.push_back(value.substr(start));
  return columns;
}

RecordStream::RecordStream(std::vector<std::unique_ptr<ValueSource>> sources,
                           std::optional<ColumnSplitter> columns)
    : sources_(std::move(sources)), columns_(std::move(columns)) {}

std::optional<Record> RecordStream::next() {
  if (sources_.empty()) return std::nullopt;
  if (sources_.size() == 1) {
    auto value = sources_.front()->next();
    if (!value) return std::nullopt;
    Record record;
    if (columns_) {
      record.fields = columns_->split(*value);
    } else {
      record.fields.push_back(std::move(*value));
    }
    return record;
  }
  if (!loaded_) {
    loaded_ = true;
    for (size_t i = 1; i < sources_.size(); ++i) {
      auto& values = rest_.emplace_back();
      while (auto value = sources_[i]->next()) values.push_back(std::move(*value));
      if (values.empty()) empty_product_ = true;
    }
    index_.assign(rest_.size(), 0);
  }
  if (empty_product_) return std::nullopt;
  if (!current_first_) {
    current_first_ = sources_.front()->next();
    if (!current_first_) return std::nullopt;
  }
  Record record;
  record.fields.reserve(sources_.size());
  const auto add = [&](const std::string& value) {
    if (!columns_) {
      record.fields.push_back(value);
      return;
    }
    // As in GNU parallel, --colsep splits the value of every source into columns.
    for (auto& column : columns_->split(value)) record.fields.push_back(std::move(column));
  };
  add(*current_first_);
  for (size_t i = 0; i < rest_.size(); ++i) add(rest_[i][index_[i]]);
  // Advance like an odometer: the last source varies fastest.
  size_t i = rest_.size();
  while (i > 0) {
    --i;
    if (++index_[i] < rest_[i].size()) return record;
    index_[i] = 0;
  }
  current_first_.reset();
  return record;
}

}  // namespace taskpool
