// The words of a command line that may name a flag, so that only the flags they may name are
// declared to CLI11: it takes some 10 000 instructions to declare one, and a run that names a few
// of taskpool's 90 flags (or none) would spend most of its start-up declaring the rest.
#pragma once

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

class FlagWords {
 public:
  // Every flag may be named: for --help's list and a mistyped flag's suggestion.
  static FlagWords all() { return FlagWords(); }
  // The option-like words of `args` (anywhere in them: a superset is harmless).
  explicit FlagWords(const std::vector<std::string>& args);

  // Whether a word may name a flag with these CLI11 names ("-j,-P,--jobs"): a long name given as
  // --NAME or --NAME=VALUE, or a short one anywhere in a single-dash word (-kj4 may be -k -j 4).
  bool may_name(std::string_view names) const;

 private:
  FlagWords() : all_(true) {}

  bool all_;
  std::vector<std::string> longs_;  // NAME of --NAME and --NAME=VALUE
  std::bitset<256> shorts_;         // every character of every single-dash word
};

}  // namespace taskpool
