// UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <string_view>

namespace taskpool {

// The length of the well-formed UTF-8 sequence `text` starts with (1 for ASCII), or 0 when it
// starts with an ill-formed one; `invalid` then gets that one's length: its lead byte and the
// continuation bytes that fit it (Unicode's "maximal subpart", which a decoder replaces with one
// U+FFFD, as Python's and the browsers' do). REQUIRES: !text.empty().
size_t utf8_sequence_length(std::string_view text, size_t& invalid);

// Whether all of `text` is well-formed UTF-8.
bool is_utf8(std::string_view text);

}  // namespace taskpool
