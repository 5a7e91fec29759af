#include "cli/progress.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "cli/timeline.h"
#include "core/error.h"

namespace taskpool {
namespace {

using namespace std::chrono_literals;

ProgressCounters counters(uint64_t done, uint64_t failed, uint64_t running, uint64_t read,
                          bool complete, Duration elapsed) {
  ProgressCounters c;
  c.done = done;
  c.failed = failed;
  c.running = running;
  c.read = read;
  c.input_complete = complete;
  c.elapsed = elapsed;
  return c;
}

TEST_CASE("the progress line once the input is complete: done of total, rate, ETA") {
  CHECK(progress_line(counters(120, 3, 4, 500, true, 10s), 0, false, false) ==
        "taskpool: 120/500 done (24%), 3 failed, 4 running, 12.0 jobs/s, 10.00 s, ETA 31.67 s");
}

TEST_CASE("while the input streams: no total, and an ETA only with --eta, marked as a bound") {
  CHECK(progress_line(counters(50, 0, 2, 80, false, 5s), 0, false, false) ==
        "taskpool: 50 done, 0 failed, 2 running, 10.0 jobs/s, 5.00 s");
  CHECK(progress_line(counters(50, 0, 2, 80, false, 5s), 0, true, false) ==
        "taskpool: 50 done, 0 failed, 2 running, 10.0 jobs/s, 5.00 s, ETA >= 3.00 s");
}

TEST_CASE("downloads show their bytes, the rate bytes come at, and an ETA from the bytes left") {
  // 10 downloads: 4 done (4 MiB in all), 2 running with sizes known (2 MiB and 6 MiB, 1 MiB of
  // each received), 4 not started; 6 MiB received in 6 s.
  ProgressCounters c = counters(4, 0, 2, 10, true, 6s);
  constexpr uint64_t kMiB = 1024 * 1024;
  c.bytes = FetchProgress{6 * kMiB, 4, 6, 12 * kMiB, 6 * kMiB};
  // Left: 6 MiB of the running ones, and 4 not started at the 2 MiB known files average: 14 MiB
  // at 1 MiB/s. (By the count of files it would be 6 jobs at 0.67 jobs/s: 9 s.)
  CHECK(progress_line(c, 0, false, false) ==
        "taskpool: 4/10 done (40%), 0 failed, 2 running, 0.7 jobs/s, 6.00 MiB/12.0 MiB, "
        "1.00 MiB/s, 6.00 s, ETA 14.00 s");
  // No size known yet: the bytes received, and the ETA by the count of files.
  c.bytes = FetchProgress{512, 0, 0, 0, 0};
  CHECK(progress_line(c, 0, false, false) ==
        "taskpool: 4/10 done (40%), 0 failed, 2 running, 0.7 jobs/s, 512 B, 85 B/s, 6.00 s, "
        "ETA 9.00 s");
  // 80 columns keep the count, the failures, the bytes and the ETA.
  c.bytes = FetchProgress{6 * kMiB, 4, 6, 12 * kMiB, 6 * kMiB};
  const std::string narrow = progress_line(c, 79, false, false);
  CHECK(narrow.size() <= 79);
  CHECK(narrow.find("6.00 MiB/12.0 MiB") != std::string::npos);
  CHECK(narrow.find("ETA 14.00 s") != std::string::npos);
}

TEST_CASE("a narrow terminal gets shorter words, then drops what matters least, ETA last") {
  const auto c = counters(120, 3, 4, 500, true, 10s);
  // 80 columns (79 used): every part fits in its short words.
  CHECK(progress_line(c, 79, false, false) ==
        "taskpool: 120/500 (24%), 3 failed, 4 run, 12.0/s, 10.00 s, ETA 31.67 s");
  CHECK(progress_line(c, 60, false, false) ==
        "taskpool: 120/500 (24%), 3 failed, 4 run, ETA 31.67 s");
  CHECK(progress_line(c, 50, false, false) == "taskpool: 120/500 (24%), 3 failed, ETA 31.67 s");
  CHECK(progress_line(c, 40, false, false) == "taskpool: 120/500 (24%), 3 failed");
  CHECK(progress_line(c, 10, false, false) == "taskpool: ");
  for (size_t width = 10; width < 100; ++width) {
    CAPTURE(width);
    const std::string line = progress_line(c, width, false, false);
    CHECK(line.size() <= width);
    // The ETA goes only when nothing but the count and the failures fits.
    CHECK((line.find("ETA") != std::string::npos) == (width >= 46));
  }
}

TEST_CASE("a file read part of the way gives an estimated total and ETA, marked '~'") {
  ProgressCounters c = counters(100, 0, 2, 400, false, 10s);
  c.fraction_read = 0.25;  // 400 records from a quarter of the file: about 1600 in all
  CHECK(progress_line(c, 0, false, false) ==
        "taskpool: 100/~1600 done (6%), 0 failed, 2 running, 10.0 jobs/s, 10.00 s, ETA ~2m 30s");
  // Too little read to stand for the whole file: no estimate, as for a stream.
  c.read = 50;
  CHECK(progress_line(c, 0, false, false) ==
        "taskpool: 100 done, 0 failed, 2 running, 10.0 jobs/s, 10.00 s");
  c.read = 400;
  c.fraction_read = 0.005;
  CHECK(progress_line(c, 0, false, false).find('~') == std::string::npos);
}

TEST_CASE("colour marks failures only, and only when asked; escape codes take no width") {
  const auto failing = counters(10, 2, 1, 20, true, 1s);
  const std::string plain = progress_line(failing, 0, false, false);
  CHECK(plain.find('\x1b') == std::string::npos);
  const std::string colored = progress_line(failing, 0, false, true);
  CHECK(colored.find("\x1b[31m2 failed\x1b[0m") != std::string::npos);
  CHECK(progress_line(counters(10, 0, 1, 20, true, 1s), 0, false, true).find('\x1b') ==
        std::string::npos);
  CHECK(progress_line(failing, 48, false, true).find("failed") != std::string::npos);
}

TEST_CASE("no jobs done yet gives no ETA and no division by zero") {
  CHECK(progress_line(counters(0, 0, 2, 10, true, 0s), 0, true, false) ==
        "taskpool: 0/10 done (0%), 0 failed, 2 running, 0.0 jobs/s, 0 ms");
}

TEST_CASE("outside a terminal, progress is plain lines at the interval, no escape codes") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  {
    ProgressDisplay display(fds[1], false, 30s, false, false);
    const TimePoint t0{};
    display.update(counters(1, 0, 1, 5, true, 1s), t0);
    display.update(counters(2, 0, 1, 5, true, 2s), t0 + 10s);  // too soon: nothing
    display.update(counters(3, 0, 1, 5, true, 31s), t0 + 31s);
    display.clear();  // nothing to erase in a log
    display.finish(counters(5, 0, 0, 5, true, 40s));
  }
  close(fds[1]);
  std::string text(4096, '\0');
  text.resize(static_cast<size_t>(read(fds[0], text.data(), text.size())));
  close(fds[0]);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text ==
        "taskpool: 1/5 done (20%), 0 failed, 1 running, 1.0 jobs/s, 1.00 s, ETA 4.00 s\n"
        "taskpool: 3/5 done (60%), 0 failed, 1 running, 0.1 jobs/s, 31.00 s, ETA 20.67 s\n"
        "taskpool: 5/5 done (100%), 0 failed, 0 running, 0.1 jobs/s, 40.00 s, ETA 0 ms\n");
}

TEST_CASE("on a terminal, the line cleared for job output is drawn again at once") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  {
    ProgressDisplay display(fds[1], true, 30s, false, false);
    const TimePoint t0{};
    display.restore(counters(0, 0, 1, 5, true, 0s));  // nothing drawn yet: nothing to restore
    display.update(counters(1, 0, 1, 5, true, 1s), t0);
    display.clear();
    display.restore(counters(2, 0, 1, 5, true, 1s));  // within the redraw interval all the same
    display.restore(counters(3, 0, 1, 5, true, 1s));  // shown already: nothing
  }
  close(fds[1]);
  std::string text(4096, '\0');
  text.resize(static_cast<size_t>(read(fds[0], text.data(), text.size())));
  close(fds[0]);
  const size_t cleared = text.find("\r\x1b[K");
  REQUIRE(cleared != std::string::npos);
  CHECK(text.find("1/5 done") < cleared);
  CHECK(text.find("2/5 done") > cleared);
  CHECK(text.find("0/5 done") == std::string::npos);
  CHECK(text.find("3/5 done") == std::string::npos);
}

Completion attempt(WorkerId worker, TimePoint start, Duration length, int exit_status = 0) {
  Completion c;
  c.worker = worker;
  c.start = start;
  c.end = start + length;
  c.exit_status = exit_status;
  return c;
}

TEST_CASE("the timeline has one row per worker and one bar per attempt, coloured by outcome") {
  const TimePoint t0{};
  Timeline timeline("pool mode", 3, t0);
  timeline.add(attempt(1, t0, 1s), false);
  timeline.add(attempt(2, t0, 2s, 1), true);  // failed, will be retried
  timeline.add(attempt(2, t0 + 3s, 1s, 1), false);
  Completion timed_out = attempt(3, t0, 4s);
  timed_out.timed_out = true;
  timed_out.signal = 15;
  timeline.add(timed_out, false);
  Completion never;  // could not start: nothing to draw
  never.started = false;
  timeline.add(never, false);
  timeline.finish(t0 + 4s);
  const std::string svg = timeline_svg({&timeline});
  const auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count("class=\"worker\"") == 3);
  CHECK(count("class=\"attempt\"") == 4);
  CHECK(count("data-outcome=\"ok\"") == 1);
  CHECK(count("data-outcome=\"retried\"") == 1);
  CHECK(count("data-outcome=\"failed\"") == 1);
  CHECK(count("data-outcome=\"timed out\"") == 1);
  CHECK(svg.find("pool mode") != std::string::npos);
}

TEST_CASE("a resized pool gets a row for the most workers, each shaded while it was there") {
  const TimePoint t0{};
  Timeline timeline("pool mode", 2, t0);
  timeline.add(attempt(3, t0 + 1s, 1s), false);
  timeline.finish(t0 + 4s);
  timeline.set_worker_changes({{t0 + 1s, 3}, {t0 + 3s, 1}});
  CHECK(timeline.workers() == 3);
  using Spans = std::vector<std::pair<double, double>>;
  CHECK(timeline.worker_spans(1) == Spans{{0, 4}});
  CHECK(timeline.worker_spans(2) == Spans{{0, 3}});
  CHECK(timeline.worker_spans(3) == Spans{{1, 3}});
  const std::string svg = timeline_svg({&timeline});
  CHECK(svg.find("class=\"resize\" data-workers=\"3\" data-at=\"1.000\"") != std::string::npos);
  CHECK(svg.find("class=\"resize\" data-workers=\"1\" data-at=\"3.000\"") != std::string::npos);
  CHECK(svg.find("data-worker=\"3\"") != std::string::npos);
}

TEST_CASE("two runs share one time scale, one panel each") {
  const TimePoint t0{};
  Timeline batch("batch mode", 2, t0);
  batch.add(attempt(1, t0, 4s), false);
  batch.finish(t0 + 4s);
  Timeline pool("pool mode", 2, t0);
  pool.add(attempt(1, t0, 2s), false);
  pool.finish(t0 + 2s);
  const std::string svg = timeline_svg({&batch, &pool});
  // The 4 s batch bar spans the whole axis (960 px); the 2 s pool bar half of it.
  CHECK(svg.find("width=\"960.00\"") != std::string::npos);
  CHECK(svg.find("width=\"480.00\"") != std::string::npos);
  CHECK(svg.find("data-title=\"batch mode\"") < svg.find("data-title=\"pool mode\""));
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("a bar's tooltip names its job and command") {
  const TimePoint t0{};
  Timeline timeline("pool mode", 1, t0);
  Attempt a{7, 1, 1, Command{"sleep 'a <b>'", {}}};
  timeline.add(a, attempt(1, t0, 1s), false);
  timeline.finish(t0 + 1s);
  CHECK(timeline_svg({&timeline})
            .find("<title>job 7: sleep 'a &lt;b&gt;', worker 1: 0.000 s to "
                  "1.000 s, ok</title>") != std::string::npos);
}

TEST_CASE("bars too thin to see are drawn as each row's density: a busy pool looks busy") {
  const TimePoint t0{};
  Timeline timeline("pool mode", 2, t0);
  // 1000 attempts of 9 ms with 1 ms between them on each worker: 90% busy; 1 in 100 fails.
  for (int w = 1; w <= 2; ++w) {
    for (int i = 0; i < 1000; ++i) {
      timeline.add(attempt(w, t0 + i * 10ms, 9ms, i % 100 == 0 ? 1 : 0), false);
    }
  }
  timeline.finish(t0 + 10s);
  CHECK(timeline.dense());
  const std::string svg = timeline_svg({&timeline});
  CHECK(count_of(svg, "class=\"attempt\"") == 0);
  CHECK(count_of(svg, "class=\"busy\" data-worker=\"1\" data-outcome=\"ok\" data-busy=\"90\"") >=
        1);
  CHECK(count_of(svg, "class=\"busy\"") <= 20);  // stretches alike are one shape
  CHECK(svg.size() < 20000);
  CHECK(svg.find("2000 attempts") != std::string::npos);
}

TEST_CASE("past kMaxBars the timeline keeps stretches, not bars: memory bounded, time true") {
  const TimePoint t0{};
  Timeline timeline("pool mode", 4, t0);
  const size_t n = Timeline::kMaxBars * 3;
  double busy = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto w = static_cast<WorkerId>(i % 4 + 1);
    const auto start = t0 + std::chrono::milliseconds(i / 4 * 5);
    timeline.add(attempt(w, start, 4ms, i % 10 == 0 ? 1 : 0), false);
    busy += 0.004;
  }
  timeline.finish(t0 + std::chrono::milliseconds(n / 4 * 5));
  CHECK(timeline.dense());
  CHECK(timeline.bars().empty());
  CHECK(timeline.attempts() == n);
  double counted = 0;
  uint64_t attempts = 0;
  uint64_t failed = 0;
  for (int w = 1; w <= 4; ++w) {
    const auto bins = timeline.bins(w);
    CHECK(bins.size() == Timeline::kBins);
    for (const auto& bin : bins) {
      for (const float seconds : bin.busy) counted += seconds;
      attempts += bin.attempts;
      failed += bin.failed;
    }
  }
  CHECK(counted == doctest::Approx(busy).epsilon(0.001));
  CHECK(attempts == n);
  CHECK(failed == n / 10);
  // The whole run fits the stretches: the last one holds the end.
  CHECK(timeline.bin_seconds() * Timeline::kBins >= timeline.length());
}

TEST_CASE("--timeline refuses a picture name it would fill with SVG") {
  CHECK_THROWS_WITH_AS(check_timeline_path("run.png"),
                       doctest::Contains("--timeline: 'run.png': the chart is written as SVG"),
                       UsageError);
  CHECK_THROWS_AS(check_timeline_path("out/RUN.PDF"), UsageError);
  CHECK_NOTHROW(check_timeline_path("run.svg"));
  CHECK_NOTHROW(check_timeline_path("run"));
  CHECK_NOTHROW(check_timeline_path("dir.png/run"));
}

TEST_CASE("--bar: a bar fills what the progress line leaves of the width") {
  const auto half = counters(250, 0, 4, 500, true, 10s);
  // The line takes what it needs (at most all but 10 columns and the frame), the bar the rest.
  const std::string text = progress_line(half, 80 - kMinBar - 3, false, false);
  const size_t bar = 80 - 3 - text.size();
  CHECK(bar >= kMinBar);
  CHECK(bar_line(half, 80, false, false) ==
        "[" + std::string(bar / 2, '=') + ">" + std::string(bar - bar / 2 - 1, ' ') + "] " + text);
  const auto done = counters(500, 0, 0, 500, true, 10s);
  const std::string whole = bar_line(done, 80, false, false);
  CHECK(whole.size() == 80);
  CHECK(whole.substr(0, whole.find(']') + 1) == "[" + std::string(whole.find(']') - 1, '=') + "]");
  const auto none = counters(0, 0, 2, 500, true, 0s);
  CHECK(bar_line(none, 80, false, false).starts_with("[> "));
  for (size_t width = 5; width < 120; ++width) {
    CAPTURE(width);
    CHECK(bar_line(half, width, false, false).size() <= width);
  }
  // Until the total is known, or without room for a bar: the progress line alone.
  const auto streaming = counters(250, 0, 4, 400, false, 10s);
  CHECK(bar_line(streaming, 80, true, false) == progress_line(streaming, 80, true, false));
  CHECK(bar_line(half, 12, false, false) == progress_line(half, 12, false, false));
  // Escape codes take no columns: a coloured line gets the same bar.
  const auto failing = counters(250, 3, 4, 500, true, 10s);
  const std::string colored = bar_line(failing, 80, false, true);
  CHECK(colored.find('\x1b') != std::string::npos);
  CHECK(colored.substr(0, colored.find(']')) ==
        bar_line(failing, 80, false, false).substr(0, colored.find(']')));
}

}  // namespace
}  // namespace taskpool
