"""How taskpool prints jobs' output: whole per job, never interleaved, stdout and stderr kept
apart, -k in input order, --line-buffer whole lines as they come, --tag prefixes."""

import os
import select
import subprocess
import time
import unittest

from helpers import (TIMEOUT, TaskpoolTestCase, kill_group, parallel, requires_gnu_parallel,
                     sh, taskpool, test_env, TASKPOOL)

# Prints 50 numbered lines with a pause after each, so running jobs overlap in time.
CHATTY = "for i in $(seq 50); do echo {} $i; sleep 0.001; done"


def blocks(lines):
    """The sequence of job names, one per contiguous run of lines from the same job."""
    order = []
    for line in lines:
        name = line.split(" ")[0]
        if not order or order[-1] != name:
            order.append(name)
    return order


class OutputTest(TaskpoolTestCase):

    def test_output_of_concurrent_jobs_never_interleaves(self):
        names = ["alpha", "beta", "gamma", "delta"]
        r = taskpool("-j4", CHATTY, ":::", *names)
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 200)
        self.assertCountEqual(blocks(lines), names, "output of different jobs was interleaved")
        for name in names:
            own = [l for l in lines if l.split(" ")[0] == name]
            self.assertEqual(own, [f"{name} {i}" for i in range(1, 51)])

    def test_stderr_of_concurrent_jobs_never_interleaves(self):
        names = ["alpha", "beta", "gamma", "delta"]
        r = taskpool("-j4", "{ " + CHATTY + "; } >&2", ":::", *names)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"")
        lines = r.err.splitlines()
        self.assertEqual(len(lines), 200, r.err)
        self.assertCountEqual(blocks(lines), names, "stderr of different jobs was interleaved")

    def test_large_output_is_passed_whole(self):
        # More than a pipe buffer per job, and more than a small in-memory threshold.
        r = taskpool("-j3", "-k", "head -c 3000000 /dev/zero | tr '\\0' {}", ":::", "a", "b", "c")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"a" * 3000000 + b"b" * 3000000 + b"c" * 3000000)

    def test_stdout_and_stderr_stay_apart(self):
        r = taskpool("-j3", "-k", "echo out-{}; echo err-{} >&2; echo out2-{}", ":::", "1", "2", "3")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "out-1\nout2-1\nout-2\nout2-2\nout-3\nout2-3\n")
        self.assertEqual(sorted(r.err.splitlines()), ["err-1", "err-2", "err-3"])

    def test_keep_order_with_jobs_finishing_in_reverse(self):
        r = taskpool("-k", "-j4", "sleep {}; echo {}", ":::", "0.4", "0.3", "0.2", "0.1")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "0.4\n0.3\n0.2\n0.1\n")

    def test_keep_order_with_more_jobs_than_workers(self):
        values = [str(v) for v in range(40)]
        # Even jobs are slower than odd ones, so completion order differs from input order.
        r = taskpool("-k", "-j4", "sleep 0.0$(( ({} + 1) % 2 * 3 )); echo {}", ":::", *values)
        self.assertExit(r, 0)
        self.assertEqual(r.out.splitlines(), values)

    def test_without_keep_order_output_follows_completion(self):
        r = taskpool("-j4", "sleep {}; echo {}", ":::", "1.2", "0.1")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "0.1\n1.2\n")

    def test_job_output_without_final_newline(self):
        r = taskpool("-k", "-j2", "printf %s {}", ":::", "a", "b", "c")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "abc")

    def test_line_buffer_never_cuts_lines(self):
        # Job a writes one line in two pieces with a pause between; job b prints whole lines
        # during that pause. With --line-buffer, "a-start a-end" still comes out as one line.
        script = ("if [ {} = a ]; then printf 'a-start '; sleep 0.5; echo a-end; "
                  "else for i in 1 2 3 4 5; do sleep 0.05; echo b-$i; done; fi")
        r = taskpool("--line-buffer", "-j2", script, ":::", "a", "b")
        self.assertExit(r, 0)
        self.assertCountEqual(r.out.splitlines(),
                              ["a-start a-end", "b-1", "b-2", "b-3", "b-4", "b-5"])

    def test_line_buffer_lines_of_many_jobs_are_whole(self):
        line = "x" * 3000
        r = taskpool("--line-buffer", "-j4",
                     f"for i in $(seq 40); do echo {{}}-{line}; sleep 0.002; done",
                     ":::", "p", "q", "r", "s")
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 160)
        for l in lines:
            self.assertIn(l, {f"{n}-{line}" for n in "pqrs"}, "a line was cut or mixed")

    def test_line_buffer_passes_lines_while_the_job_runs(self):
        # The job prints a line, then waits (up to 10 s) for the test to create a file, which the
        # test only does once it has read that line.
        go = self.path("go")
        script = (f"echo first {{}}; i=0; while [ ! -e {go} ] && [ $i -lt 200 ]; do sleep 0.05; "
                  "i=$((i+1)); done; if [ -e " + str(go) + " ]; then echo released; "
                  "else echo timed-out; fi")
        with subprocess.Popen([TASKPOOL, "--line-buffer", script, ":::", "job"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=test_env(),
                              start_new_session=True) as proc:
            try:
                first = read_line(proc.stdout, deadline=time.monotonic() + 20)
                go.write_text("")
                rest, err = proc.communicate(timeout=TIMEOUT)
            finally:
                kill_group(proc)
        self.assertEqual(first, b"first job\n")
        self.assertEqual(rest, b"released\n",
                         "--line-buffer held the first line back until the job ended")

    def test_tag_prefixes_each_line_with_the_record(self):
        r = taskpool("-k", "--tag", "printf 'one\\ntwo\\n'; echo {}", ":::", "a b", "c")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "a b\tone\na b\ttwo\na b\ta b\nc\tone\nc\ttwo\nc\tc\n")

    def test_tag_with_stdin_records(self):
        r = taskpool("-k", "--tag", "echo", input=b"x\ny z\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "x\tx\ny z\ty z\n")

    @requires_gnu_parallel
    def test_tag_matches_gnu_parallel(self):
        args = ["-k", "--tag", "echo", ":::", "a", "b", "two words"]
        mine, ref = taskpool(*args), parallel(*args)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)
        self.assertEqual(mine.stdout, b"a\ta\nb\tb\ntwo words\ttwo words\n")

    @requires_gnu_parallel
    def test_tag_with_several_lists_matches_gnu_parallel(self):
        args = ["-k", "--tag", "echo", ":::", "a", "b", ":::", "1", "2"]
        mine, ref = taskpool(*args), parallel(*args)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)

    @requires_gnu_parallel
    def test_tag_stderr_matches_gnu_parallel(self):
        args = ["-k", "--tag", "echo err >&2; echo out", ":::", "a", "b"]
        mine, ref = taskpool(*args), parallel(*args)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)
        self.assertEqual(mine.stderr, ref.stderr)

    def test_closed_stdout_stops_quietly(self):
        # `taskpool ... | head -1`: no error flood, finishes promptly.
        r = sh("taskpool -j2 echo ::: $(seq 2000) | head -n 1")
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip().isdigit(), True)
        self.assertNotIn("rror", r.err)


def read_line(stream, deadline):
    """Reads one line from a pipe, failing at the deadline instead of blocking forever."""
    fd = stream.fileno()
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no complete line in time (got {data!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            raise AssertionError(f"output ended before a complete line (got {data!r})")
        data += chunk
    return data


if __name__ == "__main__":
    unittest.main()
