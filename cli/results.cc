#include "cli/results.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "cli/printer.h"
#include "core/file_io.h"

namespace taskpool {
namespace {

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    const char c = s[s.size() - suffix.size() + i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != suffix[i]) return false;
  }
  return true;
}

CommandTemplate name_template(const std::string& name, const std::string& replace, bool plus) {
  CommandTemplate::Options options;
  options.replace = replace;
  options.plus = plus;
  options.append_record = false;
  return CommandTemplate({name}, options);
}

// Makes `path` and the directories above it (mkdir -p).
void make_dirs(const std::string& path) {
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string dir = path.substr(0, end);
    if (!dir.empty() && ::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
      throw system_error(fmt::format("--results: cannot make the directory '{}'", dir));
    }
    if (end == std::string::npos) return;
  }
}

std::string whole_output(const std::unique_ptr<OutputBuffer>& buffer) {
  std::string text;
  if (buffer) buffer->for_each_chunk([&text](std::string_view chunk) { text += chunk; });
  return text;
}

void write_output_file(const std::string& path, const std::unique_ptr<OutputBuffer>& buffer) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd.valid()) throw system_error(fmt::format("--results: cannot write '{}'", path));
  if (buffer) {
    buffer->for_each_chunk(
        [&](std::string_view chunk) { write_all(fd.get(), chunk, path.c_str()); });
  }
}

// GNU parallel's Exitval: -1 for a job killed for running too long.
int results_exitval(const Completion& completion) {
  return completion.timed_out && completion.signal != 0 ? -1 : completion.exit_status;
}

double results_runtime(const Completion& completion) {
  return completion.started ? to_seconds(completion.runtime()) : 0.0;
}

}  // namespace

ResultsTarget results_target(const std::string& name, const std::string& replace, bool plus) {
  ResultsTarget target;
  target.name = name;
  if (ends_with_nocase(name, ".csv")) {
    target.kind = ResultsTarget::Kind::kCsv;
  } else if (ends_with_nocase(name, ".tsv")) {
    target.kind = ResultsTarget::Kind::kTsv;
  } else if (ends_with_nocase(name, ".json")) {
    target.kind = ResultsTarget::Kind::kJson;
  } else {
    // A name with replacement strings is one that a job changes, as GNU parallel tells them.
    Job probe{1, Record({"x"})};
    const bool changes = name_template(name, replace, plus).expand_text(probe, 1) != name;
    target.kind = changes ? ResultsTarget::Kind::kTemplate : ResultsTarget::Kind::kTree;
  }
  target.to_stdout = name == "-.csv" || name == "-.tsv" || name == "-.json";
  return target;
}

std::string value_as_dirname(std::string_view value) {
  if (value == "." || value == "..") return "\\" + std::string(value);
  std::string name;
  for (const char c : value) {
    switch (c) {
      case '\\':
        name += "\\\\";
        break;
      case '\t':
        name += "\\t";
        break;
      case '\0':
        name += "\\0";
        break;
      case '/':
        name += "\\_";
        break;
      default:
        name += c;
    }
  }
  if (name.size() > NAME_MAX) name.resize(NAME_MAX);  // as GNU parallel cuts a name too long
  return name;
}

std::string record_dirname(const Record& record, const std::vector<std::string>& names) {
  // The columns in the order of their names, as GNU parallel sorts them: as numbers (Perl's
  // <=>, a name that is none counting as 0), then as strings.
  std::vector<std::pair<std::string, size_t>> columns;
  for (size_t i = 0; i < record.fields.size(); ++i) {
    columns.emplace_back(i < names.size() ? names[i] : std::to_string(i + 1), i);
  }
  const auto number = [](const std::string& name) { return std::strtod(name.c_str(), nullptr); };
  std::stable_sort(columns.begin(), columns.end(), [&](const auto& a, const auto& b) {
    const double x = number(a.first);
    const double y = number(b.first);
    return x != y ? x < y : a.first < b.first;
  });
  std::string path;
  for (const auto& [name, i] : columns) {
    if (!path.empty()) path += '/';
    path += value_as_dirname(name) + '/' + value_as_dirname(record.fields[i]);
  }
  return path;
}

std::string csv_field(std::string_view value, char sep) {
  bool quote = false;
  std::string field;
  for (const char c : value) {
    if (c == '"') field += '"';
    quote = quote || c == '"' || c == sep || c == '\0' || c == ' ' || (c >= '\t' && c <= '\r');
    field += c;
  }
  return quote ? '"' + field + '"' : field;
}

std::string json_escape(std::string_view value) {
  std::string text;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      text += '\\';
      text += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      text += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      text += c;
    }
  }
  return text;
}

ResultsObserver::ResultsObserver(Options options, RunFailure& failure)
    : options_(std::move(options)), failure_(failure) {
  const ResultsTarget& target = options_.target;
  switch (target.kind) {
    case ResultsTarget::Kind::kTree:
      make_dirs(target.name);
      break;
    case ResultsTarget::Kind::kTemplate:
      name_template_.emplace(name_template(target.name, options_.replace, options_.plus));
      break;
    default:
      if (target.to_stdout) break;
      table_.reset(::open(target.name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
      if (!table_.valid()) {
        throw system_error(fmt::format("--results: cannot open '{}'", target.name));
      }
  }
}

void ResultsObserver::on_job_end(const Job& job, const Attempt& attempt, Completion& completion) {
  failure_.guard([&] {
    const auto kind = options_.target.kind;
    if (kind == ResultsTarget::Kind::kTree || kind == ResultsTarget::Kind::kTemplate) {
      write_tree(job, attempt.worker, completion);
    } else {
      write_row(job, attempt, completion);
    }
  });
  // Kept, not printed.
  completion.detail.stdout_data.reset();
  completion.detail.stderr_data.reset();
}

void ResultsObserver::write_tree(const Job& job, WorkerId worker,
                                 const Completion& completion) const {
  std::string out;
  std::string err;
  std::string seq;
  const std::string name =
      name_template_ ? name_template_->expand_text(job, worker) : options_.target.name;
  if (!name_template_ || name.ends_with('/')) {
    std::string dir = name;
    if (!name_template_) dir += '/' + record_dirname(job.record, options_.names);
    make_dirs(dir);
    if (!dir.ends_with('/')) dir += '/';
    out = dir + "stdout";
    err = dir + "stderr";
    seq = dir + "seq";
  } else {
    if (const size_t slash = name.rfind('/'); slash != std::string::npos && slash > 0) {
      make_dirs(name.substr(0, slash));
    }
    out = name;
    err = name + ".err";
    seq = name + ".seq";
  }
  write_output_file(out, completion.detail.stdout_data);
  write_output_file(err, completion.detail.stderr_data);
  if (const int e = write_whole_file(seq, std::to_string(job.seq), O_CLOEXEC); e != 0) {
    errno = e;
    throw system_error(fmt::format("--results: cannot write '{}'", seq));
  }
}

std::string ResultsObserver::host(WorkerId worker) const {
  const auto index = static_cast<size_t>(worker - 1);
  return index < options_.host_of_worker.size() ? options_.host_of_worker[index] : ":";
}

std::string ResultsObserver::table_row(const Job& job, const Attempt& attempt,
                                       const Completion& completion, char sep) const {
  std::string row = fmt::format(
      "{1}{0}{2}{0}{3:.3f}{0}{4:.3f}{0}0{0}{5}{0}{6}{0}{7}{0}{8}", sep, job.seq,
      csv_field(host(attempt.worker), sep), wall_clock_.epoch_seconds(completion.start),
      results_runtime(completion), completion.detail.stdout_bytes, results_exitval(completion),
      completion.signal, csv_field(attempt.command.line, sep));
  for (const std::string& value : job.record.fields) row += sep + csv_field(value, sep);
  row += sep + csv_field(whole_output(completion.detail.stdout_data), sep);
  row += sep + csv_field(whole_output(completion.detail.stderr_data), sep);
  return row + '\n';
}

std::string ResultsObserver::json_row(const Job& job, const Attempt& attempt,
                                      const Completion& completion) const {
  std::string values;
  for (const std::string& value : job.record.fields) {
    values += (values.empty() ? "\"" : ",\"") + json_escape(value) + '"';
  }
  return fmt::format(
      "{{ \"Seq\": {}, \"Host\": \"{}\", \"Starttime\": {:.3f}, \"JobRuntime\": {:.3f}, "
      "\"Send\": 0, \"Receive\": {}, \"Exitval\": {}, \"Signal\": {}, \"Command\": \"{}\", "
      "\"V\": [ {} ], \"Stdout\": \"{}\", \"Stderr\": \"{}\" }}\n",
      job.seq, json_escape(host(attempt.worker)), wall_clock_.epoch_seconds(completion.start),
      results_runtime(completion), completion.detail.stdout_bytes, results_exitval(completion),
      completion.signal, json_escape(attempt.command.line), values,
      json_escape(whole_output(completion.detail.stdout_data)),
      json_escape(whole_output(completion.detail.stderr_data)));
}

void ResultsObserver::write_row(const Job& job, const Attempt& attempt,
                                const Completion& completion) {
  const int fd = options_.target.to_stdout ? 1 : table_.get();
  const char* what = options_.target.to_stdout ? "standard output" : options_.target.name.c_str();
  if (options_.target.kind == ResultsTarget::Kind::kJson) {
    write_all(fd, json_row(job, attempt, completion), what);
    return;
  }
  const char sep = options_.target.kind == ResultsTarget::Kind::kCsv ? ',' : '\t';
  if (!std::exchange(header_written_, true)) {
    std::string header = fmt::format(
        "Seq{0}Host{0}Starttime{0}JobRuntime{0}Send{0}Receive{0}Exitval{0}Signal{0}Command", sep);
    for (size_t i = 0; i < job.record.fields.size(); ++i) {
      header += sep;
      header +=
          i < options_.names.size() ? csv_field(options_.names[i], sep) : fmt::format("V{}", i + 1);
    }
    write_all(fd, fmt::format("{0}{1}Stdout{1}Stderr\n", header, sep), what);
  }
  write_all(fd, table_row(job, attempt, completion, sep), what);
}

FilesObserver::FilesObserver(RunFailure& failure) : failure_(failure) {
  const char* tmpdir = std::getenv("TMPDIR");
  dir_ = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
}

void FilesObserver::on_job_end(const Job& /*job*/, const Attempt& /*attempt*/,
                               Completion& completion) {
  failure_.guard([&] {
    std::string path = dir_ + "/parXXXXXX.par";
    const UniqueFd fd(::mkostemps(path.data(), 4, O_CLOEXEC));
    if (!fd.valid()) {
      throw system_error(fmt::format("--files: cannot make a file in '{}'", dir_));
    }
    if (const auto& out = completion.detail.stdout_data) {
      out->for_each_chunk(
          [&](std::string_view chunk) { write_all(fd.get(), chunk, path.c_str()); });
    }
    auto name = std::make_unique<OutputBuffer>();
    name->append(path + '\n');
    completion.detail.stdout_data = std::move(name);
  });
}

}  // namespace taskpool
