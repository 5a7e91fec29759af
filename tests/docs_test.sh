#!/usr/bin/env bash
# Checks that the documentation matches the flags taskpool accepts:
#   (a) every flag `taskpool --help` prints appears in the user guide (doc/guide.md) and in the
#       man page (doc/taskpool.1), and every flag the man page's OPTIONS entries name is one that
#       `taskpool --help` lists;
#   (b) every flag doc/guide.md documents in its flag tables (the "| flag | meaning | ..." tables,
#       rows starting with "| `-") is one that `taskpool --help` lists, and every flag in the
#       taskpool column of README.md's table for GNU parallel and xargs users is one too;
#   (c) the bash completion passes tests/completion_test.sh (every --help flag included);
#   (d) the man page formats without warnings (`groff -man -ww -z`), when groff is installed;
#   (e) every relative link of README.md, doc/guide.md and doc/DEVELOPING.md reaches a file, and
#       its #anchor a heading of that file (as GitHub makes anchors of headings).
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
guide=$root/doc/guide.md
manpage=$root/doc/taskpool.1
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for f in "$readme" "$guide" "$manpage" "$root/doc/taskpool.bash-completion"; do
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
guide_text=$(cat "$guide")

# flag_words: the words of standard input that are flags (-x, --long-name), one a line, sorted.
flag_words() {
  grep -oE '(^|[` ,"|(])--?[[:alnum:]][-[:alnum:]]*' | sed -E 's/^[` ,"|(]//' | sort -u
}

# all_in_help WHERE FLAGS: each of FLAGS (one a line, found in WHERE) is a flag --help lists.
all_in_help() {
  local where=$1 flags=$2 flag
  if [[ -z $flags ]]; then
    fail "no flags found in $where"
    return
  fi
  echo "$where: $(wc -l <<<"$flags") flags"
  for flag in $flags; do
    grep -qxF -- "$flag" <<<"$help_flags" ||
      fail "$where names $flag, which taskpool --help does not list"
  done
}

# (a)
for flag in $help_flags; do
  mentions "$guide_text" "$flag" || fail "(a) $flag is in --help but not in doc/guide.md"
  mentions "$man_text" "$flag" || fail "(a) $flag is in --help but not in doc/taskpool.1"
done
# The man page's flags: the tag line after each .TP of its OPTIONS section.
man_flags=$(awk '/^\.SH/ { in_options = ($0 ~ /^\.SH OPTIONS/) }
                 in_options && /^\.TP/ { getline; print }' "$manpage" |
            sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' | flag_words)
all_in_help "(a) the OPTIONS of doc/taskpool.1" "$man_flags"

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
' "$guide" | flag_words)
all_in_help "(b) the flag tables of doc/guide.md" "$table_flags"
# The README's table for GNU parallel and xargs users ("| GNU parallel | xargs | taskpool |"):
# the flags of its third column, in backquotes.
# shellcheck disable=SC2016
readme_flags=$(awk -F' \\| ' '
  /^\| GNU parallel \| xargs \| taskpool \|/ { in_table = 1; next }
  in_table && !/^\|/ { in_table = 0 }
  in_table && /^\| / { print $3 }
' "$readme" | grep -oE '`--?[[:alnum:]][^`]*`' | flag_words)
all_in_help "(b) the taskpool column of README.md's table for GNU parallel users" "$readme_flags"

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

# (e)
if ! links=$(python3 - "$root" README.md doc/guide.md doc/DEVELOPING.md <<'PY'
import os, re, sys
root, files = sys.argv[1], sys.argv[2:]

def anchors(path):
    found, fence = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#+ (.*)", line)
        if m:
            found.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return found

bad = 0
for name in files:
    path = os.path.join(root, name)
    text = re.sub(r"```.*?```", "", open(path, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, mailto:
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(dest):
            print(f"{name}: link to {target}: no such file")
            bad += 1
        elif anchor and anchor not in anchors(dest):
            print(f"{name}: link to {target}: no such heading")
            bad += 1
sys.exit(1 if bad else 0)
PY
); then
  fail "(e) $links"
else
  echo "links: every link of the documentation reaches its file and heading"
fi

if ((failures > 0)); then
  echo "docs_test: $failures check(s) failed" >&2
  exit 1
fi
echo "docs_test: all checks passed"
