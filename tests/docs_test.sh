#!/usr/bin/env bash
# Checks that the documentation matches the flags taskpool accepts:
#   (a) every flag `taskpool --help` prints appears in README.md and in doc/taskpool.1;
#   (b) every flag README.md documents in its flag tables (the "| flag | meaning | ..." tables,
#       rows starting with "| `-") is one that `taskpool --help` lists;
#   (c) the bash completion passes tests/completion_test.sh (every --help flag included);
#   (d) the man page formats without warnings (`groff -man -ww -z`), when groff is installed.
#
#   tests/docs_test.sh path/to/taskpool
#
# Exits non-zero when a check fails.
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 path/to/taskpool" >&2
  exit 2
fi
taskpool_bin=$1
root=$(cd "$(dirname "$0")/.." && pwd)
readme=$root/README.md
manpage=$root/doc/taskpool.1
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for f in "$readme" "$manpage" "$root/doc/taskpool.bash-completion"; do
  [[ -f $f ]] || { echo "FAIL: $f is missing" >&2; exit 1; }
done

help=$("$taskpool_bin" --help) || { echo "FAIL: '$taskpool_bin --help' failed" >&2; exit 1; }

# The flags of --help: the first word of each option line ("  -a,--arg-file FILE   ..."),
# split at commas.
help_flags=$(grep -E '^[[:space:]]+-' <<<"$help" | awk '{print $1}' | tr ',' '\n' |
             grep -E '^--?[[:alnum:]]' | sort -u)
if [[ -z $help_flags ]]; then
  echo "FAIL: no flags found in '$taskpool_bin --help'" >&2
  exit 1
fi
echo "--help lists $(wc -l <<<"$help_flags") flags"

# mentions TEXT FLAG: FLAG occurs in TEXT as a word of its own (not inside --flag-longer).
mentions() {
  grep -qE -- "(^|[^-[:alnum:]_])$2([^-[:alnum:]_]|$)" <<<"$1"
}

# The man page as text: font changes dropped, \- read as -, \& and \% removed.
man_text=$(sed -e 's/\\f[BIRP]//g' -e 's/\\f([A-Z][A-Z]//g' -e 's/\\-/-/g' \
               -e 's/\\&//g' -e 's/\\%//g' "$manpage")
readme_text=$(cat "$readme")

# (a)
for flag in $help_flags; do
  mentions "$readme_text" "$flag" || fail "(a) $flag is in --help but not in README.md"
  mentions "$man_text" "$flag" || fail "(a) $flag is in --help but not in doc/taskpool.1"
done

# (b) First cells of the rows of the flag tables: the tables whose header starts "| flag |".
table_flags=$(awk '
  /^\|/ {
    if (!in_table) { in_table = 1; flag_table = ($0 ~ /^\|[[:space:]]*flag[[:space:]]*\|/) }
    if (flag_table && $0 ~ /^\| `-/) {
      cell = $0
      sub(/^\|[[:space:]]*/, "", cell)
      sub(/[[:space:]]\|.*/, "", cell)   # cut at the first " |" (a "\|" inside stays)
      print cell
    }
    next
  }
  { in_table = 0 }
' "$readme" | grep -oE '(^|[` ,])--?[[:alnum:]][-[:alnum:]]*' | sed -E 's/^[` ,]//' | sort -u)
if [[ -z $table_flags ]]; then
  fail "(b) no flag table rows found in README.md"
fi
echo "README.md flag tables document $(wc -l <<<"$table_flags") flags"
for flag in $table_flags; do
  grep -qxF -- "$flag" <<<"$help_flags" ||
    fail "(b) README.md documents $flag, which taskpool --help does not list"
done

# (c)
if ! bash "$root/tests/completion_test.sh" "$taskpool_bin"; then
  fail "(c) tests/completion_test.sh failed"
fi

# (d)
if command -v groff >/dev/null 2>&1; then
  for args in "-man -ww -z" "-man -Tutf8 -ww -z"; do
    # shellcheck disable=SC2086
    warnings=$(groff $args "$manpage" 2>&1)
    status=$?
    if [[ $status -ne 0 || -n $warnings ]]; then
      fail "(d) groff $args doc/taskpool.1 (status $status): $warnings"
    fi
  done
  echo "groff: doc/taskpool.1 formats without warnings"
else
  echo "SKIP (d): groff is not installed, the man page was not formatted"
fi

if ((failures > 0)); then
  echo "docs_test: $failures check(s) failed" >&2
  exit 1
fi
echo "docs_test: all checks passed"
