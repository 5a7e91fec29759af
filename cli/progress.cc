#include "cli/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "cli/printer.h"
#include "cli/report.h"

namespace taskpool {

namespace {

constexpr const char* kRed = "\x1b[31m";
constexpr const char* kReset = "\x1b[0m";
constexpr Duration kRedrawEvery = std::chrono::milliseconds(100);

size_t terminal_width(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

namespace {

// One part of the progress line: its text, a shorter one for narrow terminals, and how much it
// matters (a narrow terminal drops the parts that matter least first; 0 is never dropped).
struct Part {
  std::string full;
  std::string compact;
  int rank;
  size_t invisible = 0;  // bytes of escape codes in it, which take no columns
};

// The jobs a file input will make in all, estimated from how far through it reading is: known
// once a fair part of it is read (a hundredth, and a hundred records), so that the first
// records' sizes do not stand for the whole file.
std::optional<uint64_t> estimated_total(const ProgressCounters& c) {
  if (c.input_complete || !c.fraction_read || *c.fraction_read < 0.01 || c.read < 100) {
    return std::nullopt;
  }
  const auto total =
      static_cast<uint64_t>(std::llround(static_cast<double>(c.read) / *c.fraction_read));
  return std::max<uint64_t>({total, c.read, c.done, 1});
}

// Downloads: the time the bytes left take at the rate bytes came so far. The bytes left are
// those of the files whose size is known, and, for each download not ended whose size is not
// known yet (not started, or no Content-Length), the average size of those known.
std::optional<Duration> bytes_time_left(const ProgressCounters& c, uint64_t total) {
  if (!c.bytes) return std::nullopt;
  const FetchProgress& b = *c.bytes;
  const double seconds = to_seconds(c.elapsed);
  if (b.files_sized == 0 || b.received == 0 || seconds <= 0 || total < c.done) return std::nullopt;
  const uint64_t not_ended = total - c.done;
  const uint64_t unsized = not_ended - std::min(not_ended, b.files_sized - b.finished);
  const double average = static_cast<double>(b.bytes_sized) / static_cast<double>(b.files_sized);
  const double left = static_cast<double>(b.bytes_sized - std::min(b.bytes_sized, b.bytes_have)) +
                      static_cast<double>(unsized) * average;
  const double rate = static_cast<double>(b.received) / seconds;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(left / rate));
}

// Downloads: "120 MiB/400 MiB" (of the files whose size is known) and the rate bytes come at.
void add_byte_parts(std::vector<Part>& parts, const ProgressCounters& c) {
  if (!c.bytes) return;
  const FetchProgress& b = *c.bytes;
  const std::string got = b.files_sized > 0
                              ? fmt::format("{}/{}", human_bytes(static_cast<double>(b.bytes_have)),
                                            human_bytes(static_cast<double>(b.bytes_sized)))
                              : human_bytes(static_cast<double>(b.received));
  parts.push_back({got, got, 3});
  const double seconds = to_seconds(c.elapsed);
  const double rate = seconds > 0 ? static_cast<double>(b.received) / seconds : 0.0;
  const std::string per_second = human_bytes(rate) + "/s";
  parts.push_back({per_second, per_second, 4});
}

std::vector<Part> progress_parts(const ProgressCounters& c, bool eta, bool color) {
  const double seconds = to_seconds(c.elapsed);
  const double rate = seconds > 0 ? static_cast<double>(c.done) / seconds : 0.0;
  std::vector<Part> parts;
  // One file read part of the way: its jobs in all are about the records read so far over
  // the part of its bytes they came from.
  const std::optional<uint64_t> estimate = estimated_total(c);
  if (c.input_complete) {
    const uint64_t percent = c.read > 0 ? c.done * 100 / c.read : 100;
    parts.push_back({fmt::format("taskpool: {}/{} done ({}%)", c.done, c.read, percent),
                     fmt::format("taskpool: {}/{} ({}%)", c.done, c.read, percent), 0});
  } else if (estimate) {
    const uint64_t percent = c.done * 100 / *estimate;
    parts.push_back({fmt::format("taskpool: {}/~{} done ({}%)", c.done, *estimate, percent),
                     fmt::format("taskpool: {}/~{} ({}%)", c.done, *estimate, percent), 0});
  } else {
    parts.push_back({fmt::format("taskpool: {} done", c.done), "", 0});
    parts.back().compact = parts.back().full;
  }
  Part failed{fmt::format("{} failed", c.failed), "", 1};
  if (color && c.failed > 0) {
    failed.full = kRed + failed.full + kReset;
    failed.invisible = std::strlen(kRed) + std::strlen(kReset);
  }
  failed.compact = failed.full;
  parts.push_back(failed);
  parts.push_back({fmt::format("{} running", c.running), fmt::format("{} run", c.running), 3});
  parts.push_back({fmt::format("{:.1f} jobs/s", rate), fmt::format("{:.1f}/s", rate), 4});
  add_byte_parts(parts, c);
  parts.push_back({human_duration(c.elapsed), human_duration(c.elapsed), 5});
  const uint64_t total = c.input_complete ? c.read : estimate.value_or(c.read);
  const std::optional<Duration> bytes_left = bytes_time_left(c, total);
  if ((c.input_complete || estimate || eta) && (rate > 0 || bytes_left) && total >= c.done) {
    const Duration left =
        bytes_left ? *bytes_left
                   : std::chrono::duration_cast<Duration>(
                         std::chrono::duration<double>(static_cast<double>(total - c.done) / rate));
    // While input streams, only what was read so far is known: the real ETA is later. A file's
    // size gives an estimate instead.
    const char* mark = c.input_complete ? "" : estimate ? "~" : ">= ";
    const std::string text = fmt::format("ETA {}{}", mark, human_duration(left));
    parts.push_back({text, text, 2});
  }
  return parts;
}

// The parts ranked at most `max_rank`, joined; and the columns they take.
std::pair<std::string, size_t> join_parts(const std::vector<Part>& parts, bool compact,
                                          int max_rank) {
  std::string line;
  size_t invisible = 0;
  for (const Part& part : parts) {
    if (part.rank > max_rank) continue;
    if (!line.empty()) line += ", ";
    line += compact ? part.compact : part.full;
    invisible += part.invisible;
  }
  return {line, line.size() - invisible};
}

}  // namespace

std::string progress_line(const ProgressCounters& c, size_t width, bool eta, bool color) {
  const std::vector<Part> parts = progress_parts(c, eta, color);
  constexpr int kAll = 5;
  auto [line, columns] = join_parts(parts, false, kAll);
  if (width == 0 || columns <= width) return line;
  // Shorter words first, then the parts that matter least.
  for (int max_rank = kAll; max_rank >= 0; --max_rank) {
    std::tie(line, columns) = join_parts(parts, true, max_rank);
    if (columns <= width) return line;
  }
  return parts.front().compact.substr(0, width);
}

std::string bar_line(const ProgressCounters& c, size_t width, bool eta, bool color) {
  // The line takes what it needs of the width, short words first, and leaves the bar the rest.
  constexpr size_t kFrame = 3;  // "[", "]" and a space
  if (!c.input_complete || width <= kMinBar + kFrame) return progress_line(c, width, eta, color);
  std::string line = progress_line(c, width - kMinBar - kFrame, eta, color);
  const size_t invisible = color && c.failed > 0 ? std::strlen(kRed) + std::strlen(kReset) : 0;
  const size_t bar = width - kFrame - (line.size() - invisible);
  const uint64_t total = std::max<uint64_t>(c.read, 1);
  const auto filled = static_cast<size_t>(std::min<uint64_t>(c.done, total) * bar / total);
  std::string out = "[" + std::string(filled, '=');
  if (filled < bar) out += '>';
  out += std::string(bar - std::min(bar, filled + 1), ' ');
  return out + "] " + line;
}

bool is_smart_terminal(int fd) {
  if (!isatty(fd)) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

ProgressDisplay::ProgressDisplay(int fd, bool terminal, Duration interval, bool eta, bool color)
    : fd_(fd), terminal_(terminal), interval_(interval), eta_(eta), color_(color) {}

void ProgressDisplay::write(const std::string& text) { write_all(fd_, text, "standard error"); }

void ProgressDisplay::update(const ProgressCounters& counters, TimePoint now, bool force) {
  const Duration every = terminal_ ? kRedrawEvery : interval_;
  if (!force && last_ != TimePoint::min() && now - last_ < every) return;
  last_ = now;
  if (terminal_) {
    draw(counters);
  } else {
    write(progress_line(counters, 0, eta_, false) + "\n");
  }
}

void ProgressDisplay::restore(const ProgressCounters& counters) {
  if (terminal_ && !shown_ && last_ != TimePoint::min()) draw(counters);
}

void ProgressDisplay::draw(const ProgressCounters& counters) {
  // One column short of the width: writing the last column makes some terminals wrap.
  const size_t width = terminal_width(fd_) - 1;
  const std::string line =
      bar_ ? bar_line(counters, width, eta_, color_) : progress_line(counters, width, eta_, color_);
  write("\r" + line + "\x1b[K");
  shown_ = true;
}

void ProgressDisplay::clear() {
  if (!shown_) return;
  write("\r\x1b[K");
  shown_ = false;
}

void ProgressDisplay::finish(const ProgressCounters& counters) {
  if (terminal_) {
    clear();
    const size_t width = terminal_width(fd_) - 1;
    write((bar_ ? bar_line(counters, width, eta_, color_)
                : progress_line(counters, width, eta_, color_)) +
          "\n");
  } else {
    write(progress_line(counters, 0, eta_, false) + "\n");
  }
}

}  // namespace taskpool
