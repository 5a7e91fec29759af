#include "cli/live.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/unique_fd.h"

namespace taskpool {

namespace {

// How often -j FILE is looked at for a change.
constexpr auto kJobsFileInterval = std::chrono::milliseconds(250);

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.empty()) return out;
    const size_t end = text.find_first_of(" \t");
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) return out;
    text.remove_prefix(end);
  }
}

// "a FIFO", "a directory": what a file that is not a regular one is, for messages.
std::string file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "another kind of file";
}

// What -j0 means: "as many as possible", capped the way GNU parallel's practical limit is.
constexpr int kManyWorkers = 250;
constexpr int kMostWorkers = 100000;

}  // namespace

int read_jobs_file(const std::string& path) {
  // Non-blocking: opening a FIFO for reading would wait for a writer, for ever, deaf to
  // Ctrl-C at the start (its handler is not installed yet) and stalling the pool in a run.
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) throw system_error("-j/--jobs: cannot read '" + path + "'");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw UsageError("-j/--jobs: '" + path + "' is " + file_kind(st.st_mode) +
                     ", not a regular file that holds a number of workers");
  }
  // A number of workers is a few bytes; more is not one.
  constexpr size_t kMostBytes = 63;
  std::string text;
  const int error = read_to_end(fd.get(), text, kMostBytes);
  if (error != 0 && error != EFBIG) {
    errno = error;
    throw system_error("-j/--jobs: cannot read '" + path + "'");
  }
  const std::optional<int> jobs = error == 0 ? parse_jobs_value(text, cpu_count()) : std::nullopt;
  if (!jobs) {
    std::string shown = text.substr(0, 20);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) shown.pop_back();
    throw UsageError("-j/--jobs: file '" + path + "' holds '" + shown +
                     (text.size() > 20 ? "..." : "") + "', not a number of workers (" + kJobsForms +
                     ")");
  }
  return *jobs;
}

int cpu_count() {
  // The CPUs taskpool may run on, as nproc and GNU parallel count them (under taskset, fewer
  // than the machine has). One system call, counted once: sysconf(_SC_NPROCESSORS_ONLN) reads a
  // file in /sys at every call, a tenth of a millisecond of a one-job run.
  static const int kCpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);  // more CPUs than a cpu_set_t holds
    return cpus > 0 ? static_cast<int>(cpus) : 1;
  }();
  return kCpus;
}

std::optional<int> parse_jobs_value(std::string_view value, int cpus) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  char sign = 0;
  if (!value.empty() && (value.front() == '+' || value.front() == '-')) {
    sign = value.front();
    value.remove_prefix(1);
  }
  const bool percent = !value.empty() && value.back() == '%';
  if (percent) value.remove_suffix(1);
  if (sign != 0 && percent) return std::nullopt;
  long long n = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ptr != end || n < 0) return std::nullopt;
  if (ec != std::errc() || n > kMostWorkers) {
    throw UsageError("-j/--jobs: " + std::string(value) + " is more than " +
                     std::to_string(kMostWorkers));
  }
  long long jobs = n;
  if (sign == '+') jobs = cpus + n;
  if (sign == '-') jobs = cpus - n;
  // As GNU parallel: a share of the CPUs is at least one worker, but none at all is an error.
  if (percent) jobs = n == 0 ? 0 : std::max(1LL, cpus * n / 100);
  if (sign == 0 && !percent && n == 0) jobs = kManyWorkers;
  if (jobs < 1) {
    throw UsageError(fmt::format("-j/--jobs: {}{}{} leaves no worker on {} CPUs",
                                 sign == 0 ? "" : std::string(1, sign), value, percent ? "%" : "",
                                 cpus));
  }
  return static_cast<int>(std::clamp<long long>(jobs, 1, kMostWorkers));
}

std::string status_json(const PoolStatus& s) {
  return fmt::format(
      R"({{"workers": {}, "running": {}, "queued": {}, "retrying": {}, "paused": {}, )"
      R"("jobs": {{"done": {}, "succeeded": {}, "failed": {}}}}})",
      s.workers, s.running, s.queued, s.retrying, s.paused ? "true" : "false", s.jobs, s.succeeded,
      s.failed);
}

LiveControl::LiveControl(Options options) : options_(std::move(options)) {
  if (options_.jobs_file) {
    struct stat st {};
    if (::stat(options_.jobs_file->c_str(), &st) == 0) {
      file_state_ = {true, st.st_mtim, st.st_size, st.st_ino};
    }
  }
}

TimePoint LiveControl::poll(Scheduler& scheduler, TimePoint now) {
  const LiveSignals live = options_.signals ? options_.signals() : LiveSignals{};
  const int more = live.more_workers;
  const int fewer = live.fewer_workers;
  if (more != fewer) {
    resize(scheduler, scheduler.workers() + more - fewer, more > fewer ? "SIGUSR1" : "SIGUSR2");
  }
  if (live.suspend && options_.stop_self) scheduler.suspend(options_.stop_self);
  if (options_.control) {
    options_.control->serve([&](std::string_view command) { return answer(scheduler, command); });
  }
  if (!options_.jobs_file) return kNever;
  if (now >= next_file_check_) {
    check_jobs_file(scheduler);
    next_file_check_ = now + kJobsFileInterval;
  }
  return next_file_check_;
}

void LiveControl::check_jobs_file(Scheduler& scheduler) {
  struct stat st {};
  FileState state;
  if (::stat(options_.jobs_file->c_str(), &st) == 0) {
    state = {true, st.st_mtim, st.st_size, st.st_ino};
  }
  if (state == file_state_) return;
  file_state_ = state;
  if (!state.exists) {
    options_.say(fmt::format("taskpool: warning: -j file '{}' is gone; keeping {} workers\n",
                             *options_.jobs_file, scheduler.workers()));
    return;
  }
  try {
    resize(scheduler, read_jobs_file(*options_.jobs_file), "the -j file");
  } catch (const Error& e) {
    // A file caught half-written says so again once it is whole, and is read then.
    options_.say(
        fmt::format("taskpool: warning: {}; keeping {} workers\n", e.what(), scheduler.workers()));
  }
}

void LiveControl::resize(Scheduler& scheduler, int workers, std::string_view why) {
  if (!options_.resizable) {
    options_.say(fmt::format("taskpool: warning: {}: with -S each host keeps its workers\n", why));
    return;
  }
  workers = std::max(1, workers);
  if (options_.fit) {
    // Never fewer than now because of the limit: the running jobs have their descriptors.
    const int fitted = std::max(options_.fit(workers, scheduler.status().running),
                                std::min(workers, scheduler.workers()));
    if (fitted < workers) {
      options_.say(
          fmt::format("taskpool: warning: {}: only enough file descriptors for {} "
                      "workers, not {}\n",
                      why, fitted, workers));
    }
    workers = fitted;
  }
  scheduler.set_workers(workers);
}

std::string LiveControl::answer(Scheduler& scheduler, std::string_view command) {
  const std::vector<std::string_view> w = words(command);
  if (w.empty()) return "error: empty command (pause, resume, jobs N, status)";
  if (w[0] == "status" && w.size() == 1) return status_json(scheduler.status());
  if (w[0] == "pause" && w.size() == 1) {
    scheduler.set_paused(true);
    return "ok paused";
  }
  if (w[0] == "resume" && w.size() == 1) {
    scheduler.set_paused(false);
    return "ok resumed";
  }
  if (w[0] == "jobs" && w.size() == 2) {
    if (!options_.resizable) return "error: jobs: with -S each host keeps its workers";
    std::optional<int> workers;
    try {
      workers = parse_jobs_value(w[1], cpu_count());
    } catch (const Error& e) {
      return std::string("error: ") + e.what();
    }
    if (!workers) {
      return fmt::format("error: jobs: '{}' is not a number of workers (N, 0, +N, -N or N%)", w[1]);
    }
    resize(scheduler, *workers, "jobs");
    return fmt::format("ok jobs {}", scheduler.workers());
  }
  if (w[0] == "pause" || w[0] == "resume" || w[0] == "status" || w[0] == "jobs") {
    return fmt::format("error: {}: {}", w[0],
                       w[0] == "jobs" ? "give one number of workers: jobs N" : "takes no argument");
  }
  std::string shown(command.substr(0, 40));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return fmt::format("error: unknown command '{}' (pause, resume, jobs N, status)", shown);
}

}  // namespace taskpool
