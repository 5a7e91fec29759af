// The record feed: read on a thread that can always be stopped and joined, or inline.
#include "cli/record_feed.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/helpers.h"

namespace taskpool {
namespace {

// A pipe the test writes records into, given to the feed as `-a /dev/fd/N`.
struct InputPipe {
  int fds[2];
  InputPipe() { REQUIRE(pipe2(fds, O_CLOEXEC) == 0); }
  ~InputPipe() {
    close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
  }
  std::string path() const { return "/dev/fd/" + std::to_string(fds[0]); }
  void write_text(const std::string& text) const {
    REQUIRE(write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void end() {
    close(fds[1]);
    fds[1] = -1;
  }
};

FeedOptions feed_options() {
  FeedOptions options;
  options.limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  return options;
}

// A feed reading `input` on a thread of its own, through a queue of `capacity`.
std::unique_ptr<RecordFeed> pipe_feed(const InputPipe& input, size_t capacity) {
  RunConfig config;
  config.arg_files = {input.path()};
  InputPlan plan;
  plan.queue_capacity = capacity;
  return open_record_feed(config, plan, feed_options(), [] {});
}

// Polls `feed` until it has given `count` records or ended, for 10 s at most.
std::vector<std::string> take(RecordFeed& feed, size_t count) {
  std::vector<std::string> taken;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Record record;
  while (taken.size() < count && std::chrono::steady_clock::now() < give_up) {
    const JobSource::State state = feed.poll(record);
    if (state == JobSource::State::kEnd) break;
    if (state == JobSource::State::kReady) {
      taken.push_back(record.fields.at(0));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return taken;
}

TEST_CASE("a reader blocked on an input that never ends is stopped and joined") {
  alarm(60);  // a stop that cannot end the read would hang here: end the test program instead
  const size_t threads = testing::threads_now();
  InputPipe input;
  auto feed = pipe_feed(input, 16);
  CHECK(testing::threads_now() == threads + 1);
  input.write_text("a\nb\n");
  CHECK(take(*feed, 2) == std::vector<std::string>{"a", "b"});
  CHECK(feed->records_seen() == 2);
  CHECK_FALSE(feed->input_done());
  feed->stop();  // the reader waits for more, in poll on the pipe
  CHECK(testing::threads_now() == threads);
  CHECK_FALSE(feed->input_done());  // stopped is not the end of the input
  CHECK(feed->error().empty());
  alarm(0);
}

TEST_CASE("a reader blocked on a full queue is stopped and joined") {
  alarm(60);
  const size_t threads = testing::threads_now();
  InputPipe input;
  auto feed = pipe_feed(input, 1);
  input.write_text("a\nb\nc\n");
  input.end();
  CHECK(take(*feed, 1) == std::vector<std::string>{"a"});
  feed.reset();  // the destructor stops it
  CHECK(testing::threads_now() == threads);
  alarm(0);
}

TEST_CASE("the feed reads an input to its end, and wakes the scheduler for what it brings") {
  InputPipe input;
  RunConfig config;
  config.arg_files = {input.path()};
  InputPlan plan;
  std::atomic<int> wakes{0};
  auto feed = open_record_feed(config, plan, feed_options(), [&] { ++wakes; });
  input.write_text("a\nb\nc");
  input.end();
  CHECK(take(*feed, 10) == std::vector<std::string>{"a", "b", "c"});
  CHECK(feed->input_done());
  CHECK(feed->records_seen() == 3);
  CHECK(wakes.load() >= 1);
}

TEST_CASE("a record whose --priority-col is not a number ends the input there, with an error") {
  RunConfig config;
  config.sources.push_back({{"1", "2", "x", "4"}, std::nullopt, false});
  InputPlan plan;
  plan.read_inline = true;
  FeedOptions options = feed_options();
  options.priority_col = 1;
  const size_t threads = testing::threads_now();
  auto feed = open_record_feed(config, plan, std::move(options), [] {});
  CHECK(testing::threads_now() == threads);  // ::: lists are read on the caller's thread
  CHECK(take(*feed, 10) == std::vector<std::string>{"1", "2"});
  CHECK(feed->input_done());
  CHECK(feed->error() == "record 3: column 1 is 'x', not a number (--priority-col)");
}

TEST_CASE("read inline, the feed reads ahead as far as the queue would hold") {
  RunConfig config;
  config.sources.push_back({{"a", "b", "c", "d", "e"}, std::nullopt, false});
  InputPlan plan;
  plan.read_inline = true;
  plan.queue_capacity = 2;
  auto feed = open_record_feed(config, plan, feed_options(), [] {});
  CHECK(take(*feed, 1) == std::vector<std::string>{"a"});
  CHECK(feed->records_seen() == 2);
  CHECK_FALSE(feed->input_done());
  CHECK(take(*feed, 10) == std::vector<std::string>{"b", "c", "d", "e"});
  CHECK(feed->input_done());
}

TEST_CASE("--priority-col reads a number from its column; empty or missing is 0") {
  const Record record{{" 2.5 ", "", "+3", "x"}};
  CHECK(record_priority(record, 1) == 2.5);
  CHECK(record_priority(record, 2) == 0.0);
  CHECK(record_priority(record, 3) == 3.0);
  CHECK_FALSE(record_priority(record, 4).has_value());
  CHECK(record_priority(record, 9) == 0.0);
}

}  // namespace
}  // namespace taskpool
