"""Habits from xargs and GNU parallel: several records per command (-n -N -L -X -m -s), -I, -E,
-r, :::: FILE, :::+ and ::::+. Outputs are compared with GNU parallel's on the same input; those
comparisons are skipped, with a notice, when GNU parallel is not installed."""

import os
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import (TaskpoolTestCase, parallel, requires_gnu_parallel, sh, show_args_output,
                     taskpool, test_env)

# Records that a shell would mangle if taskpool passed them through one unquoted.
HOSTILE = [
    "a b",
    "  lead and trail  ",
    "it's",
    '"double"',
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "| touch pwned",
    "new\nline",
    "tab\there",
    "*",
    "-n",
    "back\\slash",
    "",
    "{}",
    "ünï",
]

# A command that counts its own invocations (one line each in count-rm.count) and removes its
# arguments.
COUNT_RM = '#!/bin/sh\necho run >> "$0.count"\nexec rm -- "$@"\n'

SYSTEM_LIMIT = 128 * 1024 - 1  # the longest single argument Linux accepts, less its NUL


def seq(first: int, last: int) -> bytes:
    return "".join(f"{i}\n" for i in range(first, last + 1)).encode()


def make_tmp_files(where: Path, count: int) -> list:
    """Files ending in .tmp whose names hold spaces, newlines, quotes and shell syntax."""
    kinds = ["plain", "with space", "new\nline", "it's \"q\"", "$(touch pwned)", "tab\tx"]
    names = []
    for i in range(count):
        name = f"{kinds[i % len(kinds)]} {i:05d} {'p' * 50}.tmp"
        (where / name).write_bytes(b"")
        names.append(name)
    return names


class XargsHabitsCase(TaskpoolTestCase):

    def tp(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return taskpool(*args, **kwargs)

    def gnu(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return parallel(*args, **kwargs)

    def same(self, *args, input=None, code=0):
        """Runs taskpool and GNU parallel alike; both must exit with `code` and print the same."""
        with ThreadPoolExecutor(2) as pool:
            ref_future = pool.submit(self.gnu, *args, input=input)
            mine = self.tp(*args, input=input)
            ref = ref_future.result()
        self.assertExit(ref, code, f"GNU parallel itself, args: {args!r}")
        self.assertExit(mine, code, f"args: {args!r}")
        self.assertEqual(mine.stdout, ref.stdout, f"args: {args!r}")
        return mine


@requires_gnu_parallel
class SameAsGnuParallelTest(XargsHabitsCase):
    """The examples users bring from xargs and GNU parallel, each against GNU parallel."""

    # -- find -print0 | taskpool -0 -X rm

    def remove_with(self, tool, where: Path) -> int:
        where.mkdir()
        make_tmp_files(where, 2000)
        (where / "keep.txt").write_bytes(b"")
        script = where / "count-rm"
        script.write_text(COUNT_RM)
        script.chmod(0o755)
        listing = subprocess.run(["find", ".", "-name", "*.tmp", "-print0"], cwd=where,
                                 capture_output=True, check=True).stdout
        r = tool("-0", "-X", "-j2", "./count-rm", input=listing, cwd=where)
        self.assertExit(r, 0, f"{tool.__name__}: find -print0 | -0 -X rm")
        self.assertEqual(sorted(p.name for p in where.iterdir()),
                         ["count-rm", "count-rm.count", "keep.txt"],
                         f"{tool.__name__}: some .tmp files were not removed")
        self.assertNoPwned(where)
        return len((where / "count-rm.count").read_text().splitlines())

    def test_find_print0_xargs_rm_removes_every_file_with_few_processes(self):
        mine = self.remove_with(taskpool, self.path("mine"))
        ref = self.remove_with(parallel, self.path("gnu"))
        # 2000 names of about 75 bytes need at least two command lines; GNU parallel uses 4.
        self.assertGreaterEqual(mine, 2)
        self.assertLessEqual(mine, max(ref, 4), f"taskpool ran rm {mine} times, GNU {ref}")

    # -- -n, -N, -L

    def test_max_args_three_appended(self):
        r = self.same("-k", "-n", "3", "echo", input=seq(1, 10))
        self.assertEqual(r.out, "1 2 3\n4 5 6\n7 8 9\n10\n")

    def test_max_args_records_stay_separate_arguments(self):
        self.same("-k", "-n", "2", "show-args", input=b"a b\nc\nd e\n")

    def test_max_args_braces_expand_to_all_records_of_the_job(self):
        self.same("-k", "-n", "3", "show-args", "x{}y", "{}", input=b"a b\nc\nd e\nf\n")

    def test_max_args_keeps_the_job_number(self):
        r = self.same("-k", "-n", "3", "echo", "{#}", "{}", input=seq(1, 10))
        self.assertEqual(r.out, "1 1 2 3\n2 4 5 6\n3 7 8 9\n4 10\n")

    def test_max_replace_args_two_as_positions(self):
        r = self.same("-k", "-N", "2", "echo", "{1}+{2}", input=seq(1, 6))
        self.assertEqual(r.out, "1+2\n3+4\n5+6\n")

    def test_max_replace_args_last_job_has_fewer(self):
        r = self.same("-k", "-N", "2", "echo", "{1}+{2}", input=seq(1, 7))
        self.assertEqual(r.out, "1+2\n3+4\n5+6\n7+\n")

    def test_max_replace_args_positions_in_any_order(self):
        self.same("-k", "-N", "2", "show-args", "{2}", "{1}", input=b"a b\nc\nd e\n")

    def test_max_replace_args_not_shortened_by_max_chars(self):
        self.same("-k", "-N", "3", "-s", "12", "echo", "{1}{2}{3}", input=seq(1, 7))

    def test_max_lines_appended(self):
        r = self.same("-k", "-L", "2", "show-args", input=b"a b\nc\nd\ne\nf\n")
        self.assertEqual(r.stdout, show_args_output(["a b", "c"], ["d", "e"], ["f"]))

    def test_max_lines_as_positions(self):
        self.same("-k", "-L", "2", "echo", "{2}-{1}", input=seq(1, 5))

    def test_max_lines_trailing_blank_continues_the_line(self):
        # xargs and GNU parallel: a line ending in a blank goes on with the next line, so
        # "c " and "d" are one logical line, "c d".
        r = self.same("-k", "-L", "2", "show-args", input=b"a b\nc \nd\ne\nf\n")
        self.assertEqual(r.stdout, show_args_output(["a b", "c d"], ["e", "f"]))

    def test_max_lines_any_trailing_blank_continues_the_line(self):
        # GNU parallel counts Perl's blanks: \v, \f and \r end a line that goes on, too.
        for blank in (b"\v", b"\f", b"\r"):
            self.same("-k", "-L", "1", "show-args", input=b"a" + blank + b"\nb\nc\n")

    # -- -X and -m

    def test_xargs_repeats_context_around_each_record(self):
        r = self.same("-k", "-j1", "-X", "echo", "pre{}post", input=seq(1, 5))
        self.assertEqual(r.out, "pre1post pre2post pre3post pre4post pre5post\n")

    def test_m_puts_all_records_in_place_of_braces(self):
        r = self.same("-k", "-j1", "-m", "echo", "pre{}post", input=seq(1, 5))
        self.assertEqual(r.out, "pre1 2 3 4 5post\n")

    def test_xargs_small_input_spread_over_workers(self):
        r = self.same("-k", "-j2", "-X", "echo", "a{}b", input=seq(1, 10))
        self.assertEqual(r.out, "a1b a2b a3b a4b a5b\na6b a7b a8b a9b a10b\n")

    def test_m_small_input_spread_over_workers(self):
        r = self.same("-k", "-j3", "-m", "echo", "{}", input=seq(1, 10))
        self.assertEqual(r.out, "1 2 3 4\n5 6 7 8\n9 10\n")

    def test_xargs_word_with_braces_twice_is_repeated_whole(self):
        r = self.same("-k", "-j1", "-X", "echo", "a{}b{}c", "{}:{.}", input=b"1\nx.y\n")
        self.assertEqual(r.out, "a1b1c ax.ybx.yc 1:1 x.y:x\n")
        self.same("-k", "-j1", "-X", "echo", "a{}b{#}c", "x{1}y{}", input=seq(1, 4))

    def test_xargs_with_job_number_and_context(self):
        self.same("-k", "-j3", "-X", "echo", "{#}", "x{}", input=seq(1, 10))

    def test_xargs_appends_without_braces(self):
        self.same("-k", "-j1", "-X", "echo", "first", input=seq(1, 10))

    def test_xargs_with_max_args(self):
        self.same("-k", "-j1", "-n", "2", "-X", "echo", "x{}y", input=seq(1, 5))

    def test_m_with_max_args(self):
        self.same("-k", "-j1", "-n", "2", "-m", "echo", "x{}y", input=seq(1, 5))

    def test_xargs_hostile_records_arrive_intact(self):
        data = b"".join(os.fsencode(h) + b"\0" for h in HOSTILE)
        r = self.same("-k", "-j1", "-0", "-X", "show-args", "pre{}post", input=data)
        self.assertEqual(r.stdout, show_args_output([f"pre{h}post" for h in HOSTILE]))
        self.assertNoPwned()

    def test_xargs_hostile_records_appended_arrive_intact(self):
        data = b"".join(os.fsencode(h) + b"\0" for h in HOSTILE)
        r = self.same("-k", "-j1", "-0", "-X", "show-args", input=data)
        self.assertEqual(r.stdout, show_args_output(HOSTILE))
        self.assertNoPwned()

    def test_xargs_hostile_records_through_the_shell_arrive_intact(self):
        data = b"".join(os.fsencode(h) + b"\0" for h in HOSTILE)
        r = self.same("-k", "-j1", "-0", "-X", "show-args {} | cat", input=data)
        self.assertEqual(r.stdout, show_args_output(HOSTILE))
        self.assertNoPwned()

    def test_m_hostile_records_arrive_intact(self):
        data = b"".join(os.fsencode(h) + b"\0" for h in HOSTILE)
        r = self.same("-k", "-j1", "-0", "-m", "show-args", "pre{}post", input=data)
        words = list(HOSTILE)
        words[0], words[-1] = "pre" + words[0], words[-1] + "post"
        self.assertEqual(r.stdout, show_args_output(words))
        self.assertNoPwned()

    # -- -s

    def test_max_chars_with_xargs(self):
        r = self.same("-k", "-j1", "-s", "20", "-X", "echo", input=seq(1, 30))
        self.assertEqual(r.out.splitlines()[:2], ["1 2 3 4 5 6 7", "8 9 10 11 12"])

    def test_max_chars_with_xargs_context(self):
        self.same("-k", "-j1", "-s", "20", "-X", "echo", "a{}b", input=seq(1, 30))

    def test_max_chars_with_m(self):
        self.same("-k", "-j1", "-s", "50", "-m", "echo", input=seq(1, 30))

    def test_max_chars_shortens_max_args(self):
        self.same("-k", "-j1", "-s", "30", "-n", "100", "echo", input=seq(1, 100))

    def test_max_chars_with_job_number_within_bounds(self):
        # taskpool leaves room for a job number wider than any run's, so its commands may hold
        # fewer records than GNU parallel's; each still fits and every record arrives once.
        args = ("-k", "-j1", "-s", "100", "-X", "echo", "{#}", "{}")
        mine, ref = self.tp(*args, input=seq(1, 300)), self.gnu(*args, input=seq(1, 300))
        self.assertExit(ref, 0, "GNU parallel itself")
        self.assertExit(mine, 0)
        lines = mine.out.splitlines()
        for line in lines:
            self.assertLess(len("echo " + line), 100, line)
        numbers = [int(w) for line in lines for w in line.split()[1:]]
        self.assertEqual(numbers, list(range(1, 301)))
        self.assertEqual([line.split()[0] for line in lines],
                         [str(i) for i in range(1, len(lines) + 1)])
        gnu_jobs = len(ref.out.splitlines())
        self.assertLessEqual(len(lines), gnu_jobs * 3 // 2 + 1,
                             f"taskpool ran {len(lines)} commands, GNU parallel {gnu_jobs}")

    # -- -I, -E, -r

    def move_with(self, tool, where: Path) -> tuple:
        where.mkdir()
        (where / "backup").mkdir()
        for name in ["a.txt", "b c.txt", "it's.txt", "$(touch pwned).txt"]:
            (where / name).write_text(name)
        r = sh(f"ls | {tool} -k -I@@ mv @@ backup/@@", cwd=where)
        return r, sorted(os.listdir(where)), sorted(os.listdir(where / "backup"))

    def test_custom_replacement_string_moves_files(self):
        mine = self.move_with("taskpool", self.path("mine"))
        ref = self.move_with("parallel --will-cite", self.path("gnu"))
        # "backup" is in the listing too: moving it into itself fails for both, exit 1.
        self.assertExit(ref[0], 1, "GNU parallel itself")
        self.assertExit(mine[0], 1)
        self.assertEqual(mine[1:], ref[1:])
        self.assertEqual(mine[1], ["backup"])
        self.assertEqual(mine[2], ["$(touch pwned).txt", "a.txt", "b c.txt", "it's.txt"])
        self.assertNoPwned(self.path("mine"))
        self.assertNoPwned(self.path("mine") / "backup")

    def test_custom_replacement_string_leaves_braces_alone(self):
        r = self.same("-k", "-I@@", "show-args", "@@", "x@@y", "{}", input=b"a b\nc\n")
        self.assertEqual(r.stdout, show_args_output(["a b", "xa by", "{}"], ["c", "xcy", "{}"]))

    def test_custom_replacement_string_with_xargs(self):
        self.same("-k", "-j1", "-X", "-I", "@", "echo", "x@y", input=seq(1, 5))

    def test_end_of_input_string_stops_reading(self):
        r = self.same("-k", "-E", "STOP", "echo", input=b"a\nxSTOP\nSTOPx\n STOP\nb\nSTOP\nc\n")
        self.assertEqual(r.out, "a\nxSTOP\nSTOPx\n STOP\nb\n")

    def test_end_of_input_string_first_runs_nothing(self):
        r = self.same("-k", "-E", "STOP", "echo", input=b"STOP\nb\n")
        self.assertEqual(r.stdout, b"")

    def test_end_of_input_string_with_xargs(self):
        r = self.same("-k", "-j1", "-E", "STOP", "-X", "echo", input=b"a\nb\nSTOP\nc\n")
        self.assertEqual(r.out, "a b\n")

    def test_end_of_input_string_with_null_records(self):
        self.same("-k", "-0", "-E", "STOP", "echo", input=b"a\0STOP\0b\0")

    def test_end_of_input_string_in_a_list(self):
        self.same("-k", "-E", "b", "echo", ":::", "a", "b", "c")

    def test_no_run_if_empty_runs_nothing(self):
        for extra in ([], ["-X"], ["-m"], ["-n", "2"], ["-N", "2"], ["-L", "2"]):
            with self.subTest(extra=extra):
                # GNU parallel is asked about a few of them only, to keep the test quick.
                tools = (self.tp, self.gnu) if extra in ([], ["-X"], ["-N", "2"]) else (self.tp,)
                for tool in tools:
                    r = tool("-r", *extra, "touch", "made", input=b"")
                    self.assertExit(r, 0, f"{tool.__name__} {extra}")
                    self.assertEqual(r.stdout, b"")
                    self.assertFalse(self.path("made").exists(), f"{tool.__name__} {extra}")

    def test_empty_input_runs_nothing_without_no_run_if_empty(self):
        for tool in (self.tp, self.gnu):
            r = tool("-X", "touch", "made", input=b"")
            self.assertExit(r, 0, tool.__name__)
            self.assertFalse(self.path("made").exists(), tool.__name__)

    # -- :::: FILE, :::+, ::::+

    def test_file_as_input_source(self):
        self.write("names.txt", "ann\nbob\ncy\n")
        r = self.same("-k", "echo", "{1}", "{2}", "::::", "names.txt", ":::", "a", "b")
        self.assertEqual(r.out, "ann a\nann b\nbob a\nbob b\ncy a\ncy b\n")

    def test_several_files_after_one_separator(self):
        self.write("names.txt", "ann\nbob\n")
        self.write("nums.txt", "1\n2\n")
        self.same("-k", "show-args", "{1}", "{2}", "::::", "names.txt", "nums.txt")

    def test_file_source_with_awkward_values(self):
        self.write("vals.txt", "a b\nit's\n\n$(touch pwned)\n")
        self.same("-k", "show-args", "{2}", "{1}", ":::", "x", "::::", "vals.txt")
        self.assertNoPwned()

    def test_stdin_as_file_source(self):
        self.same("-k", "show-args", "::::", "-", ":::", "1", "2", input=b"p\nq\n")

    def test_linked_lists(self):
        r = self.same("-k", "echo", "{1}={2}", ":::", "a", "b", "c", ":::+", "1", "2", "3")
        self.assertEqual(r.out, "a=1\nb=2\nc=3\n")

    def test_linked_lists_end_with_the_shorter(self):
        r = self.same("-k", "echo", "{1}={2}", ":::", "a", "b", "c", ":::+", "1", "2")
        self.assertEqual(r.out, "a=1\nb=2\n")

    def test_linked_list_after_a_product(self):
        self.same("-k", "echo", "{1}={2}={3}", ":::", "a", "b", ":::", "1", "2", ":::+", "p",
                  "q", "r")

    def test_linked_files(self):
        self.write("names.txt", "ann\nbob\ncy\n")
        self.write("letters.txt", "x\ny\nz\nw\n")
        r = self.same("-k", "echo", "{1}={2}", "::::", "names.txt", "::::+", "letters.txt")
        self.assertEqual(r.out, "ann=x\nbob=y\ncy=z\n")

    def test_linked_file_after_several_files(self):
        self.write("names.txt", "ann\nbob\ncy\n")
        self.write("nums.txt", "1\n2\n")
        self.write("letters.txt", "x\ny\nz\nw\n")
        self.same("-k", "echo", "{1}={2}={3}", "::::", "names.txt", "nums.txt", "::::+",
                  "letters.txt")

    def test_linked_list_to_a_file(self):
        self.write("nums.txt", "1\n2\n3\n")
        self.same("-k", "echo", "{1}={2}", "::::", "nums.txt", ":::+", "a", "b", "c", "d")


class XargsHabitsTest(XargsHabitsCase):
    """Limits, failures and bad usage, checked on taskpool alone."""

    def check_all_numbers_once(self, words, last):
        self.assertEqual(len(words), last, "records lost or repeated")
        self.assertEqual(sorted(int(w) for w in words), list(range(1, last + 1)))

    # -- the command-line limit

    def test_xargs_on_100000_records_few_processes_no_e2big(self):
        r = self.tp("-j2", "-X", "echo", input=seq(1, 100000))
        self.assertExit(r, 0)
        self.assertNotIn("too long", r.err)
        lines = r.out.splitlines()
        self.assertLess(len(lines), 50, f"{len(lines)} commands for 100000 records")
        for line in lines:
            self.assertLessEqual(len("echo " + line), SYSTEM_LIMIT)
        self.check_all_numbers_once(r.out.split(), 100000)

    def test_xargs_with_context_on_100000_records(self):
        r = self.tp("-j2", "-X", "echo", "n{}", input=seq(1, 100000))
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertLess(len(lines), 50, f"{len(lines)} commands for 100000 records")
        words = r.out.split()
        self.assertTrue(all(w.startswith("n") for w in words))
        self.check_all_numbers_once([w[1:] for w in words], 100000)

    def test_m_on_100000_records(self):
        r = self.tp("-j2", "-m", "echo", input=seq(1, 100000))
        self.assertExit(r, 0)
        self.assertLess(len(r.out.splitlines()), 50)
        self.check_all_numbers_once(r.out.split(), 100000)

    def test_xargs_through_the_shell_on_100000_records(self):
        # The whole command line is one argument to the shell, which has its own limit.
        r = self.tp("-j2", "-X", "echo {} | wc -w", input=seq(1, 100000))
        self.assertExit(r, 0)
        counts = [int(w) for w in r.out.split()]
        self.assertLess(len(counts), 50)
        self.assertEqual(sum(counts), 100000)

    def test_max_args_shortened_to_fit(self):
        r = self.tp("-k", "-j1", "-n", "100000", "echo", input=seq(1, 100000))
        self.assertExit(r, 0)
        self.assertGreater(len(r.out.splitlines()), 1)
        self.check_all_numbers_once(r.out.split(), 100000)

    def test_max_chars_lowers_the_limit(self):
        r = self.tp("-k", "-j1", "-s", "200", "-X", "echo", input=seq(1, 1000))
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        for line in lines:
            self.assertLess(len("echo " + line), 200, line)
        # 3893 bytes of numbers: at least 20 commands, and not far more.
        self.assertGreaterEqual(len(lines), 20)
        self.assertLessEqual(len(lines), 30)
        self.check_all_numbers_once(r.out.split(), 1000)

    def test_max_chars_above_the_system_limit_is_capped(self):
        r = self.tp("-j2", "-s", "1000000000", "-X", "echo", input=seq(1, 100000))
        self.assertExit(r, 0)
        self.assertNotIn("too long", r.err)
        self.check_all_numbers_once(r.out.split(), 100000)

    def test_xargs_with_small_stack_limit_no_e2big(self):
        # With `ulimit -s 1024` the system takes at most 256 KiB of arguments, environment and
        # their pointers; xargs and GNU parallel still fit 100000 short records.
        r = sh("ulimit -s 1024 || exit 99; seq 100000 | taskpool -j1 -X echo", cwd=self.tmp)
        if r.code == 99:
            self.skipTest("cannot lower the stack limit here")
        self.assertExit(r, 0)
        self.assertNotIn("too long", r.err)
        self.check_all_numbers_once(r.out.split(), 100000)

    def test_xargs_with_large_environment_no_e2big(self):
        # An environment that leaves about 64 KiB of the system's limit for arguments.
        arg_max = os.sysconf("SC_ARG_MAX")
        if not 256 * 1024 <= arg_max <= 6 * 1024 * 1024:
            self.skipTest(f"ARG_MAX is {arg_max}")
        env = test_env()
        used = sum(len(k) + len(v) + 2 + 8 for k, v in env.items())
        room, i = arg_max - 64 * 1024 - used, 0
        while room > 200:
            size = min(100000, room - 100)
            env[f"TASKPOOL_TEST_FILLER_{i}"] = "x" * size
            room -= size + 40
            i += 1
        r = self.tp("-j1", "-X", "echo", input=seq(1, 100000), env=env)
        self.assertExit(r, 0)
        self.assertNotIn("too long", r.err)
        self.check_all_numbers_once(r.out.split(), 100000)

    # -- a record too long for any command line

    def huge_input(self) -> bytes:
        return b"a\nb\n" + b"x" * (10 * 1024 * 1024) + b"\nc\nd\n"

    def test_ten_mib_record_fails_alone_with_xargs(self):
        r = self.tp("-k", "-j1", "-X", "echo", input=self.huge_input())
        self.assertExit(r, 1)
        self.assertIn("argument too long", r.err)
        self.assertEqual(r.out.split(), ["a", "b", "c", "d"])
        self.assertLess(len(r.stderr), 4096, "the message should not repeat the record")

    def test_ten_mib_record_fails_alone_through_the_shell(self):
        joblog = self.path("joblog")
        r = self.tp("-k", "-j2", "--joblog", joblog, "echo {} | wc -c", input=self.huge_input())
        self.assertExit(r, 1)
        self.assertIn("argument too long", r.err)
        self.assertEqual(r.out.split(), ["2", "2", "2", "2"])
        rows = [line.split("\t") for line in joblog.read_text().splitlines()[1:]]
        self.assertEqual(len(rows), 5)
        exitvals = {int(row[0]): row[6] for row in rows}
        self.assertEqual(exitvals, {1: "0", 2: "0", 3: "126", 4: "0", 5: "0"})

    # -- bad usage

    BAD_USAGE = [
        (["-n", "x"], ["-n"]),
        (["-N", "-1"], ["-N"]),
        (["-n", "2", "-N", "2"], ["-n", "-N"]),
        (["-n", "2", "-L", "2"], ["-n", "-L"]),
        (["-X", "-m"], ["-X", "-m"]),
        (["-N", "2", "-X"], ["-N", "-X"]),
        (["-L", "2", "-m"], ["-L", "-m"]),
        (["-s", "0"], ["-s"]),
        (["-s", "x"], ["-s"]),
        (["-I", ""], ["-I"]),
    ]

    def test_bad_usage_exits_255_naming_the_flag(self):
        for flags, names in self.BAD_USAGE:
            with self.subTest(flags=flags):
                r = self.tp(*flags, "touch", "ran", ":::", "a")
                self.assertExit(r, 255, f"flags: {flags!r}")
                for name in names:
                    self.assertIn(name, r.err, f"flags: {flags!r}")
                self.assertFalse(self.path("ran").exists(), f"a job ran with {flags!r}")

    def test_bad_sources_exit_255_naming_the_separator(self):
        cases = [
            (["::::"], "::::"),
            (["::::", ":::", "a"], "::::"),
        ]
        self.write("names.txt", "ann\n")
        for tail, name in cases:
            with self.subTest(tail=tail):
                r = self.tp("touch", "ran", *tail)
                self.assertExit(r, 255, f"sources: {tail!r}")
                self.assertIn(name, r.err)
                self.assertFalse(self.path("ran").exists())

    def test_missing_input_file_exits_255_naming_it(self):
        r = self.tp("touch", "ran", "::::", "missing-file")
        self.assertExit(r, 255)
        self.assertIn("missing-file", r.err)
        self.assertFalse(self.path("ran").exists())

    # -- small behaviours, without the reference

    def test_no_run_if_empty_is_accepted(self):
        r = self.tp("-k", "-r", "echo", input=b"a\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "a\n")

    def test_long_option_names(self):
        r = self.tp("-k", "--max-args", "2", "echo", input=seq(1, 3))
        self.assertEqual(r.out, "1 2\n3\n")
        r = self.tp("-k", "--max-replace-args", "2", "echo", "{2}{1}", input=seq(1, 3))
        self.assertEqual(r.out, "21\n3\n")
        r = self.tp("-k", "--max-lines", "2", "echo", input=seq(1, 3))
        self.assertEqual(r.out, "1 2\n3\n")
        r = self.tp("-k", "-j1", "--xargs", "--max-chars", "10", "echo", input=seq(1, 3))
        self.assertEqual(r.out, "1 2\n3\n")
        r = self.tp("-k", "--no-run-if-empty", "touch", "made", input=b"")
        self.assertExit(r, 0)
        self.assertFalse(self.path("made").exists())

    def test_job_numbers_count_commands_not_records(self):
        r = self.tp("-k", "-n", "4", "echo", "{#}:", "{}", input=seq(1, 10))
        self.assertEqual(r.out, "1: 1 2 3 4\n2: 5 6 7 8\n3: 9 10\n")


if __name__ == "__main__":
    unittest.main()
