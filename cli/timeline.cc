#include "cli/timeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

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

namespace {

Timeline::Outcome outcome_of(const Completion& completion, bool retried) {
  if (completion.timed_out) return Timeline::Outcome::kTimedOut;
  if (completion.stopped) return Timeline::Outcome::kKilled;
  if (retried) return Timeline::Outcome::kRetried;
  if (!completion.succeeded()) return Timeline::Outcome::kFailed;
  return Timeline::Outcome::kOk;
}

// The start of a command, for a tooltip.
std::string label_of(const std::string& line) {
  constexpr size_t kLabel = 60;
  return line.size() <= kLabel ? line : line.substr(0, kLabel - 3) + "...";
}

}  // namespace

void Timeline::add(const Attempt& attempt, const Completion& completion, bool retried) {
  if (!completion.started) return;  // nothing ran: no bar
  ++attempts_;
  const Outcome outcome = outcome_of(completion, retried);
  const double start = to_seconds(completion.start - start_);
  const double end = std::max(start, to_seconds(completion.end - start_));
  if (binned_) {
    add_to_bins(bins_, bin_width_, completion.worker, start, end, outcome);
    return;
  }
  bars_.push_back(
      {completion.worker, start, end, outcome, attempt.seq, label_of(attempt.command.line)});
  const auto row = static_cast<size_t>(completion.worker - 1);
  if (bars_per_row_.size() <= row) bars_per_row_.resize(row + 1, 0);
  ++bars_per_row_[row];
  if (bars_.size() > kMaxBars) to_bins();
}

void Timeline::to_bins() {
  double end = 0;
  for (const Bar& bar : bars_) end = std::max(end, bar.end);
  // Room to grow: the stretches double when the run outlasts them.
  bin_width_ = std::max(end, 1e-3) * 2 / static_cast<double>(kBins);
  for (const Bar& bar : bars_) {
    add_to_bins(bins_, bin_width_, bar.worker, bar.start, bar.end, bar.outcome);
  }
  std::vector<Bar>().swap(bars_);
  binned_ = true;
}

void Timeline::add_to_bins(std::vector<std::vector<Bin>>& rows, double& width, WorkerId worker,
                           double start, double end, Outcome outcome) const {
  while (end > width * static_cast<double>(kBins)) {
    // Twice as long a stretch: each two become one.
    for (auto& row : rows) {
      for (size_t i = 0; i < kBins; ++i) {
        Bin merged;
        for (const size_t from : {2 * i, 2 * i + 1}) {
          if (from >= kBins) continue;
          for (size_t o = 0; o < kOutcomes; ++o) merged.busy[o] += row[from].busy[o];
          merged.attempts += row[from].attempts;
          merged.failed += row[from].failed;
        }
        row[i] = merged;
      }
    }
    width *= 2;
  }
  const auto r = static_cast<size_t>(worker - 1);
  if (rows.size() <= r) rows.resize(r + 1, std::vector<Bin>(kBins));
  std::vector<Bin>& row = rows[r];
  // The stretch that holds the attempt's last moment (an end on a boundary is the one before).
  auto last = static_cast<size_t>(end / width);
  if (last > 0 && end > start && static_cast<double>(last) * width >= end) --last;
  last = std::min(kBins - 1, last);
  for (auto i = static_cast<size_t>(start / width); i <= last; ++i) {
    const double from = std::max(start, static_cast<double>(i) * width);
    const double to = std::min(end, static_cast<double>(i + 1) * width);
    if (to > from) row[i].busy[static_cast<size_t>(outcome)] += static_cast<float>(to - from);
  }
  Bin& ended = row[last];
  ++ended.attempts;
  if (outcome == Outcome::kFailed || outcome == Outcome::kTimedOut) ++ended.failed;
}

bool Timeline::dense() const {
  return binned_ || std::ranges::any_of(bars_per_row_, [](uint32_t n) { return n > kBarsPerRow; });
}

double Timeline::bin_seconds() const {
  if (binned_) return bin_width_;
  return std::max(length_, 1e-3) / static_cast<double>(kBins);
}

std::vector<Timeline::Bin> Timeline::bins(int w) const {
  const auto r = static_cast<size_t>(w - 1);
  if (binned_) return r < bins_.size() ? bins_[r] : std::vector<Bin>(kBins);
  // Bars too thin to draw: their stretches, made now, over the whole run.
  std::vector<std::vector<Bin>> rows(1, std::vector<Bin>(kBins));
  double width = bin_seconds();
  for (const Bar& bar : bars_) {
    if (bar.worker == w) add_to_bins(rows, width, 1, bar.start, bar.end, bar.outcome);
  }
  return rows.front();
}

void Timeline::finish(TimePoint end) { length_ = to_seconds(end - start_); }

void check_timeline_path(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return;
  std::string extension = path.substr(dot + 1);
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* picture : {"png", "jpg", "jpeg", "gif", "webp", "pdf", "bmp", "tif", "tiff"}) {
    if (extension == picture) {
      throw UsageError(fmt::format(
          "--timeline: '{}': the chart is written as SVG, not {} (name the file .svg; any "
          "browser opens it)",
          path, extension));
    }
  }
}

namespace {

// One run's panel: where it is drawn and at what scale.
struct Panel {
  double top;    // of the first row
  double scale;  // pixels per second
};

void draw_axis(std::string& svg, const Timeline& run, const Panel& panel, double length) {
  const double rows = kRow * run.workers();
  const double step = tick_step(length);
  for (double t = 0; t <= length + 1e-9; t += step) {
    const double x = kLeft + t * panel.scale;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#555\">{4:g} s</text>\n",
        x, panel.top - 4, panel.top + rows, panel.top - 8, t);
  }
  // The grey background is the time each worker was in the pool.
  for (int w = 1; w <= run.workers(); ++w) {
    const double row_y = panel.top + kRow * (w - 1);
    svg += fmt::format("<g class=\"worker\" data-worker=\"{}\">", w);
    for (const auto& [from, to] : run.worker_spans(w)) {
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"#f0f0f0\"/>",
          kLeft + from * panel.scale, row_y + 1, std::max(0.0, to - from) * panel.scale, kRow - 2);
    }
    svg += fmt::format("<text x=\"4\" y=\"{:.1f}\">worker {}</text></g>\n", row_y + kRow - 5, w);
  }
  // Where the pool was resized: a mark with the new number of workers.
  for (const auto& [at, workers] : run.changes()) {
    const double x = kLeft + at * panel.scale;
    svg += fmt::format(
        "<g class=\"resize\" data-workers=\"{0}\" data-at=\"{1:.3f}\"><line x1=\"{2:.1f}\" "
        "y1=\"{3:.1f}\" x2=\"{2:.1f}\" y2=\"{4:.1f}\" stroke=\"#333\" "
        "stroke-dasharray=\"3,2\"/><text x=\"{5:.1f}\" y=\"{6:.1f}\" fill=\"#333\">"
        "-j {0}</text></g>\n",
        workers, at, x, panel.top, panel.top + rows, x + 2, panel.top + 10);
  }
}

void draw_bars(std::string& svg, const Timeline& run, const Panel& panel) {
  for (const Timeline::Bar& bar : run.bars()) {
    const Style s = style_of(bar.outcome);
    const double x = kLeft + bar.start * panel.scale;
    const double width = std::max(0.5, (bar.end - bar.start) * panel.scale);
    // A white edge tells bars apart where they are wide enough to spare it.
    const char* edge = width >= 3 ? " stroke=\"white\" stroke-width=\"0.5\"" : "";
    const std::string job = bar.seq != 0 ? fmt::format("job {}: {}, ", bar.seq, bar.label) : "";
    svg += fmt::format(
        "<rect class=\"attempt\" data-worker=\"{}\" data-outcome=\"{}\" x=\"{:.2f}\" "
        "y=\"{:.1f}\" width=\"{:.2f}\" height=\"{:.1f}\" fill=\"{}\"{}><title>{}worker {}: "
        "{:.3f} s to {:.3f} s, {}</title></rect>\n",
        bar.worker, s.name, x, panel.top + kRow * (bar.worker - 1) + 1, width, kRow - 2, s.color,
        edge, escape(job), bar.worker, bar.start, bar.end, s.name);
  }
}

// A stretch of a row as drawn in density mode: the colour of the outcome that took most of its
// time, as opaque as the worker was busy (in tenths, so that neighbours alike are one rect).
std::pair<Timeline::Outcome, int> shade(const Timeline::Bin& bin, double seconds) {
  size_t most = 0;
  float busy = 0;
  for (size_t o = 0; o < Timeline::kOutcomes; ++o) {
    busy += bin.busy[o];
    if (bin.busy[o] > bin.busy[most]) most = o;
  }
  // Any busy time shows, however little: a stretch where attempts ran is never blank.
  int tenths = static_cast<int>(std::lround(std::min(1.0, busy / seconds) * 10));
  if (busy > 0 || bin.attempts > 0) tenths = std::max(tenths, 1);
  return {static_cast<Timeline::Outcome>(most), tenths};
}

void draw_density(std::string& svg, const Timeline& run, const Panel& panel) {
  const double seconds = run.bin_seconds();
  for (int w = 1; w <= run.workers(); ++w) {
    const std::vector<Timeline::Bin> bins = run.bins(w);
    for (size_t i = 0; i < bins.size();) {
      const auto [outcome, tenths] = shade(bins[i], seconds);
      size_t end = i + 1;
      uint64_t attempts = bins[i].attempts;
      uint64_t failed = bins[i].failed;
      for (; end < bins.size() && shade(bins[end], seconds) == std::make_pair(outcome, tenths);
           ++end) {
        attempts += bins[end].attempts;
        failed += bins[end].failed;
      }
      if (tenths > 0) {
        const Style s = style_of(outcome);
        const double from = static_cast<double>(i) * seconds;
        const double to = static_cast<double>(end) * seconds;
        svg += fmt::format(
            "<rect class=\"busy\" data-worker=\"{}\" data-outcome=\"{}\" data-busy=\"{}\" "
            "x=\"{:.2f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"{:.1f}\" fill=\"{}\" "
            "fill-opacity=\"{:.1f}\"><title>worker {}: {:.3f} s to {:.3f} s, busy {}0%, {} "
            "attempts ended, {} failed</title></rect>\n",
            w, s.name, tenths * 10, kLeft + from * panel.scale, panel.top + kRow * (w - 1) + 1,
            (to - from) * panel.scale, kRow - 2, s.color, tenths / 10.0, w, from, to, tenths,
            attempts, failed);
      }
      i = end;
    }
  }
}

void draw_legend(std::string& svg, double y) {
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
}

}  // namespace

std::string timeline_svg(const std::vector<const Timeline*>& runs) {
  double length = 0;
  double height = kLegend;
  for (const Timeline* run : runs) {
    length = std::max(length, run->length());
    height += kPanelHeader + kRow * run->workers() + 10;
  }
  if (length <= 0) length = 1;
  const double total_width = kLeft + kWidth + 20;
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      total_width, height, total_width, height);
  double y = 0;
  for (const Timeline* run : runs) {
    const bool dense = run->dense();
    svg +=
        fmt::format("<g class=\"run\" data-title=\"{}\" data-attempts=\"{}\" data-drawn=\"{}\">\n",
                    escape(run->title()), run->attempts(), dense ? "density" : "bars");
    std::string title = escape(run->title());
    if (dense) {
      title +=
          fmt::format(" ({} attempts: each row shaded as busy as its worker was)", run->attempts());
    }
    svg +=
        fmt::format("<text x=\"4\" y=\"{:.1f}\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                    y + 16, title);
    const Panel panel{y + kPanelHeader, kWidth / length};
    draw_axis(svg, *run, panel, length);
    if (dense) {
      draw_density(svg, *run, panel);
    } else {
      draw_bars(svg, *run, panel);
    }
    svg += "</g>\n";
    y = panel.top + kRow * run->workers() + 10;
  }
  draw_legend(svg, y);
  svg += "</svg>\n";
  return svg;
}

}  // namespace taskpool
