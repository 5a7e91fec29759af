"""Where records come from: -a FILE, stdin, ::: lists; newline, NUL and custom delimiters;
--colsep columns; records too long to run."""

import os
import subprocess
import tempfile
import time
import unittest

from helpers import (TASKPOOL, TIMEOUT, TaskpoolTestCase, kill_group, parallel,
                     requires_gnu_parallel, show_args_output, sized, taskpool, test_env)

MIB = 1024 * 1024


def joblog_rows(path):
    lines = path.read_text().splitlines()
    return {int(f[0]): f for f in (line.split("\t") for line in lines[1:])}


def peak_kib(pid: int) -> int:
    """The peak resident memory of process `pid` so far (VmHWM), 0 once it is gone. Not wait4's
    ru_maxrss: a child spawned with vfork counts its parent's (this test's) memory there."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_with_peak(args, feeder=None, cwd=None, hold=None, timeout=TIMEOUT):
    """Runs taskpool with the output of the shell command `feeder` on stdin (none: /dev/null),
    sampling its peak resident memory while it runs. With `hold`, a directory: once a job has
    created `hold`/waiting (and waits for `hold`/release), the peak is taken, then the job is
    released, so the peak covers all the input read before it.
    Returns (exit status, stdout, stderr, peak resident memory in bytes, seconds)."""
    feed = None
    if feeder:
        feed = subprocess.Popen(["/bin/sh", "-c", feeder], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([TASKPOOL, *map(os.fspath, args)],
                                stdin=feed.stdout if feed else subprocess.DEVNULL, stdout=out,
                                stderr=err, cwd=cwd, env=test_env(), start_new_session=True)
        if feed:
            feed.stdout.close()
        peak = 0
        try:
            while proc.poll() is None:
                if time.monotonic() > start + timeout:
                    raise AssertionError(f"taskpool {args!r} did not finish in {timeout} s")
                peak = max(peak, peak_kib(proc.pid))
                if hold and (hold / "waiting").exists() and not (hold / "release").exists():
                    peak = max(peak, peak_kib(proc.pid))
                    (hold / "release").touch()
                time.sleep(0.02)
        finally:
            if proc.returncode is None:
                kill_group(proc)
                proc.wait()
            if feed:
                kill_group(feed)
                feed.wait()
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read().decode(), peak * 1024, seconds


# A job that, for the record "last", says it waits and waits to be released (see run_with_peak).
HELD_ECHO = ("if [ \"$1\" = last ]; then touch waiting; while [ ! -e release ]; do sleep 0.05; "
             "done; fi; echo \"$1\"")


class InputTest(TaskpoolTestCase):

    def setUp(self):
        super().setUp()
        self.write("numbers.txt", "1\n2\n")
        self.write("letters.txt", "a\nb\n")

    def tp(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return taskpool(*args, **kwargs)

    def test_arg_file_followed_by_the_command(self):
        r = self.tp("-k", "-a", "numbers.txt", "echo", "n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "n 1\nn 2\n")

    def test_long_arg_file_followed_by_the_command(self):
        r = self.tp("-k", "--arg-file", "numbers.txt", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_with_equals_followed_by_the_command(self):
        r = self.tp("-k", "--arg-file=numbers.txt", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_then_double_dash(self):
        r = self.tp("-k", "-a", "numbers.txt", "--", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_ignores_stdin(self):
        r = self.tp("-k", "-j1", "-a", "numbers.txt", "--", "echo", input=b"from stdin\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_lists_ignore_stdin(self):
        r = self.tp("-k", "echo", ":::", "x", input=b"from stdin\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "x\n")

    def test_empty_input_runs_no_job(self):
        r = self.tp("touch", "made", input=b"")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"")
        self.assertFalse(self.path("made").exists())

    def test_empty_lines_are_records(self):
        r = self.tp("-k", "show-args", input=b"a\n\nb\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a"], [""], ["b"]))

    def test_missing_final_newline(self):
        r = self.tp("-k", "show-args", input=b"a\nlast")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a"], ["last"]))

    def test_crlf_is_kept_as_data(self):
        r = self.tp("-k", "show-args", input=b"a\r\nb\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a\r"], ["b"]))

    def test_null_delimiter(self):
        r = self.tp("-k", "-0", "show-args", input=b"a\nb\0c\0")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a\nb"], ["c"]))

    def test_a_nul_byte_in_a_line_fails_that_job_rather_than_cutting_the_argument(self):
        # GNU parallel passes the two characters \0 instead; taskpool refuses to run the job, so
        # no command ever sees a shortened argument.
        for template in (["show-args"], ["show-args {} | cat"]):
            r = self.tp("-k", *template, input=b"a\0b\nc\n")
            self.assertExit(r, 1, template)
            self.assertEqual(r.stdout, show_args_output(["c"]), template)
            self.assertIn("show-args: the command line holds a NUL byte", r.err, template)
            self.assertIn("use -0", r.err, template)

    def test_a_dry_run_refuses_a_nul_byte_as_the_run_would(self):
        data = b"a\0b\nc\n"
        for template, line in ((["echo"], "echo c\n"), (["echo {} | cat"], "echo c | cat\n")):
            real = self.tp("-k", "-j1", *template, input=data)
            dry = self.tp("-k", "-j1", "--dry-run", *template, input=data)
            self.assertExit(real, 1, template)
            self.assertExit(dry, 1, template)
            self.assertEqual(dry.out, line, template)
            message = "taskpool: echo: the command line holds a NUL byte, which no program can " \
                      "receive in an argument (NUL-separated records: use -0)\n"
            self.assertEqual(real.err, message, template)
            self.assertEqual(dry.err, message, template)

    def test_a_dry_run_refuses_a_record_too_long_as_the_run_would(self):
        r = self.tp("-k", "-j1", "--dry-run", "echo", input=b"a\n" + b"x" * 200_000 + b"\nb\n")
        self.assertExit(r, 1)
        self.assertEqual(r.out, "echo a\necho b\n")
        self.assertIn("echo: argument too long: the record of job 2 is 200000 bytes", r.err)

    def test_custom_delimiters(self):
        for flag, data in ((",", b"a b,c\n,d"), ("\\t", b"a b\tc\n\td"), ("\\x2c", b"a b,c\n,d")):
            r = self.tp("-k", "-d", flag, "show-args", input=data)
            self.assertExit(r, 0, f"-d {flag}")
            self.assertEqual(r.stdout, show_args_output(["a b"], ["c\n"], ["d"]), f"-d {flag}")

    def test_long_record(self):
        # Long, but within the kernel's limit for one argument (128 KiB).
        record = "x" * 100_000
        r = self.tp("sh -c 'printf %s \"$1\" | wc -c' sh", input=(record + "\n").encode())
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip(), str(len(record)))

    def test_sequence_numbers_follow_input_order(self):
        r = self.tp("-k", "-j3", "echo", "{#}", "{}", input=b"a\nb\nc\nd\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1 a\n2 b\n3 c\n4 d\n")

    @requires_gnu_parallel
    def test_two_arg_files_as_gnu_parallel(self):
        args = ["-k", "-a", "numbers.txt", "-a", "letters.txt", "--", "echo"]
        mine = self.tp(*args)
        ref = parallel(*args, cwd=self.tmp)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)

    @requires_gnu_parallel
    def test_arg_file_and_list_as_gnu_parallel(self):
        args = ["-k", "-a", "numbers.txt", "--", "echo", "{1}-{2}", ":::", "x", "y"]
        mine = self.tp(*args)
        ref = parallel(*args, cwd=self.tmp)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)


class ColsepTest(TaskpoolTestCase):
    """--colsep is a Perl-compatible regular expression (PCRE2), as GNU parallel's Perl one."""

    def tp(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return taskpool(*args, **kwargs)

    # Fields without blanks around them: GNU parallel trims those (its --trim lr), taskpool not.
    CASES = [
        ("\\t", b"a\tb\t\tc\n"),
        (",", b"a,b,,c,\n,x\n"),
        ("\\s+", b"a  b\t\tc\x0bd\n"),
        ("[,;]", b"a;b,c\n"),
        ("\\d", b"a1b22c\n"),
        ("(?=\\d)", b"a1b2\n"),
        ("(?<=:)", b"k:v:w\n"),
        ("\\h", b"a\tb c\n"),
        (",++", b"a,,,b\n"),
        ("(?>x+)y", b"1xxy2\n"),
        ("(\\d)", b"a1b2c\n"),
        ("(-)|(\\|)", b"a-b|c\n"),
        (" *", b"ab c\n"),
    ]

    @requires_gnu_parallel
    def test_columns_as_gnu_parallel_splits_them(self):
        for pattern, data in self.CASES:
            args = ["-k", "--colsep", pattern, "show-args", "{}"]
            mine = self.tp(*args, input=data)
            ref = parallel(*args, input=data, cwd=self.tmp)
            self.assertExit(ref, 0, f"GNU parallel itself, --colsep {pattern!r}")
            self.assertExit(mine, 0, f"--colsep {pattern!r}")
            self.assertEqual(mine.stdout, ref.stdout, f"--colsep {pattern!r} on {data!r}")

    def test_perl_syntax(self):
        r = self.tp("-k", "--colsep", "\\h++|(?=\\d)", "show-args", "{}",
                    input=b"a \tb1\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a", "b", "1"]))

    def test_patterns_that_overflowed_or_hung_std_regex_finish(self):
        blanks = b"a" + b" " * 50_000 + b"b\n"
        abc = b"ab" * 50_000 + b"crest\n"
        r = self.tp("-k", "--colsep", "\\s+", "show-args", "{2}", input=blanks)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["b"]))
        r = self.tp("-k", "--colsep", "(a|b)*c", "show-args", "{}", input=abc)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["", "b", "rest"]))

    def test_a_record_the_pattern_gives_up_on_fails_alone(self):
        # (a+)+$ on a 31-byte line that does not end in "a": 2^30 ways to fail.
        log = self.path("log")
        data = b"x y\n" + b"a" * 30 + b"!\n" + b"p aa\n"
        start = time.monotonic()
        r = self.tp("-k", "-j1", "--joblog", log, "--colsep", "(a+)+$", "show-args", "{1}",
                    input=data)
        self.assertLess(time.monotonic() - start, 30)
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, show_args_output(["x y"], ["p "]))
        self.assertIn("record 2: --colsep '(a+)+$' could not split it: the pattern "
                      "backtracked more than 10000000 times", r.err)
        rows = joblog_rows(log)
        self.assertEqual([rows[n][6] for n in (1, 2, 3)], ["0", "126", "0"])

    def test_a_bad_pattern_is_a_usage_error_naming_it(self):
        r = self.tp("--colsep", "a(b", "touch", "pwned", input=b"x\n")
        self.assertExit(r, 255)
        self.assertIn("--colsep: 'a(b' is not a valid regular expression", r.err)
        self.assertNoPwned()


class RecordSizeTest(TaskpoolTestCase):
    """No record longer than a command line can be is kept: it is read past in bounded memory,
    its job fails (126, as for an argument too long), and the run goes on."""

    # Peak resident memory allowed: a few MiB are taskpool's own; a sanitizer build has more.
    PEAK = sized(48 * MIB, 256 * MIB)

    def test_a_100_MiB_line_fails_alone_in_bounded_memory(self):
        log = self.path("log")
        feeder = ("printf 'first\\n'; head -c 104857600 /dev/zero | tr '\\0' x; "
                  "printf '\\nsecond\\nlast\\n'")
        code, out, err, peak, _ = run_with_peak(
            ["-k", "-j1", "--joblog", log, f"sh -c '{HELD_ECHO}' sh"], feeder, cwd=self.tmp,
            hold=self.tmp)
        self.assertEqual(code, 1, err)
        self.assertEqual(out, b"first\nsecond\nlast\n")
        self.assertIn("sh: argument too long: the record of job 2 is 104857600 bytes, more "
                      "than the system lets a program take (131071 bytes)", err)
        self.assertGreater(peak, 0)
        self.assertLess(peak, self.PEAK, f"peak {peak / MIB:.1f} MiB")
        rows = joblog_rows(log)
        self.assertEqual([rows[n][6] for n in (1, 2, 3, 4)], ["0", "126", "0", "0"])
        self.assertTrue(rows[2][8].startswith("sh -c "), rows[2][8][:100])
        self.assertIn(" sh xxxx", rows[2][8][:1000])

    def test_a_record_that_never_ends_is_failed_when_the_run_stops(self):
        for null in ([], ["-0"]):
            code, out, err, peak, seconds = run_with_peak(
                [*null, "--deadline", "2s", "-a", "/dev/zero", "true"])
            self.assertNotEqual(code, 0, f"{null}: {err}")
            self.assertGreater(peak, 0, null)
            self.assertLess(peak, self.PEAK, f"{null}: peak {peak / MIB:.1f} MiB")
            self.assertLess(seconds, 30, null)
            if not null:
                self.assertIn("taskpool: argument too long: the record being read when the run "
                              "stopped was ", err)
                self.assertEqual(code, 1, err)

    def test_a_record_as_one_argument_binds_to_128_KiB(self):
        big = b"y" * (128 * 1024)
        r = taskpool("-k", "-j1", "show-args", input=b"a\n" + big + b"\nb\n")
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, show_args_output(["a"], ["b"]))
        self.assertIn("show-args: argument too long: the record of job 2 is 131072 bytes", r.err)
        # One byte less fits in one argument, and runs.
        r = taskpool("show-args", input=big[1:] + b"\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output([big[1:]]))

    def test_grouped_records_run_around_one_too_long(self):
        r = taskpool("-k", "-j1", "-X", "show-args", input=b"a\nb\n" + b"z" * 200_000 + b"\nc\n")
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, show_args_output(["a", "b"], ["c"]))
        self.assertIn("show-args: argument too long: the record of job 2 is 200000 bytes", r.err)

    def test_columns_and_command_lines_bind_to_all_that_exec_takes(self):
        # Two columns of 100 000 bytes: each fits in an argument, so the record runs.
        half = b"q" * 100_000
        r = taskpool("--colsep", ",", "show-args", "{1}", "{2}", input=half + b"," + half + b"\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output([half, half]))
        # A record that is a command line of 200 000 bytes in short words runs without a shell.
        line = b"show-args" + b" w" * 100_000
        r = taskpool("-j1", input=line + b"\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output([b"w"] * 100_000))
        # Past what exec takes in all, it is refused.
        arg_max = os.sysconf("SC_ARG_MAX")
        if arg_max > 64 * MIB:
            self.skipTest(f"ARG_MAX is {arg_max}: no record past it is worth making")
        r = taskpool("-j1", input=line + b" w" * (arg_max // 2) + b"\nshow-args ok\n")
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, show_args_output(["ok"]))
        self.assertIn("show-args: argument too long: the record of job 1 is", r.err)

    def test_a_record_the_command_line_does_not_show_whole_binds_to_16_MiB(self):
        # {#} alone, {/}, a --colsep column: no command line bounds the record, memory does.
        path = b"d" * 200_000 + b"/base.txt"
        r = taskpool("show-args", "{/}", input=path + b"\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["base.txt"]))
        feeder = ("printf 'first\\n'; head -c 16777217 /dev/zero | tr '\\0' x; "
                  "printf '\\nlast\\n'")
        code, out, err, _, _ = run_with_peak(["-k", "-j1", "show-args", "{#}"], feeder)
        self.assertEqual(code, 1, err)
        self.assertEqual(out, show_args_output(["1"], ["3"]))
        self.assertIn("show-args: record too long: the record of job 2 is 16777217 bytes, more "
                      "than taskpool keeps of a record the command line does not show whole "
                      "(16777216 bytes)", err)

    def test_a_url_too_long_fails_alone(self):
        url = b"http://127.0.0.1:9/" + b"u" * 200_000
        r = taskpool("--fetch", "-o", self.tmp, input=url + b"\n")
        self.assertExit(r, 1)
        self.assertIn("uuu...: URL too long: the record of job 1 is 200019 bytes, more than a "
                      "URL may have, as one argument of curl (131071 bytes)", r.err)
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    unittest.main()
