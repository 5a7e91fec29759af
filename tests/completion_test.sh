#!/usr/bin/env bash
# Tests doc/taskpool.bash-completion in a plain bash (the bash-completion package is not
# needed): sources it, checks that it is registered for taskpool, and calls the completion
# function the way bash does, with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT, checking
# COMPREPLY.
#
#   tests/completion_test.sh [TASKPOOL]
#
# With the path of a taskpool binary, also checks that every flag its --help lists is
# completed. Exits non-zero when a check fails.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
completion=$root/doc/taskpool.bash-completion
taskpool_bin=${1:-}
if [[ -n $taskpool_bin && $taskpool_bin != /* ]]; then taskpool_bin=$PWD/$taskpool_bin; fi
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# shellcheck disable=SC1090,SC1091  # doc/taskpool.bash-completion, found at run time
source "$completion" || { echo "FAIL: cannot source $completion" >&2; exit 1; }

spec=$(complete -p taskpool 2>/dev/null) || { echo "FAIL: no completion registered for taskpool" >&2; exit 1; }
func=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
[[ -n $func ]] || { echo "FAIL: 'complete -p taskpool' names no function: $spec" >&2; exit 1; }
echo "registered: $spec"

# complete LINE WORD...: the words as bash splits LINE (at blanks and at the characters of
# COMP_WORDBREAKS such as : and =), the last one being completed, cursor at the end of LINE.
# Leaves the candidates in COMPREPLY.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  "$func" taskpool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

has() {  # has WORD: COMPREPLY contains WORD
  local c
  for c in "${COMPREPLY[@]}"; do [[ $c == "$1" ]] && return 0; done
  return 1
}

expect_has() {  # expect_has DESCRIPTION WORD...
  local what=$1 w
  shift
  for w in "$@"; do
    has "$w" || fail "$what: '$w' not offered (got: ${COMPREPLY[*]:-nothing})"
  done
}

expect_not() {  # expect_not DESCRIPTION WORD...
  local what=$1 w
  shift
  for w in "$@"; do
    has "$w" && fail "$what: '$w' offered (got: ${COMPREPLY[*]})"
  done
}

expect_only() {  # expect_only DESCRIPTION WORD...: exactly these, in any order
  local what=$1
  shift
  expect_has "$what" "$@"
  [[ ${#COMPREPLY[@]} -eq $# ]] || fail "$what: expected only '$*', got: ${COMPREPLY[*]:-nothing}"
}

play=$(mktemp -d)
trap 'rm -rf "$play"' EXIT
mkdir "$play/outdir"
touch "$play/urls.txt" "$play/urls.tsv" "$play/notes.md"
cd "$play" || exit 1

# Flags.
complete_line 'taskpool --ret' taskpool --ret
expect_has '--ret' --retries
complete_line 'taskpool --resume' taskpool --resume
expect_only '--resume' --resume --resume-failed
complete_line 'taskpool -' taskpool -
expect_has '-' -j -k -a -0 -X -m -I -E --jobs --keep-order --dry-run --fetch --timeline --eta
complete_line 'taskpool -j 4 --pro' taskpool -j 4 --pro
expect_only 'after -j 4' --progress --progress-interval
complete_line 'taskpool --colsep , --ta' taskpool --colsep , --ta
expect_only 'after --colsep VALUE' --tag --tagstring

# Option values.
complete_line 'taskpool --mode ' taskpool --mode ''
expect_only '--mode' pool batch
complete_line 'taskpool --mode=b' taskpool --mode = b
expect_only '--mode=b' batch
complete_line 'taskpool -j ' taskpool -j ''
expect_only '-j (a number: nothing)'
for opt in -a --arg-file --joblog --summary-json --timeline; do
  complete_line "taskpool $opt url" taskpool "$opt" url
  expect_only "$opt url" urls.txt urls.tsv
done
complete_line 'taskpool --arg-file=url' taskpool --arg-file = url
expect_only '--arg-file=url' urls.txt urls.tsv
complete_line 'taskpool --fetch -o ' taskpool --fetch -o ''
expect_only '-o (directories)' outdir
complete_line 'taskpool --fetch --output-dir o' taskpool --fetch --output-dir o
expect_only '--output-dir o (directories)' outdir

# The command and the input sources.
complete_line 'taskpool -k echo --ret' taskpool -k echo --ret
expect_not 'after the command (its own options)' --retries
complete_line 'taskpool echo ::: ' taskpool echo ':::' ''
expect_not 'after ::: (plain words)' --retries -j
expect_has 'after ::: (plain words)' urls.txt notes.md
complete_line 'taskpool echo ::: a --ret' taskpool echo ':::' a --ret
expect_not 'after ::: (plain words)' --retries
complete_line 'taskpool echo :::: url' taskpool echo '::::' url
expect_only 'after :::: (files)' urls.txt urls.tsv
complete_line 'taskpool echo ::: a :::+ ' taskpool echo ':::' a ':::' + ''
expect_not 'after :::+ (plain words)' --retries

# Every flag that taskpool --help lists.
if [[ -n $taskpool_bin ]]; then
  flags=$("$taskpool_bin" --help | grep -E '^[[:space:]]+-' | awk '{print $1}' | tr ',' '\n' | grep -E '^-')
  [[ -n $flags ]] || fail "no flags found in '$taskpool_bin --help'"
  for flag in $flags; do
    complete_line "taskpool $flag" taskpool "$flag"
    expect_has "every --help flag" "$flag"
  done
fi

if ((failures > 0)); then
  echo "completion_test: $failures check(s) failed" >&2
  exit 1
fi
echo "completion_test: all checks passed"
