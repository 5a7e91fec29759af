#include "cli/printer.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/error.h"

namespace taskpool {

void write_all(int fd, std::string_view data, const char* what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw BrokenPipe();
      throw system_error(std::string("cannot write ") + what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string tag_of(const Record& record) {
  std::string tag;
  for (const std::string& field : record.fields) {
    if (!tag.empty()) tag += ' ';
    tag += field;
  }
  tag += '\t';
  return tag;
}

OutputPrinter::OutputPrinter(Options options, int out_fd, int err_fd, uint64_t held_memory_budget)
    : options_(std::move(options)),
      held_memory_budget_(held_memory_budget),
      out_fd_(out_fd),
      err_fd_(err_fd) {}

std::string OutputPrinter::tag(const Job& job, WorkerId worker) const {
  if (options_.tag_string) return options_.tag_string->expand_text(job, worker) + '\t';
  return tag_of(job.record);
}

void OutputPrinter::job_started(const Job& job, const Attempt& attempt) {
  if (options_.tag) tags_[attempt.worker] = LineTag{tag(job, attempt.worker)};
  // A command refused before it starts is not shown as running; its message says why.
  if (options_.trace && attempt.command.refused.empty()) {
    write_all(err_fd_, attempt.command.line + '\n', "standard error");
  }
}

bool OutputPrinter::has_output(const Completion& completion) const {
  return (options_.print_commands && completion.started) ||
         (completion.detail.stdout_data && !completion.detail.stdout_data->empty()) ||
         (completion.detail.stderr_data && !completion.detail.stderr_data->empty()) ||
         !held_.empty();
}

void OutputPrinter::job_ended(const Job& job, const Attempt& attempt, Completion& completion) {
  Held held;
  if (options_.tag) held.tag = tag(job, attempt.worker);
  // --dry-run: a command the run would refuse is not printed as if it would run.
  if (options_.print_commands && completion.started) held.command = attempt.command.line + '\n';
  held.out = std::move(completion.detail.stdout_data);
  held.err = std::move(completion.detail.stderr_data);
  if (joblog_ != nullptr) held.log_line = joblog_->line(attempt, completion);
  if (!options_.keep_order) {
    print(held);
    return;
  }
  if (job.seq != next_to_print_) {
    hold(job.seq, std::move(held));
    return;
  }
  print(held);
  ++next_to_print_;
  print_ready();
}

void OutputPrinter::hold(uint64_t seq, Held held) {
  for (OutputBuffer* buffer : {held.out.get(), held.err.get()}) {
    if (buffer == nullptr || buffer->memory_size() == 0) continue;
    if (held_memory_ + buffer->memory_size() > held_memory_budget_) {
      try {
        buffer->spill();
        continue;
      } catch (const Error&) {
        // No room for a temporary file: the output stays in memory rather than being lost.
      }
    }
    held.memory += buffer->memory_size();
    held_memory_ += buffer->memory_size();
  }
  held_.emplace(seq, std::move(held));
}

void OutputPrinter::print_ready() {
  for (auto it = held_.begin(); it != held_.end() && it->first == next_to_print_;) {
    print(it->second);
    ++next_to_print_;
    it = held_.erase(it);
  }
}

void OutputPrinter::skip(uint64_t seq) {
  if (!options_.keep_order || seq < next_to_print_) return;
  if (seq != next_to_print_) {
    held_.emplace(seq, Held{});
    return;
  }
  ++next_to_print_;
  print_ready();
}

void OutputPrinter::finish() {
  for (auto it = held_.begin(); it != held_.end(); it = held_.erase(it)) print(it->second);
}

void OutputPrinter::print(Held& held) {
  held_memory_ -= std::exchange(held.memory, 0);
  if (!held.command.empty()) write_all(out_fd_, held.command, "standard output");
  if (held.out) write_stream(out_fd_, held.tag, *held.out);
  if (held.err) write_stream(err_fd_, held.tag, *held.err);
  if (!held.log_line.empty()) joblog_->write_line(held.log_line);
}

void OutputPrinter::write_stream(int fd, const std::string& tag, const OutputBuffer& buffer) {
  const char* what = fd == err_fd_ ? "standard error" : "standard output";
  if (tag.empty()) {
    buffer.for_each_chunk([&](std::string_view chunk) { write_all(fd, chunk, what); });
    return;
  }
  bool at_line_start = true;
  buffer.for_each_chunk(
      [&](std::string_view chunk) { write_tagged(fd, tag, chunk, at_line_start); });
}

void OutputPrinter::write_tagged(int fd, const std::string& tag, std::string_view data,
                                 bool& at_line_start) {
  std::string out;
  out.reserve(data.size() + tag.size() * 4);
  for (char c : data) {
    if (at_line_start) out += tag;
    out += c;
    at_line_start = c == '\n';
  }
  write_all(fd, out, fd == err_fd_ ? "standard error" : "standard output");
}

void OutputPrinter::lines(WorkerId worker, Stream stream, std::string_view data) {
  const int fd = stream == Stream::kStdout ? out_fd_ : err_fd_;
  if (!options_.tag) {
    write_all(fd, data, stream == Stream::kStdout ? "standard output" : "standard error");
    return;
  }
  LineTag& line_tag = tags_[worker];
  write_tagged(fd, line_tag.tag, data, line_tag.at_line_start[static_cast<int>(stream)]);
}

}  // namespace taskpool
