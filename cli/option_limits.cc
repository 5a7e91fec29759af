#include "cli/option_limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "cli/option_values.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"
#include "core/template.h"

namespace taskpool {
namespace {

// The most jobs of one key at once: as many as -j takes.
constexpr uint64_t kMostPerKey = 100000;

// A --limit-file larger than this is not a list of values.
constexpr size_t kMostFileBytes = 16 * 1024 * 1024;

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace

LimitRule parse_limit_rule(const std::string& where, const std::string& text) {
  LimitRule rule;
  if (text.find('/') != std::string::npos) {
    rule.rate = parse_rate(where, text);
    return rule;
  }
  const uint64_t n = parse_count(where.c_str(), text, kMostPerKey);
  if (n == 0) {
    throw UsageError(where + ": '" + text + "' allows no job at all (give 1 or more, or N/s)");
  }
  rule.concurrency = static_cast<int>(n);
  return rule;
}

KeyedLimit parse_limit(const std::string& flag, const std::string& text,
                       const std::string& replace) {
  const size_t equals = text.rfind('=');
  if (equals == std::string::npos) {
    throw UsageError(flag + ": '" + text +
                     "' is not TEMPLATE=N or TEMPLATE=N/s (as in '{host}=4' or '{1}=10/s')");
  }
  KeyedLimit limit;
  limit.name = text.substr(0, equals);
  if (limit.name.empty()) throw UsageError(flag + ": '" + text + "' has no template before '='");
  CommandTemplate::Options options;
  options.replace = replace;
  options.append_record = false;
  if (CommandTemplate({limit.name}, options).record_use() == CommandTemplate::RecordUse::kNone) {
    throw UsageError(flag + ": '" + text + "': the template '" + limit.name +
                     "' holds nothing of the record ({host}, {}, {1}, {//}...), so every job "
                     "would have the same key (-j and --rate limit the whole run)");
  }
  limit.rule = parse_limit_rule(flag, text.substr(equals + 1));
  limit.pauses_on_retry_after = limit.name.find("{host}") != std::string::npos;
  return limit;
}

void add_limit_overrides(const std::string& path, const std::string& text,
                         std::vector<KeyedLimit>& limits) {
  std::istringstream in(text);
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const std::string where = "--limit-file " + path + ":" + std::to_string(number);
    const std::vector<std::string> words = words_of(line);
    if (words.empty() || words[0].starts_with('#')) continue;
    KeyedLimit* limit = nullptr;
    if (words.size() == 2 && limits.size() == 1) {
      limit = limits.data();
    } else if (words.size() == 3) {
      const auto it = std::ranges::find(limits, words[0], &KeyedLimit::name);
      if (it == limits.end()) {
        throw UsageError(where + ": '" + words[0] + "' is no --limit's template");
      }
      limit = &*it;
    } else {
      throw UsageError(fmt::format("{}: '{}' is not {}", where, line,
                                   limits.size() == 1 ? "VALUE N or VALUE N/s"
                                                      : "TEMPLATE VALUE N or TEMPLATE VALUE N/s "
                                                        "(there are several --limit; say which)"));
    }
    limit->overrides[words[words.size() - 2]] = parse_limit_rule(where, words.back());
  }
}

void read_limit_file(const std::string& path, std::vector<KeyedLimit>& limits) {
  if (limits.empty()) throw UsageError("--limit-file: gives values of --limit; give --limit too");
  std::string text;
  if (const int error = read_whole_file(path, text, kMostFileBytes); error != 0) {
    throw UsageError("--limit-file: cannot read '" + path + "': " + std::strerror(error));
  }
  add_limit_overrides(path, text, limits);
}

}  // namespace taskpool
