#include "cli/env_options.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace taskpool {
namespace {

using Words = std::vector<std::string>;

TEST_CASE("$PARALLEL's words are split as Perl's shellwords splits them") {
  CHECK(shell_words("") == Words{});
  CHECK(shell_words("  -j4\t-k \n") == Words{"-j4", "-k"});
  CHECK(shell_words("--tagstring 'a b' -I\"{x}\"") == Words{"--tagstring", "a b", "-I{x}"});
  CHECK(shell_words(R"(a\ b "c\"d" 'e\f')") == Words{"a b", "c\"d", "e\\f"});
  CHECK(shell_words("''") == Words{""});
  CHECK(shell_words("$HOME") == Words{"$HOME"});  // nothing is expanded
}

TEST_CASE("a quote left open in $PARALLEL is an error") {
  CHECK_THROWS_AS(shell_words("-j 'four"), UsageError);
  CHECK_THROWS_AS(shell_words("\"x"), UsageError);
}

}  // namespace
}  // namespace taskpool
