#include "cli/header.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "core/column_splitter.h"
#include "core/error.h"
#include "core/unique_fd.h"

namespace taskpool {
namespace {

// The first value of `fd`, up to `delimiter` (which is not kept), a byte at a time.
std::string first_value(int fd, const std::string& delimiter, const std::string& name) {
  std::string value;
  char c = 0;
  while (!value.ends_with(delimiter)) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) return value;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error(fmt::format("--header: cannot read {}", name));
    value += c;
  }
  value.resize(value.size() - delimiter.size());
  return value;
}

std::string file_header(const std::string& path, const std::string& delimiter) {
  if (path == "-") return first_value(STDIN_FILENO, delimiter, "stdin");
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw system_error(fmt::format("--header: cannot open '{}'", path));
  return first_value(fd.get(), delimiter, "'" + path + "'");
}

}  // namespace

std::string replace_header_names(std::string text, const std::vector<std::string>& names) {
  static constexpr const char* kSuffixes[] = {"", "/", "//", ".", "/."};
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    for (const char* suffix : kSuffixes) {
      const std::string from = "{" + names[i] + suffix + "}";
      const std::string to = fmt::format("{{{}{}}}", i + 1, suffix);
      for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
        text.replace(at, from.size(), to);
        at += to.size();
      }
    }
  }
  return text;
}

void read_header(RunConfig& config) {
  if (!config.header) return;
  std::vector<std::string> lines;
  for (const std::string& path : config.arg_files) {
    lines.push_back(file_header(path, config.delimiter));
  }
  for (RunConfig::Source& source : config.sources) {
    if (source.file) {
      lines.push_back(file_header(*source.file, config.delimiter));
    } else if (!source.values.empty()) {
      lines.push_back(source.values.front());
      source.values.erase(source.values.begin());
    }
  }
  if (config.arg_files.empty() && config.sources.empty()) {
    lines.push_back(first_value(STDIN_FILENO, config.delimiter, "stdin"));
  }
  config.skip_file_headers = true;
  const ColumnSplitter columns(config.colsep.value_or("\t"));
  std::vector<std::string>& names = config.header_names;
  for (std::string& line : lines) {
    if (line.ends_with('\r')) line.pop_back();
    if (auto split = columns.split(line)) names.insert(names.end(), split->begin(), split->end());
  }
  for (std::string& word : config.command) word = replace_header_names(word, names);
  if (config.tagstring) config.tagstring = replace_header_names(*config.tagstring, names);
  if (config.results) config.results = replace_header_names(*config.results, names);
}

}  // namespace taskpool
