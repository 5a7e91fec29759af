// --colsep: splitting a value into columns at a Perl-compatible regular expression (PCRE2), as
// GNU parallel's Perl split does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

// Splits values into columns at a regular expression: Perl's split(/pattern/, value, -1), which
// GNU parallel uses. A match separates two columns; what the pattern's groups capture becomes
// columns of their own between them (an unset group an empty one); an empty match splits between
// two characters but never where the previous match ended; an empty value is one empty column.
// A pattern that is a single literal character (after escapes like \t) splits without PCRE2.
//
// Matching is bounded: a pattern that backtracks too much (`(a+)+$`) or too deep gives up on a
// value instead of running for ever or exhausting the stack. Copies share the compiled pattern
// and each has its own match state: one object is not thread-safe, two copies may be used from
// two threads.
class ColumnSplitter {
 public:
  // How much work one match may take: backtracking steps, nested backtracking (the interpreter),
  // its memory, and the stack of a JIT-compiled pattern.
  static constexpr uint32_t kMatchLimit = 10'000'000;
  static constexpr uint32_t kDepthLimit = 1'000'000;
  static constexpr uint32_t kHeapLimitKiB = 64 * 1024;
  static constexpr size_t kJitStackBytes = 8 * 1024 * 1024;

  // Throws UsageError naming --colsep when the pattern is not a valid regular expression.
  explicit ColumnSplitter(const std::string& pattern);
  ColumnSplitter(const ColumnSplitter& other);
  ColumnSplitter(ColumnSplitter&& other) noexcept;
  ColumnSplitter& operator=(const ColumnSplitter&) = delete;
  ColumnSplitter& operator=(ColumnSplitter&& other) noexcept;
  ~ColumnSplitter();

  // The columns of `value`, or nullopt when the pattern gave up on it (a limit above was
  // reached): `why` (when given) then says which.
  std::optional<std::vector<std::string>> split(std::string_view value,
                                                std::string* why = nullptr) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  struct MatchState;

  std::optional<std::vector<std::string>> split_regex(std::string_view value,
                                                      std::string* why) const;

  std::string pattern_;
  std::optional<char> single_char_;
  std::shared_ptr<const Compiled> compiled_;  // null for a single character
  std::unique_ptr<MatchState> state_;
};

}  // namespace taskpool
