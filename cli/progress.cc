#include "cli/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

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

std::string progress_line(const ProgressCounters& c, size_t width, bool eta, bool color) {
  const double seconds = to_seconds(c.elapsed);
  const double rate = seconds > 0 ? static_cast<double>(c.done) / seconds : 0.0;
  // The parts, most important first: a narrow terminal keeps the first ones.
  std::vector<std::string> parts;
  if (c.input_complete) {
    const uint64_t percent = c.read > 0 ? c.done * 100 / c.read : 100;
    parts.push_back(fmt::format("taskpool: {}/{} done ({}%)", c.done, c.read, percent));
  } else {
    parts.push_back(fmt::format("taskpool: {} done", c.done));
  }
  std::string failed = fmt::format("{} failed", c.failed);
  size_t invisible = 0;  // bytes of escape codes, which take no columns
  if (color && c.failed > 0) {
    failed = kRed + failed + kReset;
    invisible = std::strlen(kRed) + std::strlen(kReset);
  }
  parts.push_back(failed);
  parts.push_back(fmt::format("{} running", c.running));
  parts.push_back(fmt::format("{:.1f} jobs/s", rate));
  parts.push_back(human_duration(c.elapsed));
  const bool estimate = c.input_complete || eta;
  if (estimate && rate > 0 && c.read >= c.done) {
    const auto left = std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(static_cast<double>(c.read - c.done) / rate));
    // While input streams, only what was read so far is known: the real ETA is later.
    parts.push_back(fmt::format("ETA {}{}", c.input_complete ? "" : ">= ", human_duration(left)));
  }
  std::string line;
  for (const std::string& part : parts) {
    std::string next = line;
    if (!next.empty()) next += ", ";
    next += part;
    const size_t columns = next.size() - (next.find(kRed) != std::string::npos ? invisible : 0);
    if (width > 0 && columns > width) break;
    line = std::move(next);
  }
  if (line.empty()) line = parts.front().substr(0, width);
  return line;
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
    // One column short of the width: writing the last column makes some terminals wrap.
    const size_t width = terminal_width(fd_) - 1;
    write("\r" + progress_line(counters, width, eta_, color_) + "\x1b[K");
    shown_ = true;
  } else {
    write(progress_line(counters, 0, eta_, false) + "\n");
  }
}

void ProgressDisplay::clear() {
  if (!shown_) return;
  write("\r\x1b[K");
  shown_ = false;
}

void ProgressDisplay::finish(const ProgressCounters& counters) {
  if (terminal_) {
    clear();
    write(progress_line(counters, terminal_width(fd_) - 1, eta_, color_) + "\n");
  } else {
    write(progress_line(counters, 0, eta_, false) + "\n");
  }
}

}  // namespace taskpool
