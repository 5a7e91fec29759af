#include "core/utf8.h"

namespace taskpool {

size_t utf8_sequence_length(std::string_view text, size_t& invalid) {
  const auto lead = static_cast<unsigned char>(text[0]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // below: overlong
    if (lead == 0xed) high = 0x9f;  // above: surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // below: overlong
    if (lead == 0xf4) high = 0x8f;  // above: past U+10FFFF
  }
  size_t k = 1;
  for (; k < length && k < text.size(); ++k) {
    const auto byte = static_cast<unsigned char>(text[k]);
    if (byte < (k == 1 ? low : 0x80) || byte > (k == 1 ? high : 0xbf)) break;
  }
  if (length != 0 && k == length) return length;
  invalid = k;
  return 0;
}

bool is_utf8(std::string_view text) {
  while (!text.empty()) {
    size_t invalid = 0;
    const size_t length = utf8_sequence_length(text, invalid);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

}  // namespace taskpool
