"""--joblog FILE writes GNU parallel's job log: a header, then one tab-separated line per job."""

import re
import signal
import time
import unittest

from helpers import TaskpoolTestCase, parallel, requires_gnu_parallel, taskpool
from process_support import Background, joblog_rows, wait_until

HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"


def read_joblog(path):
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n"), f"joblog does not end with a newline: {text!r}"
    lines = text[:-1].split("\n")
    return lines[0], [line.split("\t") for line in lines[1:]]


class JoblogTest(TaskpoolTestCase):

    def test_header_and_columns(self):
        log = self.path("jobs.log")
        before = time.time()
        r = taskpool("-j2", "--joblog", log, "exit {}", ":::", "0", "3", "0", "1")
        after = time.time()
        self.assertExit(r, 2)
        header, rows = read_joblog(log)
        self.assertEqual(header, HEADER)
        self.assertEqual(len(rows), 4)
        by_seq = {}
        for row in rows:
            self.assertEqual(len(row), 9, f"not 9 columns: {row!r}")
            seq, host, start, runtime, send, receive, exitval, sig, command = row
            self.assertEqual(host, ":")
            self.assertRegex(start, r"^\d+\.\d+$")
            self.assertGreaterEqual(float(start), before - 1)
            self.assertLessEqual(float(start), after + 1)
            self.assertRegex(runtime, r"^\s*\d+\.\d+$")
            self.assertGreaterEqual(float(runtime), 0)
            self.assertLess(float(runtime), after - before + 1)
            self.assertRegex(send, r"^\d+$")
            self.assertRegex(receive, r"^\d+$")
            self.assertEqual(sig, "0")
            by_seq[int(seq)] = (exitval, command)
        self.assertEqual(by_seq, {1: ("0", "exit 0"), 2: ("3", "exit 3"), 3: ("0", "exit 0"),
                                  4: ("1", "exit 1")})

    def test_runtime_and_start_times(self):
        log = self.path("jobs.log")
        r = taskpool("-j1", "--joblog", log, "sleep", ":::", "0.3", "0.1")
        self.assertExit(r, 0)
        _, rows = read_joblog(log)
        rows.sort(key=lambda row: int(row[0]))
        self.assertGreaterEqual(float(rows[0][3]), 0.29)
        self.assertLess(float(rows[0][3]), 5)
        self.assertGreaterEqual(float(rows[1][3]), 0.09)
        # One worker: the second job starts after the first has ended.
        self.assertGreaterEqual(float(rows[1][2]), float(rows[0][2]) + float(rows[0][3]) - 0.02)

    def test_command_column_is_the_quoted_command_line(self):
        log = self.path("jobs.log")
        r = taskpool("-k", "--joblog", log, "echo", ":::", "plain", "two words", "it's")
        self.assertExit(r, 0)
        _, rows = read_joblog(log)
        commands = [row[8] for row in sorted(rows, key=lambda row: int(row[0]))]
        self.assertEqual(commands, ["echo plain", "echo 'two words'", "echo 'it'\"'\"'s'"])

    def test_receive_counts_stdout_bytes(self):
        log = self.path("jobs.log")
        r = taskpool("--joblog", log, "echo", ":::", "hello")
        self.assertExit(r, 0)
        _, rows = read_joblog(log)
        self.assertEqual(rows[0][5], "6")

    def test_signal_column(self):
        log = self.path("jobs.log")
        r = taskpool("--joblog", log, "kill -{} $$", ":::", "KILL")
        self.assertExit(r, 1)
        _, rows = read_joblog(log)
        self.assertEqual(rows[0][7], "9")

    def test_one_line_per_job_with_many_jobs(self):
        log = self.path("jobs.log")
        r = taskpool("-j4", "--joblog", log, "true", ":::", *map(str, range(200)))
        self.assertExit(r, 0)
        _, rows = read_joblog(log)
        self.assertEqual(sorted(int(row[0]) for row in rows), list(range(1, 201)))
        for row in rows:
            self.assertEqual(len(row), 9)
            self.assertEqual(row[8], f"true {int(row[0]) - 1}")

    def test_newline_in_a_command_keeps_one_line_per_job(self):
        log = self.path("jobs.log")
        r = taskpool("-0", "-k", "--joblog", log, "echo", input=b"a\nb\0c\0")
        self.assertExit(r, 0)
        _, rows = read_joblog(log)
        self.assertEqual(len(rows), 2)
        for row in rows:
            self.assertEqual(len(row), 9)

    @requires_gnu_parallel
    def test_same_structure_as_gnu_parallel(self):
        args = ["-k", "-j1", "echo {}; test {} = 0", ":::", "0", "2", "two words", "it's"]
        mine = taskpool("--joblog", self.path("mine"), *args)
        ref = parallel("--joblog", self.path("ref"), *args)
        self.assertEqual(mine.code, ref.code)
        self.assertEqual(mine.stdout, ref.stdout)
        mine_header, mine_rows = read_joblog(self.path("mine"))
        ref_header, ref_rows = read_joblog(self.path("ref"))
        self.assertEqual(mine_header, ref_header)
        self.assertEqual(len(mine_rows), len(ref_rows))
        for m, p in zip(sorted(mine_rows, key=lambda r: int(r[0])),
                        sorted(ref_rows, key=lambda r: int(r[0]))):
            self.assertEqual(len(m), len(p))
            # Seq, Host, Send, Receive, Exitval, Signal, Command are equal; times are times.
            for col in (0, 1, 4, 5, 6, 7, 8):
                self.assertEqual(m[col], p[col], f"column {HEADER.split()[col]}: {m} vs {p}")
            for col in (2, 3):
                self.assertRegex(m[col], r"^\s*\d+\.\d{3}$")
            self.assertEqual(len(m[3]), len(p[3]), "JobRuntime is not padded as GNU parallel pads")

    def test_dry_run_leaves_the_joblog_alone(self):
        # Nothing runs with --dry-run, so, as with GNU parallel, no joblog is written: lines for
        # jobs that never ran would make a later --resume skip them.
        log = self.path("jobs.log")
        r = taskpool("--dry-run", "--joblog", log, "touch", "{}", ":::", "made", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertFalse(self.path("made").exists())
        self.assertFalse(log.exists(), "a dry run created a joblog")

        r = taskpool("--joblog", log, "true", ":::", "1", "2")
        self.assertExit(r, 0)
        before = log.read_bytes()
        for resume in ([], ["--resume"], ["--resume-failed"]):
            r = taskpool("--dry-run", *resume, "--joblog", log, "echo", ":::", "1", "2", "3")
            self.assertExit(r, 0)
            self.assertEqual(log.read_bytes(), before, f"{resume}: a dry run changed the joblog")
            # With --resume the dry run shows what a real run would still run.
            expected = ["echo 3"] if resume else ["echo 1", "echo 2", "echo 3"]
            self.assertEqual(sorted(r.out.splitlines()), expected, f"{resume}")


class KeepOrderKillTest(TaskpoolTestCase):
    """With -k, a job's output waits for the jobs before it. Its joblog line waits too: a run
    killed meanwhile must leave it out of the joblog, so --resume runs it again."""

    # Job 1 waits until the file `go` exists; every job marks that it ran, then prints its line.
    SCRIPT = """#!/bin/sh
if [ "$1" = 1 ]; then
  while [ ! -e go ]; do sleep 0.05; done
fi
touch "ran.$1"
echo "line $1"
"""

    def test_kill_9_with_held_output_loses_no_line(self):
        d = self.tmp
        script = self.path("job")
        script.write_text(self.SCRIPT)
        script.chmod(0o755)
        records = [str(n) for n in range(1, 21)]
        args = ["-k", "-j4", "--joblog", "jl", "./job", ":::", *records]
        run = Background(d, *args)
        self.addCleanup(run.kill)
        self.addCleanup(lambda: self.path("go").touch())  # ends job 1 whatever happens
        # Jobs 2 to 20 have ended and wait, printed nowhere yet, behind job 1.
        self.assertTrue(wait_until(lambda: all(self.path(f"ran.{n}").exists()
                                               for n in records[1:]), 30))
        time.sleep(0.2)  # their completions reach taskpool
        run.proc.send_signal(signal.SIGKILL)
        first = run.wait()
        self.assertEqual(first.code, -signal.SIGKILL)
        logged = {row[0] for row in joblog_rows(self.path("jl"))}
        self.assertEqual(logged, set(), "jobs whose output was never printed are in the joblog")

        self.path("go").touch()
        second = taskpool(*args[:4], "--resume", *args[4:], cwd=d)
        self.assertExit(second, 0)
        lines = (first.out + second.out).splitlines()
        self.assertEqual(lines, [f"line {n}" for n in records], "output lost or repeated")
        self.assertEqual(sorted(int(row[0]) for row in joblog_rows(self.path("jl"))),
                         list(range(1, 21)))


class ResumeGroupedTest(TaskpoolTestCase):
    """With -X, -m, -n, -N or -L, which records make job N depends on -j, -s, the stack limit and
    the environment: --resume and --resume-failed check that each job the joblog lists is the
    same job again, and refuse to go on at the first that is not."""

    # Every record is appended to `ran` as it is run; a job holding record 37 fails.
    SCRIPT = """#!/bin/sh
for r in "$@"; do echo "$r" >> ran; done
for r in "$@"; do [ "$r" != 37 ] || exit 1; done
"""

    def setUp(self):
        super().setUp()
        script = self.path("job")
        script.write_text(self.SCRIPT)
        script.chmod(0o755)
        self.records = [str(n) for n in range(1, 101)]

    def run_grouped(self, *flags):
        return taskpool("--joblog", "jl", *flags, "-X", "./job", ":::", *self.records, cwd=self.tmp)

    def ran(self):
        return self.path("ran").read_text().split()

    def test_another_packing_is_refused_before_anything_runs_twice(self):
        first = self.run_grouped("-s", "60")
        self.assertExit(first, 1)
        self.assertEqual(sorted(self.ran(), key=int), self.records)
        joblog_before = self.path("jl").read_bytes()
        for flag in ("--resume", "--resume-failed"):
            with self.subTest(flag=flag):
                r = self.run_grouped("-s", "80", flag)
                self.assertExit(r, 255)
                self.assertIn(f"{flag}: job 1 would run './job 1 2 3", r.err)
                self.assertIn("'jl'", r.err, "the message names the joblog")
                self.assertIn("-s", r.err)
                self.assertEqual(sorted(self.ran(), key=int), self.records,
                                 "records ran again, or were left out")
                self.assertEqual(self.path("jl").read_bytes(), joblog_before)

    def test_the_same_packing_resumes_the_failed_job_alone(self):
        self.assertExit(self.run_grouped("-s", "60"), 1)
        failed = [row for row in joblog_rows(self.path("jl")) if row[6] != "0"]
        self.assertEqual(len(failed), 1)
        self.path("ran").unlink()
        r = self.run_grouped("-s", "60", "--resume-failed")
        self.assertExit(r, 1)  # record 37 still fails
        self.assertEqual(self.ran(), failed[0][8].split()[1:], "only the failed job ran again")

    def test_worker_numbers_may_differ(self):
        # {%} differs from run to run; the records in each job are what must not.
        script = self.path("job-on-worker")
        script.write_text('#!/bin/sh\nshift\nexec ./job "$@"\n')
        script.chmod(0o755)
        args = ["-s", "60", "-X", "./job-on-worker", "{%}", "{}", ":::", *self.records]
        r = taskpool("--joblog", "jl", "-j3", *args, cwd=self.tmp)
        self.assertExit(r, 1)
        failed = [row for row in joblog_rows(self.path("jl")) if row[6] != "0"]
        self.path("ran").unlink()
        r = taskpool("--joblog", "jl", "-j1", "--resume-failed", *args, cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertEqual(self.ran(), failed[0][8].split()[2:], "only the failed job ran again")


if __name__ == "__main__":
    unittest.main()
