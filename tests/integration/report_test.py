"""What taskpool reports about a run: --dry-run, the text summary and --summary-json."""

import json
import os
import re
import select
import subprocess
import unittest

import json_schema
from helpers import (REPO, TASKPOOL, TaskpoolTestCase, parallel, requires_gnu_parallel, taskpool)

SUMMARY_LINE = re.compile(r"(\d+) jobs, (\d+) succeeded, (\d+) failed")


class DryRunTest(TaskpoolTestCase):

    def test_prints_commands_quoted(self):
        r = taskpool("--dry-run", "echo", ":::", "a b")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "echo 'a b'\n")

    def test_runs_nothing(self):
        r = taskpool("-k", "--dry-run", "touch", "{}", ":::", "one", "two", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "touch one\ntouch two\n")
        self.assertEqual(os.listdir(self.tmp), [], "--dry-run ran a command")

    def test_runs_nothing_for_command_line_records(self):
        r = taskpool("-k", "--dry-run", input=b"touch one\ntouch two; touch three\n", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "touch one\ntouch two; touch three\n")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_replacement_strings(self):
        r = taskpool("-k", "--dry-run", "cp", "{}", "{.}.jpg", "{/}", "{//}", "{/.}", "{#}",
                     ":::", "dir/a b.png", "x.png")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "cp 'dir/a b.png' 'dir/a b'.jpg 'a b.png' dir 'a b' 1\n"
                                "cp x.png x.jpg x.png . x 2\n")

    def test_failing_commands_are_not_counted(self):
        r = taskpool("--dry-run", "false", ":::", "1", "2")
        self.assertExit(r, 0)

    @requires_gnu_parallel
    def test_matches_gnu_parallel(self):
        args = ["-k", "--dry-run", "echo", "{}", "{#}", "x{.}y", ":::", "a b", "plain", "it's",
                "$(x)", "semi;colon", "d/f.e"]
        mine, ref = taskpool(*args), parallel(*args)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)


class SummaryTest(TaskpoolTestCase):

    def test_summary_on_stderr(self):
        r = taskpool("--summary", "-j2", "exit {}", ":::", "0", "1", "0", "2", "0")
        self.assertExit(r, 2)
        self.assertEqual(r.stdout, b"")
        m = SUMMARY_LINE.search(r.err)
        self.assertIsNotNone(m, f"no summary on stderr: {r.err!r}")
        self.assertEqual(m.groups(), ("5", "3", "2"))
        for figure in ("jobs/s", "p50", "p95", "p99", "max", "utilization"):
            self.assertIn(figure, r.err, f"the summary has no {figure}")

    def test_no_summary_prints_nothing(self):
        r = taskpool("--no-summary", "-j2", "exit {}", ":::", "0", "1")
        self.assertExit(r, 1)
        # The failed job is named; no summary follows.
        self.assertEqual(r.err, "taskpool: job 2 failed (exit status 1): exit 1\n")

    def test_each_failed_job_is_named_up_to_ten_then_counted(self):
        r = taskpool("-j4", "exit {}", ":::", *[str(i % 2) for i in range(30)])
        self.assertExit(r, 15)
        named = [line for line in r.err.splitlines() if " failed (exit status 1): exit 1" in line]
        self.assertEqual(len(named), 10, r.err)
        self.assertRegex(named[0], r"^taskpool: job \d+ failed \(exit status 1\): exit 1$")
        self.assertIn("taskpool: 5 more jobs failed (the joblog and --summary-json list them)\n",
                      r.err)

    def test_a_deadline_names_the_jobs_it_ended_and_counts_those_never_started(self):
        r = taskpool("-j2", "--deadline", "1s", "sleep", ":::", "0.3", "30", "30", "30")
        self.assertExit(r, 3)
        for seq in (2, 3):
            self.assertIn(f"taskpool: job {seq} failed (killed by signal 15 when the run stopped): "
                          "sleep 30\n", r.err)
        self.assertIn("taskpool: 1 job was not started (stopped: the --deadline was reached)\n",
                      r.err)

    def test_no_summary_when_stderr_is_not_a_terminal(self):
        r = taskpool("-j2", "true", ":::", "0", "1")
        self.assertExit(r, 0)
        self.assertEqual(r.stderr, b"")

    def test_summary_when_stderr_is_a_terminal(self):
        master, slave = os.openpty()
        try:
            r = taskpool("-j2", "true", ":::", "0", "1", stderr_fd=slave)
            os.close(slave)
            slave = -1
            err = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end is closed
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
        self.assertExit(r, 0)
        self.assertRegex(err.decode(), SUMMARY_LINE.pattern)
        self.assertEqual(SUMMARY_LINE.search(err.decode()).groups(), ("2", "2", "0"))


class SummaryJsonTest(TaskpoolTestCase):

    def check_counts(self, data, total, succeeded, failed):
        self.assertEqual(data["jobs"]["total"], total)
        self.assertEqual(data["jobs"]["succeeded"], succeeded)
        self.assertEqual(data["jobs"]["failed"], failed)

    def test_to_a_file(self):
        out = self.path("summary.json")
        r = taskpool("-j3", "--summary-json", out, "exit {}", ":::", "0", "1", "0", "4", "0", "0")
        self.assertExit(r, 2)
        self.assertEqual(r.stdout, b"")
        data = json.loads(out.read_text())
        self.check_counts(data, 6, 4, 2)
        self.assertEqual(data["workers"], 3)
        self.assertEqual(data["mode"], "pool")
        lat = data["latency_seconds"]
        self.assertLessEqual(lat["min"], lat["p50"])
        self.assertLessEqual(lat["p50"], lat["p95"])
        self.assertLessEqual(lat["p95"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        self.assertGreater(data["wall_seconds"], 0)
        self.assertGreaterEqual(data["utilization"], 0)
        self.assertLessEqual(data["utilization"], 1.0001)

    def test_to_stdout_after_the_jobs_output(self):
        r = taskpool("-k", "--summary-json", "-", "echo", ":::", "a", "b")
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[:2], ["a", "b"])
        data = json.loads("\n".join(lines[2:]))
        self.check_counts(data, 2, 2, 0)

    def test_batch_mode_and_many_failures(self):
        out = self.path("summary.json")
        r = taskpool("-j4", "--mode", "batch", "--summary-json", out, "false", ":::",
                     *map(str, range(120)))
        self.assertExit(r, 101)
        data = json.loads(out.read_text())
        self.check_counts(data, 120, 0, 120)
        self.assertEqual(data["mode"], "batch")

    def test_missing_programs_count_as_failed(self):
        out = self.path("summary.json")
        r = taskpool("--summary-json", out, "{}", ":::", "true", "taskpool-no-such-program-xyz")
        self.assertExit(r, 1)
        self.check_counts(json.loads(out.read_text()), 2, 1, 1)

    def test_with_summary_text_too(self):
        out = self.path("summary.json")
        r = taskpool("--summary", "--summary-json", out, "true", ":::", "1", "2", "3")
        self.assertExit(r, 0)
        self.assertEqual(SUMMARY_LINE.search(r.err).groups(), ("3", "3", "0"))
        self.check_counts(json.loads(out.read_text()), 3, 3, 0)

    def test_no_jobs(self):
        out = self.path("summary.json")
        r = taskpool("--summary-json", out, "echo", input=b"")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"")
        self.check_counts(json.loads(out.read_text()), 0, 0, 0)


class SummarySchemaTest(TaskpoolTestCase):
    """doc/summary.schema.json describes what --summary-json really writes."""

    SCHEMA = json.loads((REPO / "doc" / "summary.schema.json").read_text())

    def summary(self, *args, expected_exit):
        out = self.path("summary.json")
        r = taskpool("--summary-json", out, *args)
        self.assertExit(r, expected_exit)
        data = json.loads(out.read_text())
        self.assertEqual(json_schema.problems(self.SCHEMA, data), [], out.read_text())
        return data

    def test_a_run_with_failures_of_every_kind(self):
        data = self.summary("-j3", "--timeout", "1s", "sh -c {}", ":::", "exit 0", "exit 3",
                            "kill -9 $$", "sleep 10", expected_exit=3)
        self.assertEqual(data["version"], taskpool("--version").out.split()[1])
        self.assertEqual(data["command"], "sh -c {}")
        self.assertEqual(data["exit_status"], 3)
        self.assertLessEqual(data["started_at"], data["ended_at"])
        listed = {f["seq"]: f for f in data["failed_jobs"]["listed"]}
        self.assertEqual(sorted(listed), [2, 3, 4])
        self.assertEqual(listed[2]["command"], "sh -c 'exit 3'")
        self.assertEqual((listed[2]["exit_status"], listed[2]["signal"]), (3, 0))
        self.assertEqual(listed[3]["signal"], 9)
        self.assertTrue(listed[4]["timed_out"])
        self.assertEqual(data["failed_jobs"]["not_listed"], 0)

    def test_many_failures_are_counted_past_the_list(self):
        data = self.summary("false", ":::", *map(str, range(130)), expected_exit=101)
        self.assertEqual(len(data["failed_jobs"]["listed"]), 100)
        self.assertEqual(data["failed_jobs"]["not_listed"], 30)
        self.assertIsNone(data["failed_jobs"]["listed"][0]["error"])

    def test_keyed_limits_list_their_keys(self):
        data = self.summary("-j4", "--limit", "{1}=1", "sleep 0.2; echo", ":::", "a", "a", "b",
                            expected_exit=0)
        keys = {k["key"]: k for k in data["limits"]["keys"]}
        self.assertEqual(sorted(keys), ["a", "b"])
        self.assertEqual((keys["a"]["limit"], keys["a"]["started"], keys["a"]["waited"]),
                         ("{1}", 2, 1))
        self.assertGreaterEqual(keys["a"]["wait_seconds"], 0.15)
        self.assertEqual((keys["b"]["started"], keys["b"]["waited"]), (1, 0))
        self.assertEqual(data["limits"]["not_listed"], 0)

    def test_records_as_commands_have_no_command(self):
        data = self.summary(":::", "true", "taskpool-no-such-program-xyz", expected_exit=1)
        self.assertIsNone(data["command"])
        failure = data["failed_jobs"]["listed"][0]
        self.assertEqual(failure["exit_status"], 127)
        self.assertIn("taskpool-no-such-program-xyz", failure["error"])

    def test_compare_has_the_same_header_and_both_runs(self):
        data = self.summary("--compare", "-j2", "exit {}", ":::", "0", "1", "0", expected_exit=1)
        self.assertEqual(data["mode"], "compare")
        self.assertEqual(data["command"], "exit {}")
        self.assertEqual(data["exit_status"], 1)
        for mode in ("batch", "pool"):
            self.assertEqual(data[mode]["mode"], mode)
            self.assertEqual([f["seq"] for f in data[mode]["failed_jobs"]["listed"]], [2])

    def test_the_checker_finds_what_is_wrong(self):
        # The schema and its checker can fail: a real summary, broken three ways.
        data = self.summary("true", ":::", "1", expected_exit=0)
        for broken, problem in (
                ({**data, "exit_status": "0"}, "$.exit_status: '0' is not integer"),
                ({k: v for k, v in data.items() if k != "failed_jobs"},
                 "$: failed_jobs is missing"),
                ({**data, "started_at": "yesterday"}, "$.started_at: 'yesterday' does not match")):
            self.assertNotEqual(json_schema.problems(self.SCHEMA, broken), [])
            found = json_schema.problems({"$ref": "#/$defs/run_with_header"}, broken, self.SCHEMA)
            self.assertTrue(any(problem in p for p in found), found)


class OutputsCheckedFirstTest(TaskpoolTestCase):
    """--joblog, --summary-json and --timeline are opened before the first job starts: a path
    that cannot be written is a usage error at once, naming the flag and the path, with nothing
    run, not an error after an hour-long run."""

    BAD_DIR = "/nonexistent-taskpool-dir"

    def check_refused(self, flag, extra=()):
        bad = f"{self.BAD_DIR}/out"
        ran = self.path("ran")
        # The job would leave a mark, then take long: the run must not get that far.
        r = taskpool(*extra, flag, bad, "touch {}; sleep 30", ":::", ran)
        self.assertExit(r, 255)
        self.assertIn(f"taskpool: {flag}: cannot open '{bad}': No such file or directory", r.err)
        self.assertFalse(ran.exists(), "a job ran before the bad path was found")
        self.assertLess(r.seconds, 20)
        self.assertEqual(r.out, "")

    def test_joblog(self):
        self.check_refused("--joblog")

    def test_summary_json(self):
        self.check_refused("--summary-json")

    def test_timeline(self):
        self.check_refused("--timeline")

    def test_with_compare(self):
        for flag in ("--summary-json", "--timeline"):
            with self.subTest(flag=flag):
                self.check_refused(flag, ("--compare",))

    def test_a_directory(self):
        r = taskpool("--summary-json", self.tmp, "touch {}", ":::", self.path("ran"))
        self.assertExit(r, 255)
        self.assertIn(f"--summary-json: cannot open '{self.tmp}': Is a directory", r.err)
        self.assertFalse(self.path("ran").exists())

    def test_an_existing_file_keeps_its_content_until_the_end(self):
        summary = self.write("summary.json", "old\n")
        r = taskpool("--summary-json", summary, "cat", ":::", summary)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "old\n")
        self.assertEqual(json.loads(summary.read_text())["jobs"]["total"], 1)

    def test_a_fifo_is_opened_at_the_end(self):
        # Opening a FIFO waits for its reader: the jobs run first, and the summary goes to
        # whoever reads it when the run ends.
        fifo = self.path("summary.fifo")
        os.mkfifo(fifo)
        proc = subprocess.Popen([str(TASKPOOL), "--summary-json", str(fifo), "echo", ":::", "x"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        self.assertTrue(ready, "no job output before the FIFO had a reader")
        self.assertEqual(proc.stdout.readline(), b"x\n")
        with open(fifo, "rb") as reader:
            summary = json.loads(reader.read())
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(summary["jobs"]["total"], 1)


if __name__ == "__main__":
    unittest.main()
