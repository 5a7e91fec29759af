#include "cli/timeline.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {

namespace {

constexpr double kWidth = 960;       // pixels for the time axis
constexpr double kLeft = 90;         // room for worker labels
constexpr double kRow = 18;          // pixels per worker
constexpr double kPanelHeader = 40;  // title and axis
constexpr double kLegend = 30;

struct Style {
  const char* name;
  const char* color;
};

Style style_of(Timeline::Outcome outcome) {
  switch (outcome) {
    case Timeline::Outcome::kOk:
      return {"ok", "#4caf50"};
    case Timeline::Outcome::kFailed:
      return {"failed", "#e53935"};
    case Timeline::Outcome::kRetried:
      return {"retried", "#fb8c00"};
    case Timeline::Outcome::kTimedOut:
      return {"timed out", "#8e24aa"};
    case Timeline::Outcome::kKilled:
      return {"killed", "#616161"};
  }
  return {"ok", "#4caf50"};
}

std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A tick step of 1, 2 or 5 times a power of ten that gives about 10 ticks.
double tick_step(double length) {
  if (length <= 0) return 1;
  const double raw = length / 10;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * power) return m * power;
  }
  return 10 * power;
}

}  // namespace

Timeline::Timeline(std::string title, int workers, TimePoint start)
    : title_(std::move(title)), workers_(workers), rows_(workers), start_(start) {}

void Timeline::set_worker_changes(const std::vector<WorkerChange>& changes) {
  changes_.clear();
  rows_ = workers_;
  for (const WorkerChange& change : changes) {
    changes_.emplace_back(to_seconds(change.at - start_), change.workers);
    rows_ = std::max(rows_, change.workers);
  }
}

std::vector<std::pair<double, double>> Timeline::worker_spans(int w) const {
  std::vector<std::pair<double, double>> spans;
  double from = 0;
  bool in = w <= workers_;
  for (const auto& [at, workers] : changes_) {
    const bool now_in = w <= workers;
    if (in && !now_in) spans.emplace_back(from, at);
    if (!in && now_in) from = at;
    in = now_in;
  }
  if (in) spans.emplace_back(from, length_);
  return spans;
}

void Timeline::add(const Completion& completion, bool retried) {
  if (!completion.started) return;  // nothing ran: no bar
  if (bars_.size() >= kMaxAttempts) {
    ++not_drawn_;
    return;
  }
  Outcome outcome = Outcome::kOk;
  if (completion.timed_out) {
    outcome = Outcome::kTimedOut;
  } else if (completion.stopped) {
    outcome = Outcome::kKilled;
  } else if (retried) {
    outcome = Outcome::kRetried;
  } else if (!completion.succeeded()) {
    outcome = Outcome::kFailed;
  }
  bars_.push_back({completion.worker, to_seconds(completion.start - start_),
                   to_seconds(completion.end - start_), outcome});
}

void Timeline::finish(TimePoint end) { length_ = to_seconds(end - start_); }

std::string timeline_svg(const std::vector<const Timeline*>& runs) {
  double length = 0;
  double height = kLegend;
  for (const Timeline* run : runs) {
    length = std::max(length, run->length());
    height += kPanelHeader + kRow * run->workers() + 10;
  }
  if (length <= 0) length = 1;
  const double scale = kWidth / length;
  const double total_width = kLeft + kWidth + 20;
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      total_width, height, total_width, height);
  double y = 0;
  const double step = tick_step(length);
  for (const Timeline* run : runs) {
    svg += fmt::format("<g class=\"run\" data-title=\"{}\">\n", escape(run->title()));
    svg +=
        fmt::format("<text x=\"4\" y=\"{:.1f}\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                    y + 16, escape(run->title()));
    const double top = y + kPanelHeader;
    const double rows = kRow * run->workers();
    // Time axis with ticks; the grey background is idle worker time.
    for (double t = 0; t <= length + 1e-9; t += step) {
      const double x = kLeft + t * scale;
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#555\">{4:g} s</text>\n",
          x, top - 4, top + rows, top - 8, t);
    }
    for (int w = 1; w <= run->workers(); ++w) {
      const double row_y = top + kRow * (w - 1);
      svg += fmt::format("<g class=\"worker\" data-worker=\"{}\">", w);
      for (const auto& [from, to] : run->worker_spans(w)) {
        svg += fmt::format(
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
            "fill=\"#f0f0f0\"/>",
            kLeft + from * scale, row_y + 1, std::max(0.0, to - from) * scale, kRow - 2);
      }
      svg += fmt::format("<text x=\"4\" y=\"{:.1f}\">worker {}</text></g>\n", row_y + kRow - 5, w);
    }
    // Where the pool was resized: a mark with the new number of workers.
    for (const auto& [at, workers] : run->changes()) {
      const double x = kLeft + at * scale;
      svg += fmt::format(
          "<g class=\"resize\" data-workers=\"{0}\" data-at=\"{1:.3f}\"><line x1=\"{2:.1f}\" "
          "y1=\"{3:.1f}\" x2=\"{2:.1f}\" y2=\"{4:.1f}\" stroke=\"#333\" "
          "stroke-dasharray=\"3,2\"/><text x=\"{5:.1f}\" y=\"{6:.1f}\" fill=\"#333\">"
          "-j {0}</text></g>\n",
          workers, at, x, top, top + rows, x + 2, top + 10);
    }
    for (const Timeline::Bar& bar : run->bars()) {
      const Style s = style_of(bar.outcome);
      const double x = kLeft + bar.start * scale;
      const double width = std::max(0.5, (bar.end - bar.start) * scale);
      svg += fmt::format(
          "<rect class=\"attempt\" data-worker=\"{}\" data-outcome=\"{}\" x=\"{:.2f}\" "
          "y=\"{:.1f}\" width=\"{:.2f}\" height=\"{:.1f}\" fill=\"{}\" stroke=\"white\" "
          "stroke-width=\"0.5\"><title>worker {}: {:.3f} s to {:.3f} s, {}</title></rect>\n",
          bar.worker, s.name, x, top + kRow * (bar.worker - 1) + 1, width, kRow - 2, s.color,
          bar.worker, bar.start, bar.end, s.name);
    }
    if (run->not_drawn() > 0) {
      svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#b00\">{} more attempts not "
          "drawn</text>\n",
          kLeft, top + rows + 12, run->not_drawn());
    }
    svg += "</g>\n";
    y = top + rows + 10;
  }
  // The legend.
  double x = kLeft;
  for (const auto outcome :
       {Timeline::Outcome::kOk, Timeline::Outcome::kFailed, Timeline::Outcome::kRetried,
        Timeline::Outcome::kTimedOut, Timeline::Outcome::kKilled}) {
    const Style s = style_of(outcome);
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        x, y + 8, s.color, x + 16, y + 18, s.name);
    x += 90;
  }
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"#f0f0f0\"/>"
      "<text x=\"{:.1f}\" y=\"{:.1f}\">idle</text>\n",
      x, y + 8, x + 16, y + 18);
  svg += "</svg>\n";
  return svg;
}

void write_timeline(const std::string& path, const std::vector<const Timeline*>& runs) {
  const std::string svg = timeline_svg(runs);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw system_error("--timeline: cannot open '" + path + "'");
  const std::string what = "--timeline file '" + path + "'";
  try {
    write_all(fd, svg, what.c_str());
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw system_error("--timeline: cannot write '" + path + "'");
}

}  // namespace taskpool
