#include "cli/joblog.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>

#include "cli/printer.h"
#include "core/error.h"
#include "core/file_io.h"
#include "tasks/fetch_names.h"

namespace taskpool {

WallClock::WallClock()
    : steady_origin_(std::chrono::steady_clock::now()),
      epoch_origin_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

double WallClock::epoch_seconds(TimePoint t) const {
  return epoch_origin_ + to_seconds(t - steady_origin_);
}

namespace {

// The Command column: as GNU parallel does, a newline is written as NUL, since it would break the
// one-line-per-job format.
std::string command_column(std::string command) {
  std::replace(command.begin(), command.end(), '\n', '\0');
  return command;
}

}  // namespace

std::string joblog_line(const Attempt& attempt, const Completion& completion, double start_epoch,
                        std::string_view host, std::string_view download_dir) {
  std::string command = command_column(attempt.command.line);
  if (attempt.download && !attempt.download->path.empty()) {
    command += " -> " + command_column(download_file(download_dir, attempt.download->path));
  }
  const double runtime = completion.started ? to_seconds(completion.runtime()) : 0.0;
  // GNU parallel's mark for an attempt killed for running too long.
  const int exit_value =
      completion.timed_out && completion.signal != 0 ? -1 : completion.exit_status;
  return fmt::format("{}\t{}\t{:.3f}\t{:10.3f}\t0\t{}\t{}\t{}\t{}\n", attempt.seq, host,
                     start_epoch, runtime, completion.detail.stdout_bytes, exit_value,
                     completion.signal, command);
}

JobLog::JobLog(const std::string& path, bool append) : path_(path) {
  if (path == "-") {  // standard output, as in GNU parallel
    fd_ = STDOUT_FILENO;
    write_all(fd_, kHeader, "standard output");
    return;
  }
  const int mode = append ? O_APPEND : O_TRUNC;
  owned_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | mode, 0666));
  fd_ = owned_.get();
  if (fd_ < 0) throw system_error("--joblog: cannot open '" + path + "'");
  struct stat st;
  if (fstat(fd_, &st) != 0) throw system_error("--joblog: cannot read '" + path + "'");
  // A joblog cut off inside its header line is empty once the cut-off line has gone.
  if (st.st_size > 0 && drop_cut_off_line(st.st_size) > 0) return;
  write_all(fd_, kHeader, ("joblog '" + path_ + "'").c_str());
}

// A run killed while writing its last line leaves it without a newline; a new line appended to
// it would merge with it. It goes (the parser ignores it too, so its job runs again). The line
// may be far longer than one read (a -X job's command), so the file is read backwards, a chunk
// at a time, until the newline before it.
// Returns the size left.
off_t JobLog::drop_cut_off_line(off_t size) {
  char last = '\n';
  if (pread(fd_, &last, 1, size - 1) != 1)
    throw system_error("--joblog: cannot read '" + path_ + "'");
  if (last == '\n') return size;
  constexpr off_t kChunk = 65536;
  std::string chunk;
  off_t keep = 0;  // no newline at all: the header itself was cut off
  for (off_t end = size; end > 0;) {
    const off_t start = end > kChunk ? end - kChunk : 0;
    chunk.resize(static_cast<size_t>(end - start));
    if (pread(fd_, chunk.data(), chunk.size(), start) != static_cast<ssize_t>(chunk.size())) {
      throw system_error("--joblog: cannot read '" + path_ + "'");
    }
    if (const size_t newline = chunk.rfind('\n'); newline != std::string::npos) {
      keep = start + static_cast<off_t>(newline) + 1;
      break;
    }
    end = start;
  }
  if (ftruncate(fd_, keep) != 0) throw system_error("--joblog: cannot repair '" + path_ + "'");
  return keep;
}

JobLog::~JobLog() = default;

std::string JobLog::line(const Attempt& attempt, const Completion& completion) const {
  const double start = wall_clock_.epoch_seconds(completion.start);
  const auto worker = static_cast<size_t>(attempt.worker - 1);
  const std::string_view host =
      worker < hosts_.size() ? std::string_view(hosts_[worker]) : std::string_view(":");
  return joblog_line(attempt, completion, start, host, download_dir_);
}

void JobLog::write_line(std::string_view line) {
  write_all(fd_, line, ("joblog '" + path_ + "'").c_str());
}

namespace {

std::optional<int64_t> parse_integer(std::string_view text) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

uint64_t joblog_command_hash(std::string_view command) {
  return std::hash<std::string_view>()(command);
}

LoggedJobs parse_joblog(std::string_view text, const std::string& name, bool keep_commands) {
  LoggedJobs jobs;
  const std::string_view header(JobLog::kHeader);
  // Empty, or cut off while its header was being written: no job has ended yet.
  if (header.starts_with(text) && text.size() < header.size()) return jobs;
  if (!text.starts_with(header)) {
    throw Error("'" + name + "' is not a joblog: its first line is not the joblog header (" +
                std::string(header.substr(0, header.size() - 1)) + ")");
  }
  text.remove_prefix(header.size());
  size_t line_number = 1;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    if (newline == std::string_view::npos) break;  // cut off while being written
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    // Seq Host Starttime JobRuntime Send Receive Exitval Signal Command: the command may hold tabs.
    std::string_view columns[8];
    for (auto& column : columns) {
      const size_t tab = line.find('\t');
      if (tab == std::string_view::npos) {
        throw Error("'" + name + "' line " + std::to_string(line_number) +
                    ": not a joblog line (expected 9 tab-separated columns)");
      }
      column = line.substr(0, tab);
      line.remove_prefix(tab + 1);
    }
    const auto seq = parse_integer(columns[0]);
    const auto exit_value = parse_integer(columns[6]);
    const auto signal = parse_integer(columns[7]);
    if (!seq || *seq < 1 || !exit_value || !signal) {
      throw Error("'" + name + "' line " + std::to_string(line_number) +
                  ": Seq, Exitval and Signal must be whole numbers");
    }
    LoggedJob& job = jobs[static_cast<uint64_t>(*seq)];
    job.succeeded = *exit_value == 0 && *signal == 0;
    job.command_hash = joblog_command_hash(line);
    if (keep_commands) job.command = line;
  }
  return jobs;
}

LoggedJobs read_joblog(const std::string& path, bool keep_commands) {
  std::string text;
  if (const int error = read_whole_file(path, text); error != 0) {
    if (error == ENOENT) return {};
    errno = error;
    throw system_error("--joblog: cannot read '" + path + "'");
  }
  return parse_joblog(text, path, keep_commands);
}

bool same_command(const LoggedJob& logged, const CommandTemplate& command, const Job& job) {
  if (!command.uses_worker()) {
    return joblog_command_hash(command_column(command.expand(job, 1).line)) == logged.command_hash;
  }
  // The worker number stands where the commands for workers 1 and 2 first differ; the joblog's
  // command has the number of the worker that ran it there.
  const std::string one = command_column(command.expand(job, 1).line);
  const std::string two = command_column(command.expand(job, 2).line);
  const auto at = static_cast<size_t>(std::ranges::mismatch(one, two).in1 - one.begin());
  const std::string_view logged_command = logged.command;
  size_t end = at;
  while (end < logged_command.size() && end - at < 9 && logged_command[end] >= '0' &&
         logged_command[end] <= '9') {
    ++end;
  }
  const auto worker = parse_integer(logged_command.substr(at, end - at));
  if (!worker || *worker < 1) return false;
  return command_column(command.expand(job, static_cast<WorkerId>(*worker)).line) == logged_command;
}

}  // namespace taskpool
