#include "core/input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace taskpool {

std::optional<std::string> ListSource::next() {
  if (pos_ >= values_.size()) return std::nullopt;
  return std::move(values_[pos_++]);
}

FileSource::FileSource(int fd, std::string delimiter, std::string name, bool owns_fd,
                       RecordLimit limit)
    : owned_(owns_fd ? fd : -1),
      delimiter_size_(delimiter.size()),
      reader_(fd, std::move(delimiter), std::move(name), std::move(limit)) {
  struct stat st {};
  // Read from where the descriptor is (stdin may have been read part of the way already).
  const off_t at = lseek(fd, 0, SEEK_CUR);
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 && st.st_size > at) {
    size_ = static_cast<uint64_t>(st.st_size - at);
  }
}

std::optional<std::string> FileSource::next() {
  std::optional<std::string> value = reader_.next();
  if (value) {
    const uint64_t bytes = reader_.too_long() > 0 ? reader_.too_long() : value->size();
    given_.fetch_add(bytes + delimiter_size_, std::memory_order_relaxed);
  }
  return value;
}

std::optional<double> FileSource::fraction_read() const {
  if (size_ == 0) return std::nullopt;
  const auto given = static_cast<double>(given_.load(std::memory_order_relaxed));
  return std::min(1.0, given / static_cast<double>(size_));
}

std::optional<std::string> SplitListSource::next() {
  if (value_ >= values_.size()) return std::nullopt;
  const std::string& value = values_[value_];
  const size_t end = value.find(delimiter_, pos_);
  if (end == std::string::npos) {
    std::string part = value.substr(pos_);
    ++value_;
    pos_ = 0;
    return part;
  }
  std::string part = value.substr(pos_, end - pos_);
  pos_ = end + delimiter_.size();
  return part;
}

std::unique_ptr<ValueSource> open_file_source(const std::string& path, const std::string& delimiter,
                                              RecordLimit limit) {
  if (path == "-") {
    return std::make_unique<FileSource>(STDIN_FILENO, delimiter, "stdin", false, std::move(limit));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("cannot open input file '" + path + "'");
  return std::make_unique<FileSource>(fd, delimiter, "'" + path + "'", true, std::move(limit));
}

Record split_record(std::string value, const std::optional<ColumnSplitter>& columns,
                    const std::string& what) {
  Record record;
  if (!columns) {
    record.fields.push_back(std::move(value));
    return record;
  }
  std::string why;
  if (std::optional<std::vector<std::string>> fields = columns->split(value, &why)) {
    record.fields = std::move(*fields);
    return record;
  }
  record.refused = what + ": --colsep '" + columns->pattern() + "' could not split it: " + why;
  record.fields.push_back(std::move(value));
  return record;
}

namespace {

// A source whose first value was read ahead (to tell whether it is empty): gives it back first.
class PeekedSource final : public ValueSource {
 public:
  PeekedSource(std::unique_ptr<ValueSource> inner, std::string first, uint64_t first_too_long)
      : inner_(std::move(inner)), first_(std::move(first)), first_too_long_(first_too_long) {}
  std::optional<std::string> next() override {
    on_first_ = !given_;
    if (std::exchange(given_, true)) return inner_->next();
    return std::move(first_);
  }
  uint64_t too_long() const override { return on_first_ ? first_too_long_ : inner_->too_long(); }

 private:
  std::unique_ptr<ValueSource> inner_;
  std::string first_;
  uint64_t first_too_long_;
  bool given_ = false;
  bool on_first_ = false;
};

}  // namespace

RecordStream::RecordStream(std::vector<std::unique_ptr<ValueSource>> sources,
                           std::optional<ColumnSplitter> columns, std::vector<bool> linked,
                           bool link_all)
    : sources_(std::move(sources)), columns_(std::move(columns)), link_all_(link_all) {
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (i > 0 && i < linked.size() && linked[i]) {
      groups_.back().second = i;
    } else {
      groups_.emplace_back(i, i);
    }
  }
}

void RecordStream::append(Record& record, const Record& row) {
  record.fields.insert(record.fields.end(), row.fields.begin(), row.fields.end());
  record.too_long = std::max(record.too_long, row.too_long);
  if (record.refused.empty()) record.refused = row.refused;
}

std::optional<Record> RecordStream::next_row(size_t first, size_t last, uint64_t number) {
  Record row;
  for (size_t i = first; i <= last; ++i) {
    auto value = sources_[i]->next();
    if (!value) return std::nullopt;
    if (const uint64_t too_long = sources_[i]->too_long(); too_long > 0) {
      // Only its beginning was kept: a column of it would be no column of the record.
      row.fields.push_back(std::move(*value));
      row.too_long = std::max(row.too_long, too_long);
      continue;
    }
    const std::string what = first == 0 ? "record " + std::to_string(number)
                                        : "value " + std::to_string(number) + " of input source " +
                                              std::to_string(i + 1);
    append(row, split_record(std::move(*value), columns_, what));
  }
  return row;
}

bool RecordStream::stand_in_for_empty_sources() {
  if (sources_.size() < 2) return true;
  std::vector<std::optional<std::string>> firsts;
  for (auto& source : sources_) firsts.push_back(source->next());
  if (std::ranges::none_of(firsts, [](const auto& first) { return first.has_value(); })) {
    return false;
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (!firsts[i]) {
      sources_[i] = std::make_unique<ListSource>(std::vector<std::string>{""});
    } else {
      const uint64_t too_long = sources_[i]->too_long();
      sources_[i] =
          std::make_unique<PeekedSource>(std::move(sources_[i]), std::move(*firsts[i]), too_long);
    }
  }
  return true;
}

std::optional<Record> RecordStream::next() {
  if (!started_) {
    started_ = true;
    if (!stand_in_for_empty_sources()) groups_.clear();
  }
  if (groups_.empty()) return std::nullopt;
  if (link_all_) return next_linked_all();
  if (groups_.size() == 1) return next_row(groups_[0].first, groups_[0].second, ++rows_);
  if (!loaded_) {
    loaded_ = true;
    for (size_t g = 1; g < groups_.size(); ++g) {
      auto& rows = rest_.emplace_back();
      while (auto row = next_row(groups_[g].first, groups_[g].second, rows.size() + 1)) {
        rows.push_back(std::move(*row));
      }
      if (rows.empty()) empty_product_ = true;
    }
    index_.assign(rest_.size(), 0);
  }
  if (empty_product_) return std::nullopt;
  if (!current_first_) {
    current_first_ = next_row(groups_[0].first, groups_[0].second, ++rows_);
    if (!current_first_) return std::nullopt;
  }
  Record record = *current_first_;
  for (size_t i = 0; i < rest_.size(); ++i) append(record, rest_[i][index_[i]]);
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

std::optional<Record> RecordStream::next_linked_all() {
  if (!loaded_) {
    loaded_ = true;
    for (size_t i = 0; i < sources_.size(); ++i) {
      auto& rows = rest_.emplace_back();
      while (auto row = next_row(i, i, rows.size() + 1)) rows.push_back(std::move(*row));
    }
  }
  size_t longest = 0;
  for (const auto& rows : rest_) longest = std::max(longest, rows.size());
  if (rows_ >= longest) return std::nullopt;
  Record record;
  for (const auto& rows : rest_) {
    if (!rows.empty()) append(record, rows[rows_ % rows.size()]);
  }
  ++rows_;
  return record;
}

std::optional<std::string> EndAtSource::next() {
  if (ended_) return std::nullopt;
  auto value = inner_->next();
  if (value && *value == end_ && inner_->too_long() == 0) ended_ = true;
  if (ended_) return std::nullopt;
  return value;
}

std::optional<std::string> SkipBlankSource::next() {
  for (;;) {
    std::optional<std::string> value = inner_->next();
    const bool blank = value && inner_->too_long() == 0 &&
                       value->find_first_not_of(" \t\n\v\f\r") == std::string::npos;
    if (!blank) return value;
  }
}

std::optional<Record> RecordGrouper::next_record() {
  std::optional<Record> record = records_.next();
  if (!options_.continue_lines) return record;
  // Blank as Perl's \s, as GNU parallel reads it: space, tab, vertical tab, form feed, CR.
  const auto ends_in_blank = [](const Record& r) {
    return !r.fields.empty() && !r.fields.back().empty() &&
           std::string_view(" \t\v\f\r").find(r.fields.back().back()) != std::string_view::npos;
  };
  while (record && record->runnable() && ends_in_blank(*record)) {
    std::optional<Record> more = records_.next();
    if (!more || more->fields.empty()) break;
    record->fields.back() += more->fields.front();
    for (size_t i = 1; i < more->fields.size(); ++i) {
      record->fields.push_back(std::move(more->fields[i]));
    }
    record->too_long = more->too_long;
    record->refused = std::move(more->refused);
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
    if (!record->runnable()) {
      // Its job fails without running: alone, so that no other record fails with it.
      if (count > 0) {
        pending_ = std::move(record);
        break;
      }
      return record;
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
