#include "cli/help_text.h"

#include <algorithm>
#include <regex>

namespace taskpool {
namespace {

// Words of `text` appended to `out` with lines ending by kHelpWidth, every line after the
// first starting with `indent` columns of blanks; `column` is where `out`'s last line ends.
void append_wrapped(std::string& out, std::string_view text, size_t indent, size_t column) {
  bool first_word = true;
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const size_t end = std::min(text.find(' '), text.size());
    const std::string_view word = text.substr(0, end);
    text.remove_prefix(end);
    if (!first_word && column + 1 + word.size() > kHelpWidth) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
    } else if (!first_word) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first_word = false;
  }
}

// The optimal string alignment distance: edits (insert, delete, replace, swap of neighbours).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string help_entry(std::string_view name, std::string_view description, size_t name_width) {
  std::string out(name);
  if (out.size() + 1 > name_width) {
    out += '\n';
    out.append(name_width, ' ');
  } else {
    out.append(name_width - out.size(), ' ');
  }
  append_wrapped(out, description, name_width, name_width);
  return out + '\n';
}

std::string wrap_paragraphs(std::string_view text) {
  std::string out;
  std::string paragraph;
  const auto flush = [&] {
    if (paragraph.empty()) return;
    append_wrapped(out, paragraph, 0, 0);
    out += '\n';
    paragraph.clear();
  };
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty() || line.starts_with(' ')) {
      flush();
      out += line;
      out += '\n';
    } else {
      if (!paragraph.empty()) paragraph += ' ';
      paragraph += line;
    }
  }
  flush();
  return out;
}

std::optional<std::string> closest_flag(std::string_view typo,
                                        const std::vector<std::string>& flags) {
  const std::string_view bare = typo.substr(0, typo.find('='));
  std::optional<std::string> best;
  size_t best_distance = 0;
  for (const std::string& flag : flags) {
    const size_t distance = edit_distance(bare, flag);
    // Within a third of the flag's letters: "--jbos" is "--jobs", "-Q" is nothing.
    const size_t letters = flag.size() - static_cast<size_t>(flag.find_first_not_of('-'));
    if (distance == 0 || distance * 3 > letters) continue;
    if (!best || distance < best_distance) {
      best = flag;
      best_distance = distance;
    }
  }
  return best;
}

std::string reword_parse_error(std::string_view message) {
  std::string text(message);
  std::smatch m;
  static const std::regex kMissing(R"(^(\S+): \d+ required (.+) missing$)");
  static const std::regex kTooMany(R"(^(\S+): At Most (\d+) required but received (\d+)$)");
  static const std::regex kFlagValue(R"(^(\S+) was given a disallowed flag override$)");
  if (std::regex_match(text, m, kMissing)) {
    return m.str(1) + " needs a value (" + m.str(2) + ")";
  }
  if (std::regex_match(text, m, kTooMany)) {
    return m.str(1) + " takes one value, given " + m.str(3) + " times";
  }
  if (std::regex_match(text, m, kFlagValue)) return m.str(1) + " takes no value";
  static const std::regex kConvert(R"(^Could not convert: (\S+) = (.*)$)");
  if (std::regex_match(text, m, kConvert)) {
    return m.str(1) + ": '" + m.str(2) + "' is not a value it takes";
  }
  return text;
}

std::string help_footer() {
  return wrap_paragraphs(R"(
Records come from ::: lists (every combination when there are several), else from -a files,
else from standard input. {} is the record, {.} without extension, {/} basename, {//} dirname,
{/.} basename without extension, {#} the job number, {%} the worker number, {N} the N-th list
or column ({-N} from the end). A command without any of them gets the record as its last argument; no command
runs each record as a command line.

Exit status: 0 when every job succeeded, else the number of failed jobs (101 for more than
100), 255 for invalid usage.

--compare needs the input twice, so it holds all of it in memory.

Examples:
  seq 10 | taskpool -j4 'echo {}; sleep 1'
  taskpool -k --joblog jobs.log gzip ::: *.log
  find . -name '*.jpg' | taskpool --bar convert {} {.}.png
  taskpool --timeout 30s --retries 2 --halt soon,fail=1 ./test.sh ::: unit e2e
  taskpool --fetch -j 16 -o downloads -a urls.txt)");
}

}  // namespace taskpool
