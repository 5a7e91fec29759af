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
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return '\0';
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

ColumnSplitter::ColumnSplitter(const std::string& pattern)
    : single_char_(single_character(pattern)) {
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
                           std::optional<ColumnSplitter> columns, std::vector<bool> linked)
    : sources_(std::move(sources)), columns_(std::move(columns)) {
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (i > 0 && i < linked.size() && linked[i]) {
      groups_.back().second = i;
    } else {
      groups_.emplace_back(i, i);
    }
  }
}

std::optional<RecordStream::Fields> RecordStream::next_row(size_t first, size_t last) {
  Fields fields;
  for (size_t i = first; i <= last; ++i) {
    auto value = sources_[i]->next();
    if (!value) return std::nullopt;
    if (!columns_) {
      fields.push_back(std::move(*value));
      continue;
    }
    for (auto& column : columns_->split(*value)) fields.push_back(std::move(column));
  }
  return fields;
}

std::optional<Record> RecordStream::next() {
  if (groups_.empty()) return std::nullopt;
  if (groups_.size() == 1) {
    auto fields = next_row(groups_[0].first, groups_[0].second);
    if (!fields) return std::nullopt;
    return Record{std::move(*fields)};
  }
  if (!loaded_) {
    loaded_ = true;
    for (size_t g = 1; g < groups_.size(); ++g) {
      auto& rows = rest_.emplace_back();
      while (auto row = next_row(groups_[g].first, groups_[g].second)) {
        rows.push_back(std::move(*row));
      }
      if (rows.empty()) empty_product_ = true;
    }
    index_.assign(rest_.size(), 0);
  }
  if (empty_product_) return std::nullopt;
  if (!current_first_) {
    current_first_ = next_row(groups_[0].first, groups_[0].second);
    if (!current_first_) return std::nullopt;
  }
  Record record;
  record.fields = *current_first_;
  for (size_t i = 0; i < rest_.size(); ++i) {
    const Fields& row = rest_[i][index_[i]];
    record.fields.insert(record.fields.end(), row.begin(), row.end());
  }
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

std::optional<std::string> EndAtSource::next() {
  if (ended_) return std::nullopt;
  auto value = inner_->next();
  if (value && *value == end_) ended_ = true;
  if (ended_) return std::nullopt;
  return value;
}

std::optional<Record> RecordGrouper::next_record() {
  std::optional<Record> record = records_.next();
  if (!options_.continue_lines) return record;
  const auto ends_in_blank = [](const Record& r) {
    return !r.fields.empty() && !r.fields.back().empty() &&
           (r.fields.back().back() == ' ' || r.fields.back().back() == '\t');
  };
  while (record && ends_in_blank(*record)) {
    std::optional<Record> more = records_.next();
    if (!more || more->fields.empty()) break;
    record->fields.back() += more->fields.front();
    for (size_t i = 1; i < more->fields.size(); ++i) {
      record->fields.push_back(std::move(more->fields[i]));
    }
  }
  return record;
}

std::optional<Record> RecordGrouper::next() {
  if (!spread_.empty()) {
    Record group = std::move(spread_.front());
    spread_.pop_front();
    return group;
  }
  Record group;
  size_t count = 0;
  size_t chars = 0;
  size_t exec_bytes = 0;
  std::vector<size_t> sizes;  // fields per record, for spreading the first group
  bool input_ended = false;
  while (options_.max_records == 0 || count < options_.max_records) {
    std::optional<Record> record = std::move(pending_);
    pending_.reset();
    if (!record) record = next_record();
    if (!record) {
      input_ended = true;
      break;
    }
    if (options_.length && (options_.max_length > 0 || options_.max_exec_bytes > 0)) {
      const Measure added = options_.length(*record, count == 0);
      const size_t added_bytes = added.chars + sizeof(char*) * added.words;
      const bool too_long = options_.max_length > 0 && chars + added.chars > options_.max_length;
      const bool too_big =
          options_.max_exec_bytes > 0 && exec_bytes + added_bytes > options_.max_exec_bytes;
      if (count > 0 && (too_long || too_big)) {
        pending_ = std::move(record);
        break;
      }
      chars += added.chars;
      exec_bytes += added_bytes;
    }
    sizes.push_back(record->fields.size());
    for (auto& field : record->fields) group.fields.push_back(std::move(field));
    ++count;
  }
  const bool was_first = first_group_;
  first_group_ = false;
  if (count == 0) return std::nullopt;
  if (!(was_first && input_ended && options_.spread_over > 1 && count > 1)) {
    // push_back left up to twice the room the fields need; a group waits in the queue and runs,
    // so it keeps only what it holds.
    group.fields.shrink_to_fit();
    return group;
  }

  // The whole input is in hand: ceil(count / spread_over) records per job.
  const size_t jobs = std::min(count, options_.spread_over);
  const size_t per_job = (count + jobs - 1) / jobs;
  size_t field = 0;
  for (size_t first = 0; first < count; first += per_job) {
    Record& part = spread_.emplace_back();
    for (size_t r = first; r < std::min(count, first + per_job); ++r) {
      for (size_t f = 0; f < sizes[r]; ++f) part.fields.push_back(std::move(group.fields[field++]));
    }
  }
  Record head = std::move(spread_.front());
  spread_.pop_front();
  return head;
}

}  // namespace taskpool
