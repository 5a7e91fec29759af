"""Records are data, never code: hostile records reach the program byte for byte and run
nothing else, whether taskpool runs the program directly or through /bin/sh."""

import subprocess
import unittest

from helpers import TaskpoolTestCase, run, show_args_output, taskpool, test_env

# Records that would do harm (or change meaning) if a shell read them unquoted. None of them
# contains a newline, so they can also be given on ::: lists and read one per line.
HOSTILE = [
    "two words",
    "  leading and trailing spaces  ",
    "it's",
    "'",
    '"',
    'say "hi"',
    "mixed 'single' and \"double\"",
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "x; touch pwned",
    "x && touch pwned",
    "x || touch pwned",
    "x | touch pwned",
    "x & touch pwned",
    "> pwned",
    "< /etc/passwd",
    "(touch pwned)",
    "{ touch pwned; }",
    "-n",
    "-e",
    "--help",
    "-",
    "--",
    "ünïcödé ✓ 日本語",
    "back\\slash",
    "\\n",
    "\\",
    "trailing\\",
    "*",
    "*.txt",
    "?",
    "[a-z]*",
    "~",
    "~root",
    "$HOME",
    "${PATH}",
    "$1",
    "$'\\x41'",
    "a\tb",
    "#comment",
    "x #comment",
    "!",
    "!!",
    "a=b",
    "PATH=/nonexistent",
    "{}",
    "{.}",
    "{1}",
    "{a,b}",
    "%s%n",
    "\r",
    "\x01\x7f",
]

# Records that only -0 (or another delimiter) can carry.
WITH_NEWLINES = ["line one\nline two", "\n", "trailing newline\n", "\nleading", "a\n$(touch pwned)\nb"]


class QuotingTestCase(TaskpoolTestCase):

    def setUp(self):
        super().setUp()
        # Files a glob could expand to, if a record were ever left unquoted.
        for name in ("a.txt", "b.txt", "x"):
            self.write(name, "decoy\n")

    def tp(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return taskpool(*args, **kwargs)

    def check(self, result, expected):
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, expected)
        self.assertNoPwned()


class DirectExecTest(QuotingTestCase):
    """A plain command line (a program on PATH, no shell syntax)."""

    def test_placeholder_from_argument_list(self):
        r = self.tp("-k", "show-args", "{}", ":::", *HOSTILE)
        self.check(r, show_args_output(*[[h] for h in HOSTILE]))

    def test_record_appended_from_stdin(self):
        r = self.tp("-k", "show-args", input="".join(h + "\n" for h in HOSTILE).encode())
        self.check(r, show_args_output(*[[h] for h in HOSTILE]))

    def test_placeholder_with_fixed_arguments(self):
        r = self.tp("-k", "show-args", "before", "{}", "after", ":::", *HOSTILE)
        self.check(r, show_args_output(*[["before", h, "after"] for h in HOSTILE]))

    def test_placeholder_inside_a_word(self):
        r = self.tp("-k", "show-args", "pre-{}-post", ":::", *HOSTILE)
        self.check(r, show_args_output(*[[f"pre-{h}-post"] for h in HOSTILE]))

    def test_null_delimited_records_with_newlines(self):
        records = HOSTILE + WITH_NEWLINES
        r = self.tp("-k", "-0", "show-args", "{}", input="".join(h + "\0" for h in records).encode())
        self.check(r, show_args_output(*[[h] for h in records]))

    def test_custom_delimiter_records_with_newlines(self):
        records = ["a\nb", "$(touch pwned)", "it's"]
        r = self.tp("-k", "-d", ",", "show-args", input=",".join(records).encode())
        self.check(r, show_args_output(*[[h] for h in records]))

    def test_several_lists_with_hostile_values(self):
        first = ["$(touch pwned)", "it's", "a b"]
        second = ["; touch pwned", "`touch pwned`", "-n"]
        r = self.tp("-k", "show-args", "{1}", "{2}", ":::", *first, ":::", *second)
        self.check(r, show_args_output(*[[a, b] for a in first for b in second]))

    def test_several_lists_appended(self):
        first = ["$(touch pwned)", "a b"]
        second = ["it's", "*"]
        r = self.tp("-k", "show-args", ":::", *first, ":::", *second)
        self.check(r, show_args_output(*[[a, b] for a in first for b in second]))

    def test_columns_with_hostile_values(self):
        rows = [("$(touch pwned)", "it's"), ("a b", "; touch pwned"), ("`touch pwned`", "*"),
                ("-n", '"quoted"')]
        data = "".join(f"{a}\t{b}\n" for a, b in rows).encode()
        r = self.tp("-k", "--colsep", "\\t", "show-args", "{2}", "{1}", input=data)
        self.check(r, show_args_output(*[[b, a] for a, b in rows]))

    def test_derived_replacement_strings_are_quoted(self):
        records = ["dir; touch pwned/$(touch pwned).tar.gz", "it's dir/`touch pwned`.x"]
        r = self.tp("-k", "show-args", "{.}", "{/}", "{//}", "{/.}", ":::", *records)
        self.assertExit(r, 0)
        self.assertNoPwned()
        self.assertEqual(
            r.stdout,
            show_args_output(
                ["dir; touch pwned/$(touch pwned).tar", "$(touch pwned).tar.gz",
                 "dir; touch pwned", "$(touch pwned).tar"],
                ["it's dir/`touch pwned`", "`touch pwned`.x", "it's dir", "`touch pwned`"]))

    def test_echo_prints_records_as_the_shell_would(self):
        # echo is a shell builtin that also exists as a program; either way the output must be
        # what `sh -c LINE` prints, LINE being the command taskpool shows with --dry-run.
        records = ["-n", "-e", "a\\nb", "\\c", "plain", "-n x", "x -n"]
        dry = self.tp("-k", "--dry-run", "echo", "{}", ":::", *records)
        self.assertExit(dry, 0)
        lines = dry.out.splitlines()
        self.assertEqual(len(lines), len(records))
        expected = b"".join(
            subprocess.run(["/bin/sh", "-c", line], capture_output=True, cwd=self.tmp,
                           timeout=60).stdout for line in lines)
        r = self.tp("-k", "echo", "{}", ":::", *records)
        self.check(r, expected)


class ShellPathTest(QuotingTestCase):
    """A command line with shell syntax, which taskpool hands to /bin/sh."""

    def test_pipe_as_separate_word(self):
        r = self.tp("-k", "show-args", "{}", "|", "cat", ":::", *HOSTILE)
        self.check(r, show_args_output(*[[h] for h in HOSTILE]))

    def test_pipe_inside_one_word(self):
        r = self.tp("-k", "show-args {} | cat", ":::", *HOSTILE)
        self.check(r, show_args_output(*[[h] for h in HOSTILE]))

    def test_record_appended_to_a_shell_command(self):
        r = self.tp("-k", "true; show-args", input="".join(h + "\n" for h in HOSTILE).encode())
        self.check(r, show_args_output(*[[h] for h in HOSTILE]))

    def test_null_delimited_records_with_newlines(self):
        records = HOSTILE + WITH_NEWLINES
        r = self.tp("-k", "-0", "show-args {} | cat",
                    input="".join(h + "\0" for h in records).encode())
        self.check(r, show_args_output(*[[h] for h in records]))

    def test_several_lists_and_redirection(self):
        first = ["$(touch pwned)", "it's", "> pwned"]
        second = ["; touch pwned", "`touch pwned`"]
        r = self.tp("-k", "show-args {1} {2} 2>/dev/null", ":::", *first, ":::", *second)
        self.check(r, show_args_output(*[[a, b] for a in first for b in second]))

    def test_columns_through_the_shell(self):
        rows = [("$(touch pwned)", "it's"), ("a b", "; touch pwned")]
        data = "".join(f"{a},{b}\n" for a, b in rows).encode()
        r = self.tp("-k", "--colsep", ",", "show-args {2} {1} | cat", input=data)
        self.check(r, show_args_output(*[[b, a] for a, b in rows]))

    def test_dry_run_lines_reproduce_the_records(self):
        # Each line --dry-run prints, given to sh, passes the record through unchanged.
        dry = self.tp("-k", "--dry-run", "show-args", "{}", "x{}y", ":::", *HOSTILE)
        self.assertExit(dry, 0)
        self.assertNoPwned()
        lines = dry.stdout.split(b"\n")
        self.assertEqual(lines[-1], b"")
        lines = lines[:-1]
        self.assertEqual(len(lines), len(HOSTILE))
        for record, line in zip(HOSTILE, lines):
            out = run(["/bin/sh", "-c", line.decode("utf-8", "surrogateescape")], cwd=self.tmp,
                      env=test_env())
            self.assertEqual(out.stdout, show_args_output([record, f"x{record}y"]),
                             f"--dry-run line {line!r} does not give back {record!r}")
        self.assertNoPwned()


if __name__ == "__main__":
    unittest.main()
