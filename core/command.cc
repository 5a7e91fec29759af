#include "core/command.h"

#include <algorithm>
#include <array>
#include <utility>

namespace taskpool {

namespace {

// Reserved words of POSIX sh and bash: as a first word they start syntax, not a program. Both
// lists are sorted, for a binary search at every job.
constexpr std::array<std::string_view, 22> kKeywords = {
    "!",   "[[",       "]]", "case", "coproc", "do",   "done", "elif",  "else",  "esac", "fi",
    "for", "function", "if", "in",   "select", "then", "time", "until", "while", "{",    "}"};
static_assert(std::ranges::is_sorted(kKeywords));

// Builtins of dash and bash. The shell runs these itself, so exec'ing a program of the same name
// could behave differently (or not exist at all, like `cd`).
constexpr std::array<std::string_view, 61> kBuiltins = {
    ".",      ":",       "[",         "alias",    "bg",       "bind",    "break",    "builtin",
    "caller", "cd",      "command",   "compgen",  "complete", "compopt", "continue", "declare",
    "dirs",   "disown",  "echo",      "enable",   "eval",     "exec",    "exit",     "export",
    "false",  "fc",      "fg",        "getopts",  "hash",     "help",    "history",  "jobs",
    "kill",   "let",     "local",     "logout",   "mapfile",  "popd",    "printf",   "pushd",
    "pwd",    "read",    "readarray", "readonly", "return",   "set",     "shift",    "shopt",
    "source", "suspend", "test",      "times",    "trap",     "true",    "type",     "typeset",
    "ulimit", "umask",   "unalias",   "unset",    "wait"};
static_assert(std::ranges::is_sorted(kBuiltins));

bool is_plain_byte(unsigned char c) {
  if (c >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '_':
    case '-':
    case '.':
    case '/':
    case ':':
    case ',':
    case '+':
    case '@':
    case '%':
    case '^':
    case '=':
    case '#':
      return true;
    default:
      return false;
  }
}

// Builtins whose program on PATH does exactly the same for these arguments.
bool builtin_matches_program(const std::vector<std::string>& words) {
  const std::string_view name = words.front();
  if (name == "true" || name == "false") {
    // coreutils' true and false answer a sole --help or --version; the builtins ignore them.
    return !(words.size() == 2 && (words[1] == "--help" || words[1] == "--version"));
  }
  if (name == "echo") {
    // dash's echo reads backslash escapes (quoted or not) and options differently from
    // coreutils' echo.
    for (const auto& word : words) {
      if (word.find('\\') != std::string::npos) return false;
    }
    return words.size() == 1 || words[1].empty() || words[1][0] != '-';
  }
  return false;
}

}  // namespace

std::optional<std::vector<std::string>> split_simple_command(std::string_view line) {
  std::vector<std::string> words;
  words.reserve(4);  // a program and a few arguments, in one allocation
  std::string word;
  bool in_word = false;
  bool first_word_quoted = false;
  size_t i = 0;
  const auto end_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == ' ' || c == '\t') {
      end_word();
      ++i;
      continue;
    }
    const bool at_word_start = !in_word;
    if (words.empty() && (c == '\'' || c == '"' || c == '\\')) first_word_quoted = true;
    if (c == '\'') {
      const size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      word.append(line.substr(i + 1, close - i - 1));
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      const size_t close = line.find('"', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      const std::string_view inside = line.substr(i + 1, close - i - 1);
      if (inside.find_first_of("$`\\!") != std::string_view::npos) return std::nullopt;
      word.append(inside);
      in_word = true;
      i = close + 1;
    } else if (c == '\\') {
      // A backslash-newline continues the line; a final backslash is an error for the shell.
      if (i + 1 >= line.size() || line[i + 1] == '\n') return std::nullopt;
      word += line[i + 1];
      in_word = true;
      i += 2;
    } else if (c == '~') {
      // Literal inside a word; a tilde prefix (at the start, or after = or : as bash reads
      // assignment-like words) expands to a home directory.
      if (at_word_start || (!word.empty() && (word.back() == '=' || word.back() == ':'))) {
        return std::nullopt;
      }
      word += '~';
      ++i;
    } else if (is_plain_byte(c)) {
      if (c == '#' && at_word_start) return std::nullopt;  // a comment
      if (c == '=' && words.empty()) return std::nullopt;  // maybe an assignment
      word += static_cast<char>(c);
      in_word = true;
      ++i;
    } else {
      return std::nullopt;  // operators, expansions, globs, newlines, control bytes
    }
  }
  end_word();
  if (words.empty() || words.front().empty()) return std::nullopt;
  const std::string_view first = words.front();
  if (!first_word_quoted && std::ranges::binary_search(kKeywords, first)) return std::nullopt;
  // A quoted builtin name is still the builtin, so this check ignores quoting.
  if (std::ranges::binary_search(kBuiltins, first) && !builtin_matches_program(words)) {
    return std::nullopt;
  }
  return words;
}

Command make_command(std::string line) {
  Command command;
  if (auto words = split_simple_command(line)) {
    command.argv = std::move(*words);
    // -X makes thousands of words, and the command lives while it runs: it keeps only the room
    // they take. A few words' room is not worth a copy for every job.
    if (command.argv.size() > 256) command.argv.shrink_to_fit();
  }
  command.line = std::move(line);
  return command;
}

std::optional<std::string> nul_byte_error(const Command& command) {
  const auto holds_nul = [](const std::string& text) {
    return text.find('\0') != std::string::npos;
  };
  if (!holds_nul(command.line) && std::ranges::none_of(command.argv, holds_nul)) {
    return std::nullopt;
  }
  const std::string program =
      command.line.substr(0, command.line.find_first_of(std::string_view(" \t\n\0", 4)));
  return program +
         ": the command line holds a NUL byte, which no program can receive in an argument "
         "(NUL-separated records: use -0)";
}

}  // namespace taskpool
