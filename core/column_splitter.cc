#include "core/column_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <new>
#include <utility>

#include "core/error.h"

namespace taskpool {

namespace {

// The pattern as one literal character, when it is one: "x", "\t", "\\|", ",".
std::optional<char> single_character(const std::string& pattern) {
  constexpr std::string_view kSpecial = ".[]{}()*+?^$|\\";
  if (pattern.size() == 1 && kSpecial.find(pattern[0]) == std::string_view::npos) {
    return pattern[0];
  }
  if (pattern.size() == 2 && pattern[0] == '\\') {
    switch (pattern[1]) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case '0':
        return '\0';
      default:
        // Escaped punctuation is the character itself, in Perl as in PCRE2 (\v is not: it is
        // any vertical space there).
        if (kSpecial.find(pattern[1]) != std::string_view::npos || pattern[1] == '/' ||
            pattern[1] == ',' || pattern[1] == ' ' || pattern[1] == ':' || pattern[1] == ';') {
          return pattern[1];
        }
    }
  }
  return std::nullopt;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) {
    return "PCRE2 error " + std::to_string(code);
  }
  return reinterpret_cast<const char*>(buffer);
}

// Why a match gave up, for a message that goes on "--colsep 'P' could not split it: ".
std::string gave_up(int code) {
  switch (code) {
    case PCRE2_ERROR_MATCHLIMIT:
      return "the pattern backtracked more than " + std::to_string(ColumnSplitter::kMatchLimit) +
             " times (nested repeats like (a+)+ try exponentially many ways)";
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
      return "the pattern's backtracking went deeper than its limit (a repeated group like "
             "(a|b)* over a long record keeps every step)";
    default:
      return pcre2_message(code);
  }
}

}  // namespace

struct ColumnSplitter::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  uint32_t groups = 0;  // capturing groups

  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;
  explicit Compiled(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &error,
                         &offset, nullptr);
    if (code == nullptr) {
      throw UsageError("--colsep: '" + pattern + "' is not a valid regular expression (" +
                       pcre2_message(error) + ", at offset " + std::to_string(offset) + ")");
    }
    // Where JIT is not supported (or cannot get executable memory), the interpreter matches.
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
  }
  ~Compiled() { pcre2_code_free(code); }
};

struct ColumnSplitter::MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  bool jit = false;

  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
  explicit MatchState(const Compiled& compiled) {
    data = pcre2_match_data_create_from_pattern(compiled.code, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (data == nullptr || context == nullptr) {
      release();
      throw std::bad_alloc();
    }
    pcre2_set_match_limit(context, kMatchLimit);
    pcre2_set_depth_limit(context, kDepthLimit);
    pcre2_set_heap_limit(context, kHeapLimitKiB);
    if (compiled.jit) {
      // The JIT's default stack is 32 KiB of the machine stack; this one grows to a bound.
      stack = pcre2_jit_stack_create(32 * 1024, kJitStackBytes, nullptr);
      if (stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
      jit = stack != nullptr;
    }
  }
  ~MatchState() { release(); }

  void release() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

ColumnSplitter::ColumnSplitter(const std::string& pattern)
    : pattern_(pattern), single_char_(single_character(pattern)) {
  if (single_char_) return;
  compiled_ = std::make_shared<const Compiled>(pattern);
  state_ = std::make_unique<MatchState>(*compiled_);
}

ColumnSplitter::ColumnSplitter(const ColumnSplitter& other)
    : pattern_(other.pattern_),
      single_char_(other.single_char_),
      compiled_(other.compiled_),
      state_(compiled_ ? std::make_unique<MatchState>(*compiled_) : nullptr) {}

ColumnSplitter::ColumnSplitter(ColumnSplitter&& other) noexcept = default;
ColumnSplitter& ColumnSplitter::operator=(ColumnSplitter&& other) noexcept = default;
ColumnSplitter::~ColumnSplitter() = default;

std::optional<std::vector<std::string>> ColumnSplitter::split(std::string_view value,
                                                              std::string* why) const {
  // GNU parallel makes an empty value one empty column (Perl's split would give none).
  if (value.empty()) return std::vector<std::string>{""};
  if (!single_char_) return split_regex(value, why);
  std::vector<std::string> columns;
  size_t start = 0;
  for (;;) {
    const size_t at = value.find(*single_char_, start);
    if (at == std::string_view::npos) break;
    columns.emplace_back(value.substr(start, at - start));
    start = at + 1;
  }
  columns.emplace_back(value.substr(start));
  return columns;
}

std::optional<std::vector<std::string>> ColumnSplitter::split_regex(std::string_view value,
                                                                    std::string* why) const {
  // Perl's split: from where the last column starts, the leftmost match that ends past that
  // point (so an empty match there does not count); the rest after the last match is the last
  // column, even when empty.
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(value.data());
  const uint32_t options = PCRE2_NOTEMPTY_ATSTART | (state_->jit ? 0 : PCRE2_NO_JIT);
  std::vector<std::string> columns;
  size_t start = 0;
  bool matched = false;
  while (start < value.size()) {
    const int rc = pcre2_match(compiled_->code, subject, value.size(), start, options, state_->data,
                               state_->context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      if (why != nullptr) *why = gave_up(rc);
      return std::nullopt;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state_->data);
    // \K can move a match's start before its end's last position; such a match splits nothing.
    if (ovector[0] < start || ovector[1] <= start || ovector[0] > ovector[1]) break;
    columns.emplace_back(value.substr(start, ovector[0] - start));
    for (uint32_t group = 1; group <= compiled_->groups; ++group) {
      const bool set = group < static_cast<uint32_t>(rc) && ovector[2 * group] != PCRE2_UNSET;
      columns.emplace_back(
          set ? value.substr(ovector[2 * group], ovector[2 * group + 1] - ovector[2 * group])
              : std::string_view());
    }
    start = ovector[1];
    matched = true;
  }
  if (start < value.size() || matched) columns.emplace_back(value.substr(start));
  return columns;
}

}  // namespace taskpool
