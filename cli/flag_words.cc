#include "cli/flag_words.h"

#include <algorithm>

namespace taskpool {

FlagWords::FlagWords(const std::vector<std::string>& args) : all_(false) {
  for (const std::string& arg : args) {
    const std::string_view word(arg);
    if (word.size() < 2 || word[0] != '-') continue;
    if (word[1] == '-') {
      longs_.emplace_back(word.substr(2, word.find('=') - 2));
    } else {
      for (const char c : word.substr(1)) shorts_.set(static_cast<unsigned char>(c));
    }
  }
}

bool FlagWords::may_name(std::string_view names) const {
  if (all_) return true;
  while (!names.empty()) {
    const size_t comma = names.find(',');
    const std::string_view name = names.substr(0, comma);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    if (name.starts_with("--")) {
      if (std::find(longs_.begin(), longs_.end(), name.substr(2)) != longs_.end()) return true;
    } else if (name.size() == 2 && name[0] == '-') {
      if (shorts_.test(static_cast<unsigned char>(name[1]))) return true;
    } else {
      return true;  // a spelling of another kind: declared, to be safe
    }
  }
  return false;
}

}  // namespace taskpool
