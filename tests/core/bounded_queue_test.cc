#include "core/bounded_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace taskpool {
namespace {

TEST_CASE("items come out in order, and the queue reports empty and closed") {
  BoundedQueue<int> q(4);
  int out = 0;
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kEmpty);
  CHECK(q.push(1));
  CHECK(q.push(2));
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(out == 1);
  q.close();
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(out == 2);
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kClosed);
}

TEST_CASE("a full queue blocks the producer until the consumer takes an item") {
  std::atomic<int> notified{0};
  BoundedQueue<int> q(2, [&] { ++notified; });
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      REQUIRE(q.push(i));
      ++pushed;
    }
    q.close();
  });
  // The producer can never be more than the capacity ahead of the consumer.
  std::vector<int> got;
  int out = 0;
  while (true) {
    const auto state = q.try_pop(out);
    if (state == BoundedQueue<int>::State::kClosed) break;
    if (state == BoundedQueue<int>::State::kEmpty) {
      std::this_thread::yield();
      continue;
    }
    got.push_back(out);
    CHECK(q.size() <= 2);
    CHECK(pushed.load() <= static_cast<int>(got.size()) + 2);
  }
  producer.join();
  REQUIRE(got.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(got[i] == i);
  // Pushes into an empty queue and the close, never more.
  CHECK(notified.load() >= 2);
  CHECK(notified.load() <= 101);
}

TEST_CASE("a producer that found the queue full goes on once it is half empty") {
  BoundedQueue<int> q(4);
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) REQUIRE(q.push(i));
  });
  while (!q.producer_waiting()) std::this_thread::yield();  // the fifth push waits
  int out = 0;
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(out == 0);
  // 3 of 4: room for one, but the producer waits on until half of the queue is free.
  CHECK(q.producer_waiting());
  CHECK(q.size() == 3);
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  producer.join();  // 2 of 4: it went on, and its last push is in
  CHECK(q.size() == 3);
  CHECK_FALSE(q.producer_waiting());
  for (int expected = 2; expected < 5; ++expected) {
    CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
    CHECK(out == expected);
  }
}

TEST_CASE("a queue of one wakes its producer when it is empty") {
  BoundedQueue<int> q(1);
  REQUIRE(q.push(1));
  std::thread producer([&] { REQUIRE(q.push(2)); });
  while (!q.producer_waiting()) std::this_thread::yield();
  int out = 0;
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  producer.join();
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(out == 2);
}

TEST_CASE("the consumer is notified when the queue stops being empty, and at the close") {
  int notified = 0;
  BoundedQueue<int> q(4, [&] { ++notified; });
  REQUIRE(q.push(1));
  CHECK(notified == 1);
  REQUIRE(q.push(2));  // the consumer has not seen the queue empty since: no wake-up needed
  CHECK(notified == 1);
  int out = 0;
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kItem);
  CHECK(q.try_pop(out) == BoundedQueue<int>::State::kEmpty);
  REQUIRE(q.push(3));
  CHECK(notified == 2);
  q.close();
  CHECK(notified == 3);
}

TEST_CASE("cancel releases a blocked producer and drops the item") {
  BoundedQueue<int> q(1);
  REQUIRE(q.push(1));
  std::atomic<bool> result{true};
  std::thread producer([&] { result = q.push(2); });
  q.cancel();
  producer.join();
  CHECK_FALSE(result.load());
}

}  // namespace
}  // namespace taskpool
