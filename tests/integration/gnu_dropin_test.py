"""GNU parallel one-liners that taskpool takes as they are: the flags both have behave alike on
the same input (-r, -N0, ::::+, --joblog +FILE, -d, -s, repeated flags, GNU parallel's other
spellings, -q, -t, -v, --tagstring, the messages users grep for). Each is compared with GNU
parallel itself; the comparisons are skipped, with a notice, when it is not installed. Where
taskpool differs on purpose (doc/guide.md says where), the test says so."""

import signal
import subprocess
import time
import unittest

from helpers import (TASKPOOL, gnu_parallel, kill_group, requires_gnu_parallel, show_args_output,
                     test_env)
from xargs_habits_test import XargsHabitsCase, seq


@requires_gnu_parallel
class SameAsGnuParallelTest(XargsHabitsCase):
    """The same output and exit status as `parallel --will-cite` on the same input."""

    # -- -r

    def test_no_run_if_empty_skips_empty_records(self):
        r = self.same("-k", "-r", "echo", "x{}", ":::", "a", "", "b")
        self.assertEqual(r.out, "xa\nxb\n")

    def test_no_run_if_empty_skips_blank_lines_of_stdin(self):
        r = self.same("-k", "-r", "show-args", input=b"a\n\n  \n\t\nb c\n \x0bx\n")
        self.assertEqual(r.stdout, show_args_output(["a"], ["b c"], [" \x0bx"]))

    def test_no_run_if_empty_in_each_source_before_combining(self):
        self.same("-k", "-r", "echo", "{1}{2}", ":::", "a", "", "b", ":::", "", "1", " ")

    def test_no_run_if_empty_with_grouping(self):
        for extra in (["-n", "2"], ["-N", "2"], ["-X", "-j1"], ["-L", "1"]):
            with self.subTest(extra=extra):
                self.same("-k", "-r", *extra, "echo", input=b"a\n\nb\n \nc \nd\n")

    # -- -N 0, -n 0, -L 0

    def test_zero_count_runs_once_per_record_without_argument(self):
        for flag in ("-N", "-n", "-L"):
            with self.subTest(flag=flag):
                r = self.same("-k", flag, "0", "echo", "hi", ":::", "1", "2")
                self.assertEqual(r.out, "hi\nhi\n")
                r = self.same("-k", flag + "0", "show-args", "x", input=b"a\nb c\n\n")
                self.assertEqual(r.stdout, show_args_output(["x"], ["x"], ["x"]))

    def test_zero_count_replacement_strings_are_nothing(self):
        r = self.same("-k", "-N0", "show-args", "x{}y", "{}", "{1}", "{.}", "{#}", ":::", "p", "q")
        self.assertEqual(r.stdout, show_args_output(["xy", "1"], ["xy", "2"]))

    def test_zero_count_dry_run_prints_the_same_lines(self):
        self.same("-k", "-N0", "--dry-run", "echo", "a{}b", ":::", "1", "2")

    # -- -N and -L repeat the word around {}, as -X does

    def test_max_replace_args_repeats_the_word_around_braces(self):
        r = self.same("-k", "-N2", "echo", "a{}b", ":::", "1", "2", "3", "4")
        self.assertEqual(r.out, "a1b a2b\na3b a4b\n")

    def test_max_replace_args_last_job_repeats_for_the_records_it_has(self):
        r = self.same("-k", "-N2", "echo", "a{}b", ":::", "1", "2", "3")
        self.assertEqual(r.out, "a1b a2b\na3b\n")

    def test_max_lines_repeats_the_word_around_braces(self):
        r = self.same("-k", "-L2", "show-args", "x", "a{}b", "y", "{}", input=b"1\n2 3\n4\n")
        self.assertEqual(r.stdout, show_args_output(["x", "a1b", "a2 3b", "y", "1", "2 3"],
                                                    ["x", "a4b", "y", "4"]))

    def test_max_replace_args_context_with_other_strings(self):
        self.same("-k", "-N2", "echo", "a{}b{}c", "{1}x{}", "{.}:{#}", ":::", "1.p", "2", "3.q",
                  "4")

    def test_max_args_still_puts_the_records_in_place(self):
        r = self.same("-k", "-n2", "echo", "a{}b", ":::", "1", "2", "3", "4")
        self.assertEqual(r.out, "a1 2b\na3 4b\n")

    # -- ::::+ links every file it names; an empty source stands for one empty value

    def write_sources(self):
        self.write("f1", "a\nb\nc\n")
        self.write("f2", "1\n2\n")
        self.write("f3", "x\ny\nz\n")
        self.write("empty", "")

    def test_linked_files_as_the_only_source(self):
        self.write_sources()
        r = self.same("-k", "echo", "::::+", "f1", "f2")
        self.assertEqual(r.out, "a 1\nb 2\n")

    def test_linked_separator_links_every_file_after_it(self):
        self.write_sources()
        r = self.same("-k", "echo", "::::", "f1", "::::+", "f2", "f3")
        self.assertEqual(r.out, "a 1 x\nb 2 y\n")
        self.same("-k", "echo", "::::", "f1", "f2", "::::+", "f3")

    def test_linked_list_as_the_only_source(self):
        r = self.same("-k", "echo", ":::+", "a", "b")
        self.assertEqual(r.out, "a\nb\n")

    def test_empty_source_among_others_is_one_empty_value(self):
        self.write_sources()
        cases = [
            ("::::", "empty", ":::", "a", "b"),
            (":::", "a", "b", "::::", "empty"),
            (":::", "a", "b", "::::+", "empty"),
            ("::::", "f1", "empty"),
            ("::::", "empty", "::::+", "f1"),
            (":::", "a", ":::"),
            (":::", ":::", "a"),
            (":::", "a", "b", "::::", "empty", ":::+", "1", "2"),
        ]
        for sources in cases:
            with self.subTest(sources=sources):
                self.same("-k", "show-args", "x", *sources)
        self.same("-k", "-a", "empty", "-a", "f2", "show-args", "x")
        self.same("-k", "show-args", "x", "::::", "-", ":::", "a", input=b"")

    def test_only_empty_sources_run_nothing(self):
        self.write_sources()
        for sources in (("::::", "empty"), ("::::", "empty", "empty"), (":::", ":::")):
            with self.subTest(sources=sources):
                r = self.same("-k", "echo", "x", *sources)
                self.assertEqual(r.out, "")

    def test_empty_source_after_no_run_if_empty_is_one_empty_value(self):
        self.same("-k", "-r", "show-args", ":::", "a", ":::", "", " ")

    # -- --joblog +FILE

    def joblog_rows(self, name):
        return [line.split("\t") for line in self.path(name).read_text().splitlines()]

    def test_joblog_plus_appends_as_gnu_parallel(self):
        args = ("-k", "-j3", "sleep {}; echo {}", ":::", "0.3", "0.1", "0.2")
        for name, tool in (("mine", self.tp), ("ref", self.gnu)):
            self.write(name, "")
            for _ in range(2):
                self.assertExit(tool("--joblog", name, *args), 0)
            self.assertExit(tool("--joblog", "+" + name, *args), 0)
        mine, ref = self.joblog_rows("mine"), self.joblog_rows("ref")
        # The second run replaced the first; the third added to it, with -k in input order.
        self.assertEqual([r[0] for r in mine], [r[0] for r in ref])
        self.assertEqual([r[0] for r in mine], ["Seq", "1", "2", "3", "1", "2", "3"])
        self.assertEqual([r[8] for r in mine], [r[8] for r in ref])

    def test_joblog_keeps_input_order_with_keep_order(self):
        args = ("-k", "-j3", "sleep {}", ":::", "0.6", "0.05", "0.3")
        for name, tool in (("mine", self.tp), ("ref", self.gnu)):
            self.assertExit(tool("--joblog", name, *args), 0)
        self.assertEqual([r[0] for r in self.joblog_rows("mine")], ["Seq", "1", "2", "3"])
        self.assertEqual([r[0] for r in self.joblog_rows("mine")],
                         [r[0] for r in self.joblog_rows("ref")])

    # -- -d: several characters, GNU parallel's escapes, ::: values split too

    def test_delimiter_of_several_characters(self):
        r = self.same("-k", "-d", "\\r\\n", "show-args", input=b"a\r\nb c\r\nd\re\n\r\n")
        self.assertEqual(r.stdout, show_args_output(["a"], ["b c"], ["d\re\n"]))
        self.same("-k", "-d", "XY", "show-args", input=b"aXYbXXYcX")

    def test_delimiter_escapes(self):
        self.same("-k", "-d", "\\t", "show-args", input=b"a\tb\tc")
        self.same("-k", "-d", "\\001", "show-args", input=b"a\x01b")
        self.same("-k", "-d", "\\0", "show-args", input=b"a\0b\0")
        self.same("-k", "-d", "\\q", "show-args", input=b"a\\qb")

    def test_delimiter_splits_list_values(self):
        r = self.same("-k", "-d", ",", "show-args", ":::", "a,b", "c")
        self.assertEqual(r.stdout, show_args_output(["a"], ["b"], ["c"]))
        self.same("-k", "-d", ",", "show-args", ":::", "a,", "c", ",", "")
        self.same("-k", "-d", "\\r\\n", "show-args", ":::", "a\r\nb", "c\r")
        self.same("-k", "-d", ",", "-E", "b", "show-args", ":::", "a,b,c", "d")
        self.same("-k", "-d", ",", "show-args", "{1}-{2}", ":::", "a,b", ":::", "1,2")

    # -- -s smaller than one record

    def test_max_chars_refuses_a_record_too_long_for_it_and_runs_the_others(self):
        data = b"a\n" + b"b" * 20 + b"\nc\n"
        for extra in ([], ["-X"], ["-m"], ["-n", "2"]):
            with self.subTest(extra=extra):
                args = ("-k", "-j1", *extra, "-s", "15", "echo")
                ref = self.gnu(*args, input=data)
                mine = self.tp(*args, input=data)
                # GNU parallel (and xargs) stop the run at that record, with status 255 (xargs:
                # 1); taskpool refuses its job alone, as it does a record too long for any
                # command line, and the run goes on: the job fails, the status counts it.
                self.assertExit(ref, 255, "GNU parallel itself")
                self.assertIn("Command line too long (25 >= 15)", ref.err)
                self.assertEqual(ref.out, "a\n")
                self.assertExit(mine, 1)
                self.assertEqual(mine.out, "a\nc\n")
                self.assertIn("echo: command line too long: job 2 (record '" + "b" * 20 +
                              "') is 26 bytes with its terminating NUL, more than -s/--max-chars "
                              "15", mine.err)

    def test_max_chars_boundary_is_the_line_and_its_nul(self):
        # "echo " and 20 bytes: 25, and its NUL.
        self.same("-s", "26", "echo", ":::", "b" * 20)
        ref = self.gnu("-s", "25", "echo", ":::", "b" * 20)
        mine = self.tp("-s", "25", "echo", ":::", "b" * 20)
        self.assertEqual((ref.code, ref.out), (255, ""))
        self.assertEqual((mine.code, mine.out), (1, ""))
    # -- a flag given twice

    def test_flag_given_twice_takes_the_last_value(self):
        cases = [
            # Three workers at once: the worker numbers 1, 2, 3 (one worker: 1, 1, 1).
            ("-j", "1", "-j", "3", "-k", "sleep 1; echo {%}", ":::", "a", "b", "c"),
            ("-k", "-n", "2", "-n", "3", "echo", ":::", "1", "2", "3", "4"),
            ("-k", "-I", "@", "-I", "%", "echo", "%", "@", ":::", "a"),
            ("-k", "-E", "x", "-E", "y", "echo", ":::", "x", "y", "z"),
            ("-k", "-d", ",", "-d", ".", "echo", ":::", "a.b,c"),
            ("-k", "-k", "--tag", "--tag", "echo", ":::", "a", "b"),
        ]
        for args in cases:
            with self.subTest(args=args):
                self.same(*args)

    # -- GNU parallel's other spellings

    def test_other_spellings_of_flags_taskpool_has(self):
        cases = [
            ("-k", "-i@", "echo", "@", "{}", ":::", "a"),
            ("-k", "-i", "@", "echo", "@", "{}", ":::", "a"),
            ("-k", "-i", "--", "echo", "x{}", ":::", "a"),
            ("-k", "-e", "b", "echo", ":::", "a", "b", "c"),
            ("-k", "-eb", "echo", ":::", "a", "b", "c"),
            ("-k", "-e", "-k", "echo", ":::", "a", "b"),
            ("-k", "-l", "echo", ":::", "1", "2", "3"),
            ("-k", "-l", "2", "echo", ":::", "1", "2", "3"),
            ("-k", "-l2", "echo", ":::", "1", "2", "3"),
            ("-k", "-P", "2", "echo", ":::", "a", "b"),
            ("-k", "--dryrun", "echo", ":::", "a b", "it's"),
            ("-k", "-C", ",", "echo", "{2}{1}", ":::", "a,b", "c,d"),
            ("-j1", "--linebuffer", "echo", ":::", "a", "b"),
            ("-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2", ":::", "x"),
            ("-k", "--xapply", "echo", ":::", "a", ":::", "1", "2", "3"),
        ]
        for args in cases:
            with self.subTest(args=args):
                self.same(*args)

    def test_i_takes_the_next_word_as_gnu_parallel_does(self):
        # Perl's Getopt::Long gives -i the next word: `echo` is the replacement string here, so
        # the command `{} x` gets the record appended and fails, in both.
        r = self.same("-k", "-i", "echo", "{}", "x", ":::", "a", code=1)
        self.assertEqual(r.out, "")

    def test_halt_on_error_and_jl(self):
        args = ("-k", "-j1", "--halt-on-error", "now,fail=1", "--jl", "log", "sh -c 'exit {}'",
                ":::", "0", "3", "0")
        for name, tool in (("mine", self.tp), ("ref", self.gnu)):
            self.path(name).mkdir()
            r = tool(*args, cwd=self.path(name))
            self.assertExit(r, 3, name)  # --halt now: the failed job's status, in both
            rows = (self.path(name) / "log").read_text().splitlines()
            self.assertEqual([row.split("\t")[6] for row in rows], ["Exitval", "0", "3"], name)

    # -- -q, -t, -v, --tagstring

    def test_quote_makes_each_word_one_word(self):
        r = self.same("-k", "-q", "show-args", "a b", "{}", "x{}y", "$HOME|x", "{#}", ":::",
                      "p q", "it's")
        self.assertEqual(r.stdout, show_args_output(["a b", "p q", "xp qy", "$HOME|x", "1"],
                                                    ["a b", "it's", "xit'sy", "$HOME|x", "2"]))
        r = self.same("-k", "-q", "sh", "-c", 'echo "$1"', "x", ":::", "a b", "$(echo no)")
        self.assertEqual(r.out, "a b\n$(echo no)\n")
        self.assertNoPwned()

    def test_quote_dry_run_prints_the_same_lines(self):
        self.same("-k", "-q", "--dry-run", "echo", "a b", "{}", "x{}y", "$HOME|x", ":::", "p q")

    def test_verbose_prints_each_command_to_stderr(self):
        for flag in ("-t", "--verbose"):
            with self.subTest(flag=flag):
                args = (flag, "-k", "-j1", "echo", "{}", ":::", "a", "b c")
                ref, mine = self.gnu(*args), self.tp(*args)
                self.assertEqual(mine.stdout, ref.stdout)
                self.assertEqual(mine.err, ref.err)
                self.assertEqual(mine.err, "echo a\necho 'b c'\n")

    def test_v_prints_each_command_before_its_output(self):
        r = self.same("-v", "-k", "echo {}; echo more", ":::", "a", "b c")
        self.assertEqual(r.out, "echo a; echo more\na\nmore\necho 'b c'; echo more\nb c\nmore\n")
        self.same("-v", "-k", "-j3", "sleep {}; echo {}", ":::", "0.3", "0.1", "0.2")

    def test_tagstring(self):
        r = self.same("-k", "--tagstring", "<{}>{#}", "echo", "x{}", ":::", "a", "b c")
        self.assertEqual(r.out, "<a>1\txa\n<b c>2\txb c\n")
        self.same("-k", "--tagstring", "{1}-{2}", "echo", ":::", "a", "b", ":::", "1")
        self.same("-k", "--tagstring", "{/.}:", "printf", "'1\\n2\\n'", ":::", "d/x.txt")

    # -- the messages users grep for

    def same_stderr(self, *args, code):
        ref, mine = self.gnu(*args), self.tp(*args)
        self.assertExit(ref, code, "GNU parallel itself")
        self.assertExit(mine, code)
        self.assertEqual(mine.stdout, ref.stdout)
        self.assertEqual(mine.err, ref.err.replace("parallel: ", "taskpool: "))
        return mine

    def test_halt_names_each_failed_job(self):
        r = self.same_stderr("-j1", "--halt", "now,fail=1", 'sh -c "exit {}"', ":::", "0", "2",
                             "0", code=2)
        self.assertEqual(r.err, 'taskpool: This job failed:\nsh -c "exit 2"\n')
        self.same_stderr("-k", "-j1", "--halt", "soon,fail=2", 'sh -c "echo {}; exit {}"', ":::",
                         "0", "3", "0", "4", "5", code=2)

    def test_halt_on_success_names_each_succeeded_job(self):
        self.same_stderr("-j1", "--halt", "now,success=1", 'sh -c "exit {}"', ":::", "1", "0",
                         "1", code=0)

    def test_timeout_notice_has_gnu_parallels_two_lines(self):
        r = self.same_stderr("--timeout", "0.5", "sleep", ":::", "5", code=1)
        self.assertEqual(r.err, "taskpool: Warning: This job was killed because it timed out:\n"
                                "taskpool: Warning: sleep 5\n")

    def run_until_sighup(self, tool):
        where = self.path(tool)
        where.mkdir()
        argv = ([str(TASKPOOL)] if tool == "taskpool" else [gnu_parallel(), "--will-cite"])
        proc = subprocess.Popen(argv + ["-j1", "touch started; sleep 1; echo {}", ":::", "1", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=test_env(),
                                cwd=where, start_new_session=True)
        try:
            # Once the first job runs, the handlers are in place and a job is running.
            deadline = time.monotonic() + 30
            while not (where / "started").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.send_signal(signal.SIGHUP)
            out, err = proc.communicate(timeout=30)
        finally:
            kill_group(proc)
        return proc.returncode, out.decode(), err.decode()

    def test_sighup_starts_no_new_jobs_and_says_so(self):
        code, out, err = self.run_until_sighup("taskpool")
        ref_code, ref_out, ref_err = self.run_until_sighup("parallel")
        self.assertIn("parallel: SIGHUP received. No new jobs will be started.\n", ref_err)
        self.assertEqual(ref_out, "1\n")
        self.assertIn("taskpool: SIGHUP received. No new jobs will be started.\n", err)
        self.assertEqual(out, "1\n")


class DropInTest(XargsHabitsCase):
    """Behaviours checked on taskpool alone: bad usage, and where taskpool differs on purpose."""

    def test_joblog_plus_on_a_new_file_starts_it_with_the_header(self):
        # GNU parallel writes no header there; taskpool's --resume and other readers want one.
        r = self.tp("--joblog", "+new.log", "true", ":::", "a")
        self.assertExit(r, 0)
        rows = self.path("new.log").read_text().splitlines()
        self.assertEqual(len(rows), 2)
        self.assertTrue(rows[0].startswith("Seq\tHost\t"), rows)

    def test_list_value_with_a_newline_stays_one_record_without_delimiter(self):
        # GNU parallel splits `::: $'a\nb'` at the newline even without -d; taskpool splits ::: values
        # only at a -d the user gave: a value the shell made one argument stays one record.
        r = self.tp("-k", "show-args", ":::", "a\nb", "c")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a\nb"], ["c"]))
        r = self.tp("-k", "-d", "\\n", "show-args", ":::", "a\nb", "c")
        self.assertEqual(r.stdout, show_args_output(["a"], ["b"], ["c"]))

    def test_quote_excludes_grouping(self):
        r = self.tp("-q", "-X", "touch", "ran", ":::", "a")
        self.assertExit(r, 255)
        self.assertIn("-q", r.err)
        self.assertFalse(self.path("ran").exists())

    def test_zero_count_excludes_filling_the_command_line(self):
        for flags in (["-n", "0", "-X"], ["-N", "0", "-m"], ["-L", "0", "-X"]):
            with self.subTest(flags=flags):
                r = self.tp(*flags, "touch", "ran", ":::", "a")
                self.assertExit(r, 255)
                self.assertIn("-X and -m", r.err)
                self.assertFalse(self.path("ran").exists())


if __name__ == "__main__":
    unittest.main()
