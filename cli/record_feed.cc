#include "cli/record_feed.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <system_error>
#include <thread>
#include <utility>

#include "cli/pipe_input.h"
#include "core/bounded_queue.h"
#include "core/error.h"
#include "tasks/wake_fd.h"

namespace taskpool {
namespace {

// The input, record (or group of records) by record, counted and checked as it is read. Used by
// one thread at a time; seen() and done() from any.
class InputReader {
 public:
  InputReader(std::unique_ptr<RecordStream> stream, FeedOptions options)
      : stream_(std::move(stream)), options_(std::move(options)) {
    if (options_.grouping) {
      grouper_ = std::make_unique<RecordGrouper>(*stream_, std::move(*options_.grouping));
    }
  }

  // The next record; nullopt (and done() set) at the end of the input, or at input that ends the
  // run (its error kept). Throws ReadStopped when reading was stopped.
  std::optional<Record> read() {
    try {
      if (auto record = next()) return record;
    } catch (const Error& e) {
      error_ = e.what();
    }
    done_ = true;
    return std::nullopt;
  }

  uint64_t seen() const { return seen_.load(std::memory_order_relaxed); }
  bool done() const { return done_.load(); }
  std::optional<double> fraction_read() const { return stream_->fraction_read(); }
  const std::string& error() const { return error_; }  // REQUIRES: done()
  uint64_t reading_past() const {
    return options_.limit.reading_past ? options_.limit.reading_past->load() : 0;
  }

 private:
  std::optional<Record> next() {
    std::optional<Record> record = grouper_ ? grouper_->next() : stream_->next();
    if (!record) return record;
    if (options_.block_input) {
      record->input = options_.block_input(std::move(record->fields.front()));
      record->fields.clear();
    }
    const uint64_t number = seen_.fetch_add(1, std::memory_order_relaxed) + 1;
    const size_t col = options_.priority_col;
    if (col != 0 && record->runnable() && !record_priority(*record, col)) {
      // Ends the input here: the records before it run, the run then fails.
      throw UsageError(fmt::format("record {}: column {} is '{}', not a number (--priority-col)",
                                   number, col, record->fields[col - 1].substr(0, 40)));
    }
    if (options_.check) options_.check(number, *record);
    return record;
  }

  std::unique_ptr<RecordStream> stream_;
  FeedOptions options_;
  std::unique_ptr<RecordGrouper> grouper_;  // set when several records make one job
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> seen_{0};
  std::string error_;  // written before done_
};

// The input read on a thread of its own into the bounded queue. The thread waits in poll on its
// input and on an eventfd of the feed's, so stop() can always end and join it.
class ThreadFeed final : public RecordFeed {
 public:
  ThreadFeed(size_t capacity, std::function<void()> wake)
      : queue_(capacity, std::move(wake)), stop_(-1) {}
  ~ThreadFeed() override { stop(); }
  ThreadFeed(const ThreadFeed&) = delete;
  ThreadFeed& operator=(const ThreadFeed&) = delete;

  int stop_fd() const { return stop_.get(); }

  void start(std::unique_ptr<InputReader> reader) {
    reader_ = std::move(reader);
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      // Under ulimit -u a thread is one more process: none may be left.
      throw Error(std::string("cannot start the thread that reads the input: ") + e.what());
    }
  }

  State poll(Record& out) override {
    switch (queue_.try_pop(out)) {
      case BoundedQueue<Record>::State::kItem:
        return State::kReady;
      case BoundedQueue<Record>::State::kEmpty:
        return State::kNotYet;
      case BoundedQueue<Record>::State::kClosed:
        return State::kEnd;
    }
    return State::kEnd;
  }
  uint64_t records_seen() const override { return reader_->seen(); }
  bool input_done() const override { return reader_->done(); }
  std::optional<double> fraction_read() const override { return reader_->fraction_read(); }
  std::string error() const override { return reader_->error(); }
  uint64_t reading_past() const override { return reader_->reading_past(); }

  void stop() override {
    if (!thread_.joinable()) return;
    queue_.cancel();  // a push blocked on a full queue returns
    stop_.notify();   // and so does a read
    thread_.join();
  }

 private:
  void run() {
    try {
      while (auto record = reader_->read()) {
        if (!queue_.push(std::move(*record))) break;
      }
    } catch (const ReadStopped&) {
      // The run is over; what was not read is not wanted.
    }
    queue_.close();
  }

  BoundedQueue<Record> queue_;
  WakeFd stop_;  // the reader's poll ends when it is notified
  std::unique_ptr<InputReader> reader_;
  std::thread thread_;
};

// Records read on the scheduler's thread, as it asks for them: for input that is all in memory
// (::: lists), which no read can block on, no reader thread needs starting (a third of a
// millisecond of a one-job run). It reads as far ahead as the queue would hold, so that the
// records seen (for --halt percentages and the count of jobs not started) are the same.
class InlineFeed final : public RecordFeed {
 public:
  InlineFeed(std::unique_ptr<InputReader> reader, size_t read_ahead)
      : reader_(std::move(reader)), read_ahead_(read_ahead) {}

  State poll(Record& out) override {
    while (!reader_->done() && ahead_.size() < read_ahead_) {
      auto record = reader_->read();  // after an error, the records before it run, then it fails
      if (!record) break;
      ahead_.push_back(std::move(*record));
    }
    if (ahead_.empty()) return State::kEnd;
    out = std::move(ahead_.front());
    ahead_.pop_front();
    return State::kReady;
  }
  uint64_t records_seen() const override { return reader_->seen(); }
  bool input_done() const override { return reader_->done(); }
  std::optional<double> fraction_read() const override { return reader_->fraction_read(); }
  std::string error() const override { return reader_->error(); }
  uint64_t reading_past() const override { return reader_->reading_past(); }

 private:
  std::unique_ptr<InputReader> reader_;
  const size_t read_ahead_;
  std::deque<Record> ahead_;
};

class MemoryFeed final : public RecordFeed {
 public:
  explicit MemoryFeed(const std::vector<Record>& records) : records_(records) {}
  State poll(Record& out) override {
    if (pos_ == records_.size()) return State::kEnd;
    out = records_[pos_++];
    return State::kReady;
  }
  bool input_done() const override { return true; }

 private:
  const std::vector<Record>& records_;
  size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<RecordStream> open_records(const RunConfig& config, const RecordLimit& limit) {
  std::vector<std::unique_ptr<ValueSource>> sources;
  std::vector<bool> linked;
  // --header: a file's first line names its columns (read_header); stdin's was taken already.
  const auto open_file = [&](const std::string& path) {
    auto source = open_file_source(path, config.delimiter, limit);
    if (config.skip_file_headers && path != "-") source->next();
    return source;
  };
  for (const std::string& path : config.arg_files) {
    sources.push_back(open_file(path));
    linked.push_back(false);
  }
  for (const auto& source : config.sources) {
    if (source.file) {
      sources.push_back(open_file(*source.file));
    } else {
      if (config.split_lists) {
        sources.push_back(std::make_unique<SplitListSource>(source.values, config.delimiter));
      } else {
        sources.push_back(std::make_unique<ListSource>(source.values));
      }
    }
    linked.push_back(source.linked);
  }
  if (sources.empty()) {
    if (isatty(STDIN_FILENO)) {
      std::fputs("taskpool: reading records from the terminal (end with Ctrl-D)\n", stderr);
    }
    sources.push_back(
        std::make_unique<FileSource>(STDIN_FILENO, config.delimiter, "stdin", false, limit));
    linked.push_back(false);
  }
  if (config.eof_string) {
    for (auto& source : sources) {
      source = std::make_unique<EndAtSource>(std::move(source), *config.eof_string);
    }
  }
  if (config.skip_blank) {
    for (auto& source : sources) source = std::make_unique<SkipBlankSource>(std::move(source));
  }
  std::optional<ColumnSplitter> columns;
  if (config.colsep) columns.emplace(*config.colsep);
  return std::make_unique<RecordStream>(std::move(sources), std::move(columns), std::move(linked),
                                        config.link_all);
}

std::function<RecordGrouper::Measure(const Record&, bool)> grouping_length(
    const CommandTemplate& command, int workers) {
  const WorkerId widest = workers;
  return [command, widest](const Record& record, bool first) -> RecordGrouper::Measure {
    if (!first) return {command.added_length(record), command.added_words(record)};
    // Measured with a 13-digit {#}, wider than any run's; "+ 1" for the terminating NUL.
    const Command c = command.expand(Job{1'000'000'000'000, record}, widest);
    return {c.line.size() + 1, c.argv.empty() ? 3 : c.argv.size()};
  };
}

std::optional<double> record_priority(const Record& record, size_t col) {
  if (col > record.fields.size()) return 0.0;
  std::string_view text = record.fields[col - 1];
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return 0.0;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || std::isnan(value)) {
    return std::nullopt;
  }
  return value;
}

std::unique_ptr<RecordFeed> open_record_feed(const RunConfig& config, const InputPlan& plan,
                                             FeedOptions options, std::function<void()> wake) {
  if (plan.read_inline) {
    auto stream = open_records(config, options.limit);
    auto reader = std::make_unique<InputReader>(std::move(stream), std::move(options));
    return std::make_unique<InlineFeed>(std::move(reader), plan.queue_capacity);
  }
  auto feed = std::make_unique<ThreadFeed>(plan.queue_capacity, std::move(wake));
  options.limit.stop_fd = feed->stop_fd();
  std::unique_ptr<RecordStream> stream;
  if (config.pipe != RunConfig::Pipe::kNone) {
    BlockStream blocks = open_blocks(config, options.limit.stop_fd);
    stream = std::move(blocks.stream);
    options.block_input = std::move(blocks.input);
  } else {
    stream = open_records(config, options.limit);
  }
  feed->start(std::make_unique<InputReader>(std::move(stream), std::move(options)));
  return feed;
}

std::unique_ptr<RecordFeed> memory_feed(const std::vector<Record>& records) {
  return std::make_unique<MemoryFeed>(records);
}

}  // namespace taskpool
