"""--joblog FILE writes GNU parallel's job log: a header, then one tab-separated line per job."""

import re
import time
import unittest

from helpers import TaskpoolTestCase, parallel, requires_gnu_parallel, taskpool

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

if __name__ == "__main__":
    unittest.main()
