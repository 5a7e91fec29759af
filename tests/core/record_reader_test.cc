#include "core/record_reader.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "tests/core/helpers.h"

namespace taskpool {
namespace {

using Records = std::vector<std::string>;

// The records as text, with brackets and escapes (a long one as its size), for comparisons
// whose failure shows them.
std::string show(const Records& records) {
  std::string out = "{";
  for (const std::string& r : records) {
    if (out.size() > 1) out += ", ";
    out += r.size() > 200 ? "<" + std::to_string(r.size()) + " bytes>" : testing::quoted(r);
  }
  return out + "}";
}

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
}

// A seekable in-memory file holding `content`, positioned at its start.
class MemFile {
 public:
  explicit MemFile(const std::string& content) : fd_(memfd_create("records", MFD_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    write_all(fd_, content);
    REQUIRE(lseek(fd_, 0, SEEK_SET) == 0);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

class Pipe {
 public:
  Pipe() { REQUIRE(pipe2(fds_, O_CLOEXEC) == 0); }
  ~Pipe() {
    close_write();
    close(fds_[0]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void close_write() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2];
};

Records read_all(RecordReader& reader) {
  Records records;
  while (std::optional<std::string> r = reader.next()) records.push_back(std::move(*r));
  // The end stays the end.
  CHECK_FALSE(reader.next().has_value());
  return records;
}

Records read_file(const std::string& content, const std::string& delimiter) {
  MemFile file(content);
  RecordReader reader(file.fd(), delimiter, "test input");
  return read_all(reader);
}

// The same content through a pipe, written by another thread.
Records read_pipe(const std::string& content, const std::string& delimiter) {
  Pipe pipe;
  std::thread writer([&] {
    write_all(pipe.write_fd(), content);
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), delimiter, "test pipe");
  Records records = read_all(reader);
  writer.join();
  return records;
}

Records read_pipe(const std::string& content, char delimiter = '\n') {
  return read_pipe(content, std::string(1, delimiter));
}

void check_records(const std::string& content, const std::string& delimiter,
                   const Records& expected) {
  CAPTURE(show({content}));
  CHECK(show(read_file(content, delimiter)) == show(expected));
  CHECK(show(read_pipe(content, delimiter)) == show(expected));
}
void check_records(const std::string& content, char delimiter, const Records& expected) {
  check_records(content, std::string(1, delimiter), expected);
}

// Letters that differ from their neighbours, never a delimiter used here.
std::string pattern(size_t size, unsigned seed) {
  std::string data(size, 'x');
  for (size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>('A' + (i * 31 + seed) % 57);
  }
  return data;
}

TEST_CASE("newline-ended records") {
  check_records("a\nb\n", '\n', {"a", "b"});
  check_records("one line\n", '\n', {"one line"});
  check_records("  spaced  \n\ttab\n", '\n', {"  spaced  ", "\ttab"});
  // NUL is data when records end at newlines.
  check_records(std::string("a\0b\nc\n", 6), '\n', {std::string("a\0b", 3), "c"});
}

TEST_CASE("a final record without a delimiter is still a record") {
  check_records("a\nb", '\n', {"a", "b"});
  check_records("only", '\n', {"only"});
  check_records("a\n\nb", '\n', {"a", "", "b"});
}

TEST_CASE("empty records are kept, a trailing delimiter adds none") {
  check_records("a\n\nb\n", '\n', {"a", "", "b"});
  check_records("\n", '\n', {""});
  check_records("\n\n", '\n', {"", ""});
  check_records("\na\n", '\n', {"", "a"});
  check_records("a\n\n", '\n', {"a", ""});
  check_records("a\n", '\n', {"a"});
}

TEST_CASE("empty input has no records") {
  check_records("", '\n', {});
  check_records("", '\0', {});
  check_records("", ',', {});
}

TEST_CASE("carriage returns are data") {
  check_records("a\r\nb\r\n", '\n', {"a\r", "b\r"});
  check_records("\r\n", '\n', {"\r"});
  check_records("a\rb\n", '\n', {"a\rb"});
}

TEST_CASE("NUL-ended records") {
  check_records(std::string("a\0b\0", 4), '\0', {"a", "b"});
  check_records(std::string("a\nb\0c", 5), '\0', {"a\nb", "c"});
  check_records(std::string("a\0\0b\0", 5), '\0', {"a", "", "b"});
  check_records(std::string("line1\nline2\n\0", 13), '\0', {"line1\nline2\n"});
}

TEST_CASE("a custom delimiter") {
  check_records("a,b,c", ',', {"a", "b", "c"});
  check_records("a\n,b,", ',', {"a\n", "b"});
  check_records(",,", ',', {"", ""});
  check_records(
      "a\xff"
      "b\xff",
      '\xff', {"a", "b"});
  check_records("x\x80y", '\x80', {"x", "y"});
}

TEST_CASE("a delimiter of several bytes, as -d '\\r\\n'") {
  check_records("a\r\nb c\r\nd", "\r\n", {"a", "b c", "d"});
  check_records("a\rb\n\r\n\r\n", "\r\n", {"a\rb\n", ""});
  check_records("xXYyXYXY", "XY", {"x", "y", ""});
  check_records("aXYXb", "XYX", {"a", "b"});
  check_records("XXXY", "XXY", {"X"});
  // Split across the 64 KiB read boundary, at every place.
  const size_t k64 = 64 * 1024;
  for (size_t first : {k64 - 3, k64 - 2, k64 - 1, k64}) {
    CAPTURE(first);
    const std::string a = pattern(first, 7);
    const std::string b = pattern(10, 8);
    check_records(a + "<=>" + b + "<=>", "<=>", {a, b});
  }
}

// A record and what next() said of it: its size when it was too long to keep.
struct Read {
  std::string text;
  uint64_t too_long;
};

std::vector<Read> read_limited(int fd, const std::string& delimiter, size_t max_bytes) {
  RecordLimit limit;
  limit.max_bytes = max_bytes;
  limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  RecordReader reader(fd, delimiter, "limited input", limit);
  std::vector<Read> records;
  while (std::optional<std::string> r = reader.next()) {
    records.push_back({std::move(*r), reader.too_long()});
    CHECK(limit.reading_past->load() == 0);  // only while it reads past one
  }
  return records;
}

TEST_CASE("a record longer than the limit is read past: its beginning and size, then the next") {
  const size_t limit = 100 * 1024;
  const std::string fits = pattern(limit, 1);
  const std::string over = pattern(limit + 1, 2);
  const std::string huge = pattern(1024 * 1024, 3);
  const std::string content = "a\n" + over + "\n" + fits + "\nb\n" + huge + "\n\nlast" + "\n" +
                              over;  // a final one without a delimiter, too long as well
  for (const bool through_pipe : {false, true}) {
    CAPTURE(through_pipe);
    std::vector<Read> records;
    if (through_pipe) {
      Pipe pipe;
      std::thread writer([&] {
        write_all(pipe.write_fd(), content);
        pipe.close_write();
      });
      records = read_limited(pipe.read_fd(), "\n", limit);
      writer.join();
    } else {
      const MemFile file(content);
      records = read_limited(file.fd(), "\n", limit);
    }
    REQUIRE(records.size() == 8);
    const auto kept = [](const std::string& r) { return r.substr(0, RecordReader::kKeptBytes); };
    CHECK((records[0].text == "a" && records[0].too_long == 0));
    CHECK((records[1].text == kept(over) && records[1].too_long == over.size()));
    CHECK((records[2].text == fits && records[2].too_long == 0));  // the limit itself fits
    CHECK((records[3].text == "b" && records[3].too_long == 0));
    CHECK((records[4].text == kept(huge) && records[4].too_long == huge.size()));
    CHECK((records[5].text.empty() && records[5].too_long == 0));
    CHECK((records[6].text == "last" && records[6].too_long == 0));
    CHECK((records[7].text == kept(over) && records[7].too_long == over.size()));
  }
}

TEST_CASE("a record too long is read past up to a delimiter of several bytes, whatever the reads") {
  const size_t limit = 4096;
  for (const size_t size : {size_t{5000}, size_t{64 * 1024 - 1}, size_t{64 * 1024},
                            size_t{64 * 1024 + 1}, size_t{200 * 1024}}) {
    CAPTURE(size);
    const std::string over = pattern(size, 9);
    const MemFile file("x\r\n" + over + "\r\ny\r\n\r" + over);
    const std::vector<Read> records = read_limited(file.fd(), "\r\n", limit);
    REQUIRE(records.size() == 4);
    CHECK((records[0].text == "x" && records[0].too_long == 0));
    CHECK((records[1].text == over.substr(0, RecordReader::kKeptBytes) &&
           records[1].too_long == over.size()));
    CHECK((records[2].text == "y" && records[2].too_long == 0));
    CHECK(records[3].too_long == over.size() + 1);
  }
}

TEST_CASE("NUL-ended records have a limit too") {
  const std::string over = pattern(5000, 4);
  const MemFile file(std::string("x\0", 2) + over + std::string("\0y\0", 3));
  const std::vector<Read> records = read_limited(file.fd(), std::string(1, '\0'), 4096);
  REQUIRE(records.size() == 3);
  CHECK((records[0].text == "x" && records[1].too_long == 5000 && records[2].text == "y"));
  CHECK(records[1].text == over.substr(0, RecordReader::kKeptBytes));
}

// The peak resident memory of this process, in KiB (VmHWM).
long peak_kib() {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buffer[4096];
  const ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* at = std::strstr(buffer, "VmHWM:");
  return at != nullptr ? std::strtol(at + 6, nullptr, 10) : -1;
}

TEST_CASE("reading past a record keeps memory within the limit and a read buffer") {
  // 256 MiB of NUL bytes (a sparse in-memory file: reading it allocates nothing), then a newline
  // and one more record. Measured in a child process, whose peak starts where its parent is.
  constexpr off_t kRecord = 256 << 20;
  const int fd = memfd_create("huge-record", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, kRecord) == 0);
  REQUIRE(pwrite(fd, "\nnext\n", 6, kRecord) == 6);
  int report[2];
  REQUIRE(pipe2(report, O_CLOEXEC) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const long before = peak_kib();
    RecordLimit limit;
    limit.max_bytes = 1 << 20;
    RecordReader reader(fd, '\n', "huge", limit);
    const std::optional<std::string> first = reader.next();
    const uint64_t size = reader.too_long();
    const std::optional<std::string> second = reader.next();
    const bool right = first && first->size() == RecordReader::kKeptBytes &&
                       size == static_cast<uint64_t>(kRecord) && second == "next";
    const long grown = right ? peak_kib() - before : -1;
    [[maybe_unused]] const ssize_t n = write(report[1], &grown, sizeof grown);
    _exit(0);
  }
  close(report[1]);
  long grown = -2;
  const ssize_t n = read(report[0], &grown, sizeof grown);
  close(report[0]);
  close(fd);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(n == sizeof grown);
  REQUIRE_MESSAGE(grown >= 0, "the child read the wrong records");
  // The limit (1 MiB) and a 64 KiB chunk, with room for the allocator; without a limit the
  // buffer would grow past 256 MiB.
  CHECK(grown < 8 * 1024);
}

TEST_CASE("the beginning kept of a record too long is its first kKeptBytes, whatever the reads") {
  // The limit is passed with the first 12 bytes; the rest comes in a later read.
  Pipe pipe;
  RecordLimit limit;
  limit.max_bytes = 10;
  limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  const std::string record = pattern(200, 7);
  std::thread writer([&] {
    write_all(pipe.write_fd(), record.substr(0, 12));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (limit.reading_past->load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    write_all(pipe.write_fd(), record.substr(12) + "\nnext\n");
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), '\n', "pipe", limit);
  const std::optional<std::string> first = reader.next();
  const uint64_t size = reader.too_long();
  const std::optional<std::string> second = reader.next();
  writer.join();
  CHECK(first == record.substr(0, RecordReader::kKeptBytes));
  CHECK(size == 200);
  CHECK(second == "next");
}

TEST_CASE("a reader that reads past a record says how far it got, for another thread") {
  Pipe pipe;
  RecordLimit limit;
  limit.max_bytes = 1000;
  limit.reading_past = std::make_shared<std::atomic<uint64_t>>(0);
  std::atomic<bool> done{false};
  std::optional<std::string> record;
  std::thread reader_thread([&] {
    RecordReader reader(pipe.read_fd(), '\n', "pipe", limit);
    record = reader.next();
    done = true;
  });
  write_all(pipe.write_fd(), std::string(300000, 'z'));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (limit.reading_past->load() < 300000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(limit.reading_past->load() == 300000);
  CHECK_FALSE(done.load());
  write_all(pipe.write_fd(), "zz\n");
  pipe.close_write();
  reader_thread.join();
  CHECK(limit.reading_past->load() == 0);
  REQUIRE(record.has_value());
  CHECK(*record == std::string(RecordReader::kKeptBytes, 'z'));
}

TEST_CASE("a 1 MiB record") {
  const std::string big = pattern(1024 * 1024, 1);
  check_records(big + "\nshort\n" + big, '\n', {big, "short", big});
}

TEST_CASE("records across the 64 KiB read boundary") {
  const size_t k64 = 64 * 1024;
  Records expected;
  std::string content;
  unsigned seed = 0;
  for (size_t size : {k64 - 1, size_t{1}, k64, size_t{0}, k64 + 1, size_t{100000}, size_t{3},
                      2 * k64 - 5, size_t{10}, k64 - 2, size_t{0}, size_t{0}, 3 * k64}) {
    expected.push_back(pattern(size, ++seed));
    content += expected.back() + "\n";
  }
  check_records(content, '\n', expected);

  // A delimiter as the last byte of a 64 KiB block, and as the first byte of the next.
  for (size_t first : {k64 - 1, k64, k64 - 2, k64 + 1}) {
    CAPTURE(first);
    const std::string a = pattern(first, 5);
    const std::string b = pattern(30, 6);
    check_records(a + "\n" + b + "\n", '\n', {a, b});
  }
}

TEST_CASE("many small records") {
  Records expected;
  std::string content;
  for (int i = 0; i < 100000; ++i) {
    expected.push_back(std::to_string(i));
    content += expected.back() + '\0';
  }
  const Records got = read_pipe(content, '\0');
  REQUIRE(got.size() == expected.size());
  CHECK(got == expected);
}

TEST_CASE("a slow writer in small pieces") {
  Pipe pipe;
  const std::vector<std::string> pieces = {"he", "llo\nwo", "rld", "\n", "\n", "la", "s", "t"};
  std::thread writer([&] {
    for (const std::string& piece : pieces) {
      write_all(pipe.write_fd(), piece);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), '\n', "slow pipe");
  const Records got = read_all(reader);
  writer.join();
  CHECK(show(got) == show({"hello", "world", "", "last"}));
}

TEST_CASE("a byte at a time") {
  std::string content;
  Records expected;
  for (int i = 0; i < 300; ++i) {
    expected.push_back(i % 7 == 0 ? "" : "r" + std::to_string(i));
    content += expected.back() + "\n";
  }
  Pipe pipe;
  std::thread writer([&] {
    for (const char c : content) write_all(pipe.write_fd(), std::string(1, c));
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), '\n', "byte pipe");
  const Records got = read_all(reader);
  writer.join();
  CHECK(show(got) == show(expected));
}

TEST_CASE("a record is returned as soon as its delimiter arrives") {
  Pipe pipe;
  std::atomic<bool> first_read{false};
  std::atomic<bool> waited_in_vain{false};
  std::thread writer([&] {
    write_all(pipe.write_fd(), "first\nsec");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!first_read.load()) {
      if (std::chrono::steady_clock::now() > deadline) {
        waited_in_vain = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    write_all(pipe.write_fd(), "ond\n");
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), '\n', "live pipe");
  const std::optional<std::string> first = reader.next();
  first_read = true;
  const std::optional<std::string> second = reader.next();
  const std::optional<std::string> end = reader.next();
  writer.join();
  CHECK_FALSE(waited_in_vain.load());
  CHECK(first == std::optional<std::string>("first"));
  CHECK(second == std::optional<std::string>("second"));
  CHECK_FALSE(end.has_value());
}

void ignore_signal(int) {}

TEST_CASE("a signal during a read does not end the input") {
  struct sigaction action = {};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked read fails with EINTR
  struct sigaction old_action = {};
  REQUIRE(sigaction(SIGUSR1, &action, &old_action) == 0);

  Pipe pipe;
  const pthread_t reader_thread = pthread_self();
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pthread_kill(reader_thread, SIGUSR1);
    }
    write_all(pipe.write_fd(), "after ");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pthread_kill(reader_thread, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    write_all(pipe.write_fd(), "signals\n");
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pthread_kill(reader_thread, SIGUSR1);
    }
    pipe.close_write();
  });
  RecordReader reader(pipe.read_fd(), '\n', "signalled pipe");
  std::optional<std::string> got;
  std::string error;
  try {
    got = reader.next();
    CHECK_FALSE(reader.next().has_value());
  } catch (const Error& e) {
    error = e.what();
  }
  writer.join();
  sigaction(SIGUSR1, &old_action, nullptr);
  CHECK(error == "");
  CHECK(got == std::optional<std::string>("after signals"));
}

TEST_CASE("a read error throws an Error naming the input") {
  SUBCASE("a directory") {
    const int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    RecordReader reader(fd, '\n', "my-input-list.txt");
    try {
      reader.next();
      FAIL("next() should have thrown");
    } catch (const Error& e) {
      const std::string message = e.what();
      CHECK(message.find("my-input-list.txt") != std::string::npos);
      CHECK(message.find("Is a directory") != std::string::npos);
    }
    close(fd);
  }
  SUBCASE("a closed descriptor") {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    close(fds[0]);
    close(fds[1]);
    RecordReader reader(fds[0], '\0', "closed-input");
    try {
      reader.next();
      FAIL("next() should have thrown");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("closed-input") != std::string::npos);
    }
  }
}

TEST_CASE("a read waiting on an input is stopped by the stop descriptor, not ended") {
  int input[2];
  REQUIRE(pipe2(input, O_CLOEXEC) == 0);
  int stop[2];
  REQUIRE(pipe2(stop, O_CLOEXEC) == 0);
  RecordLimit limit;
  limit.stop_fd = stop[0];
  RecordReader reader(input[0], '\n', "stdin", limit);
  REQUIRE(write(input[1], "a\nb", 3) == 3);
  CHECK(reader.next() == "a");
  // "b" has no delimiter yet, and the input goes on: the read waits until it is stopped.
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(write(stop[1], "x", 1) == 1);
  });
  alarm(60);  // a stop that cannot end the read would hang: end the test program instead
  CHECK_THROWS_AS(reader.next(), ReadStopped);
  alarm(0);
  stopper.join();
  for (const int fd : {input[0], input[1], stop[0], stop[1]}) close(fd);
}

}  // namespace
}  // namespace taskpool
