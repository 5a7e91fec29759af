// The words of --help and of usage errors that CLI11 would otherwise choose: entries wrapped to
// the terminal's 80 columns, a suggestion for a mistyped flag, CLI11's messages in taskpool's
// words. Kept apart from options.cc so that it is tested, and built, without CLI11.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

// --help never writes past this column.
inline constexpr size_t kHelpWidth = 80;

// One flag's entry: `name` in a column of `name_width`, `description` wrapped at word boundaries
// to end by kHelpWidth (a name longer than its column puts the description on the next line).
std::string help_entry(std::string_view name, std::string_view description, size_t name_width);

// `text` re-wrapped paragraph by paragraph (blank lines kept; indented lines kept as they are)
// to end by kHelpWidth.
std::string wrap_paragraphs(std::string_view text);

// What --help says after the flags: records, the exit status, examples.
std::string help_footer();

// The flag of `flags` (each "--name" or "-x") that `typo` most likely meant: a few edits away
// (a swapped pair of letters counts as one), or nothing when none is close.
std::optional<std::string> closest_flag(std::string_view typo,
                                        const std::vector<std::string>& flags);

// A CLI11 parse error's message in taskpool's words ("--jobs needs a value (N|FILE)"), or the
// message unchanged when it is none CLI11 words oddly.
std::string reword_parse_error(std::string_view message);

}  // namespace taskpool
