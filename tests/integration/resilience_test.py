"""taskpool's resilience options with real processes: --retries and --backoff, --timeout and
--kill-after, --rate and --burst, --deadline and --grace, --halt, --resume and --resume-failed,
and the checking of their values. Time is only bounded generously: the machine may be loaded."""

import shlex
import time
import unittest
from pathlib import Path
from typing import List, Optional

from helpers import TaskpoolTestCase, parallel, requires_gnu_parallel, taskpool
from process_support import (Background, SurvivorCheck, is_running, joblog_by_seq, joblog_rows,
                             processes_with_arg, read_json, read_pids, unique_seconds, wait_until)

MISSING = "taskpool-no-such-program-xyz"


def stat_fields(pid: int) -> List[str]:
    """The fields of /proc/PID/stat after the command name (state, parent, group, ...)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat[stat.rfind(")") + 2:].split()


def parent_of(pid: int) -> Optional[int]:
    fields = stat_fields(pid)
    return int(fields[1]) if fields else None


def state_of(pid: int) -> Optional[str]:
    fields = stat_fields(pid)
    return fields[0] if fields else None


def children_of(pid: int) -> List[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []

# flaky NAME FAILURES: the first FAILURES attempts for NAME fail, later ones succeed. Counts the
# attempts in NAME.count beside the script and logs "start|end NAME ATTEMPT TIME" to `events`.
FLAKY_SCRIPT = """#!/bin/sh
dir=$(dirname "$0")
n=$(( $(cat "$dir/$1.count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/$1.count"
echo "start $1 $n $(date +%s.%N)" >> "$dir/events"
echo "$1 attempt $n"
echo "$1 attempt $n on stderr" >&2
echo "end $1 $n $(date +%s.%N)" >> "$dir/events"
[ "$n" -gt "$2" ]
"""


class FlakyCase(TaskpoolTestCase):
    """Gives each test the flaky script in its temporary directory."""

    def setUp(self):
        super().setUp()
        self.flaky = self.write("flaky", FLAKY_SCRIPT)
        self.flaky.chmod(0o755)

    def attempts(self, name: str) -> int:
        path = self.path(f"{name}.count")
        return int(path.read_text()) if path.exists() else 0

    def events(self):
        """The flaky script's log as (what, name, attempt, time) tuples, in the order written."""
        rows = []
        for line in self.path("events").read_text().splitlines():
            what, name, attempt, when = line.split()
            rows.append((what, name, int(attempt), float(when)))
        return rows


class RetryTest(FlakyCase):

    def test_job_succeeding_on_third_attempt_passes_with_two_retries(self):
        summary = self.path("summary.json")
        r = taskpool("--retries", "2", "--backoff", "0", "--summary-json", summary,
                     self.flaky, "{}", "2", ":::", "a")
        self.assertExit(r, 0)
        self.assertEqual(self.attempts("a"), 3)
        self.assertEqual(r.out, "a attempt 3\n", "only the last attempt's output is printed")
        self.assertIn("a attempt 3 on stderr", r.err)
        self.assertNotIn("a attempt 1 on stderr", r.err, "output of a retried attempt printed")
        self.assertNotIn("a attempt 2 on stderr", r.err, "output of a retried attempt printed")
        for attempt in (1, 2):
            self.assertIn(f"taskpool: job 1 exited with status 1 (attempt {attempt}); retrying in",
                          r.err)
        report = read_json(summary)
        self.assertEqual(report["attempts"], 3)
        self.assertEqual(report["jobs"]["retried"], 1)
        self.assertEqual(report["jobs"]["succeeded"], 1)
        self.assertEqual(report["jobs"]["failed"], 0)

    def test_job_succeeding_on_third_attempt_fails_with_one_retry(self):
        summary = self.path("summary.json")
        r = taskpool("--retries", "1", "--backoff", "0", "--summary-json", summary,
                     self.flaky, "{}", "2", ":::", "a")
        self.assertExit(r, 1)
        self.assertEqual(self.attempts("a"), 2)
        self.assertEqual(r.out, "a attempt 2\n")
        report = read_json(summary)
        self.assertEqual(report["attempts"], 2)
        self.assertEqual(report["jobs"]["retried"], 1)
        self.assertEqual(report["jobs"]["failed"], 1)

    def test_without_retries_a_failed_job_runs_once(self):
        r = taskpool(self.flaky, "{}", "2", ":::", "a")
        self.assertExit(r, 1)
        self.assertEqual(self.attempts("a"), 1)
        self.assertNotIn("retrying", r.err)

    def test_shell_command_line_is_retried(self):
        counter = shlex.quote(str(self.path("count")))
        line = (f"n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; "
                "echo try $n {}; [ $n -ge 3 ]")
        r = taskpool("--retries", "2", "--backoff", "0", line, ":::", "x")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "try 3 x\n")

    def test_joblog_has_one_line_for_the_last_attempt(self):
        log = self.path("joblog")
        r = taskpool("--retries", "2", "--backoff", "0", "--joblog", log,
                     self.flaky, "{}", "{}", ":::", "1", "5")
        self.assertExit(r, 1)
        rows = joblog_by_seq(log)
        self.assertEqual(sorted(rows), [1, 2], "one joblog line per job")
        self.assertEqual(rows[1][6], "0", "job 1 succeeded on its second attempt")
        self.assertEqual(rows[2][6], "1", "job 2 failed on its last attempt")

    def test_waiting_retry_does_not_hold_the_only_worker(self):
        # Job a fails once, then its retry waits at least 0.5 s (the 1 s backoff with jitter).
        # Job b must start and finish in that time, on the one worker.
        r = taskpool("-j1", "--retries", "3", "--backoff", "1s", "--colsep", " ",
                     self.flaky, "{1}", "{2}", input=b"a 1\nb 0\n")
        self.assertExit(r, 0)
        events = self.events()
        order = [(what, name, attempt) for what, name, attempt, _ in events]
        self.assertEqual(order, [("start", "a", 1), ("end", "a", 1), ("start", "b", 1),
                                 ("end", "b", 1), ("start", "a", 2), ("end", "a", 2)],
                         "job b did not run while job a waited for its retry")
        times = {(what, name, attempt): t for what, name, attempt, t in events}
        self.assertGreaterEqual(times[("start", "a", 2)] - times[("end", "a", 1)], 0.4,
                                "the retry came before the backoff")
        self.assertIn("a attempt 2", r.out)
        self.assertIn("b attempt 1", r.out)
        self.assertNotIn("a attempt 1", r.out)

    def test_backoff_is_capped_by_backoff_max(self):
        # Doubling from 0.2 s, five retries would wait at least 3.1 s; capped at 0.25 s, at most
        # 1.2 s, and at least 0.6 s (the jitter takes off up to half of each delay).
        summary = self.path("summary.json")
        r = taskpool("--retries", "5", "--backoff", "0.2s", "--backoff-max", "250ms",
                     "--summary-json", summary, "false", ":::", "x")
        self.assertExit(r, 1)
        self.assertEqual(read_json(summary)["attempts"], 6)
        self.assertGreaterEqual(r.seconds, 0.5)
        self.assertLess(r.seconds, 2.8, "the delays were not capped at --backoff-max")

    def test_program_that_cannot_start_is_not_retried(self):
        summary = self.path("summary.json")
        r = taskpool("--retries", "3", "--backoff", "0", "--summary-json", summary,
                     MISSING, ":::", "x")
        self.assertExit(r, 1)
        self.assertIn(MISSING, r.err)
        self.assertNotIn("retrying", r.err)
        self.assertEqual(read_json(summary)["attempts"], 1)

    def test_timed_out_attempt_is_retried(self):
        summary = self.path("summary.json")
        r = taskpool("--timeout", "0.3", "--retries", "1", "--backoff", "0",
                     "--summary-json", summary, "sleep", "{}", ":::", unique_seconds(20))
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 10)
        report = read_json(summary)
        self.assertEqual(report["attempts"], 2)
        self.assertEqual(report["timed_out_attempts"], 2)
        self.assertEqual(report["jobs"]["retried"], 1)
        self.assertIn("timed out (attempt 1); retrying in", r.err)


class TimeoutTest(TaskpoolTestCase, SurvivorCheck):

    def test_timeout_ends_the_whole_process_tree(self):
        seconds = unique_seconds(100)
        self.cleanup_processes(seconds)
        pids = self.path("pids")
        log = self.path("joblog")
        line = f'sleep {{}} & echo "$$ $!" > {shlex.quote(str(pids))}; sleep {{}}'
        r = taskpool("--timeout", "1", "--joblog", log, "--summary-json", self.path("s.json"),
                     line, ":::", seconds)
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 8)
        self.assertIn("taskpool: Warning: This job was killed because it timed out:\n"
                      f"taskpool: Warning: sleep {seconds} &", r.err)
        row = joblog_by_seq(log)[1]
        self.assertEqual((row[6], row[7]), ("-1", "15"), "Exitval and Signal of a timeout")
        self.assertEqual(len(read_pids(pids)), 2)
        self.assertNoSurvivors(seconds, read_pids(pids))
        report = read_json(self.path("s.json"))
        self.assertEqual(report["timed_out_attempts"], 1)
        self.assertEqual(report["jobs"]["failed"], 1)

    def test_job_ignoring_sigterm_is_killed_after_kill_after(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        log = self.path("joblog")
        r = taskpool("--timeout", "0.5", "--kill-after", "0.5", "--joblog", log,
                     'trap "" TERM; sleep {}', ":::", seconds)
        self.assertExit(r, 1)
        self.assertGreaterEqual(r.seconds, 0.9, "SIGKILL came before --kill-after")
        self.assertLess(r.seconds, 6)
        row = joblog_by_seq(log)[1]
        self.assertEqual((row[6], row[7]), ("-1", "9"))
        self.assertNoSurvivors(seconds)

    def test_background_process_ignoring_sigterm_is_killed_after_kill_after(self):
        # The job's shell dies of the SIGTERM at once; the background subshell ignores it, and
        # only the SIGKILL of the process group, --kill-after later, ends it.
        seconds = unique_seconds(100)
        self.cleanup_processes(seconds)
        r = taskpool("--timeout", "0.5", "--kill-after", "0.5",
                     '(trap "" TERM; sleep {}) & sleep {}', ":::", seconds)
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 6)
        self.assertNoSurvivors(seconds)

    def test_job_within_its_timeout_is_unaffected(self):
        log = self.path("joblog")
        r = taskpool("--timeout", "5", "--joblog", log, "sleep {}; echo done {}", ":::", "0.1")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "done 0.1\n")
        self.assertNotIn("timed out", r.err)
        row = joblog_by_seq(log)[1]
        self.assertEqual((row[6], row[7]), ("0", "0"))

    @requires_gnu_parallel
    def test_joblog_of_timed_out_jobs_matches_gnu_parallel(self):
        for line in ('sleep {} & sleep {}', 'trap "" TERM; sleep {}'):
            with self.subTest(line=line):
                seconds = unique_seconds(30)
                self.cleanup_processes(seconds)
                ours, theirs = self.path("ours"), self.path("theirs")
                args = ["--timeout", "0.5", "--joblog"]
                a = taskpool(*args, ours, "--kill-after", "0.5", line, ":::", seconds)
                b = parallel(*args, theirs, line, ":::", seconds)
                self.assertEqual(a.code, b.code)
                self.assertEqual(joblog_by_seq(ours)[1][6:8], joblog_by_seq(theirs)[1][6:8],
                                 "Exitval and Signal")
                self.assertNoSurvivors(seconds)


class NothingOutlivesTest(TaskpoolTestCase, SurvivorCheck):
    """What a job leaves running ends with it (its process group) or with the run (processes that
    escaped the group come back to taskpool, the child subreaper); --keep-background keeps them."""

    def test_background_processes_of_a_job_that_ended_normally_end_with_it(self):
        seconds = unique_seconds(51)
        self.cleanup_processes(seconds)
        pids = self.path("pids")
        line = (f'sleep {{}} & (trap "" TERM; exec sleep {{}}) & '
                f'echo "$$ $!" > {shlex.quote(str(pids))}; echo started')
        r = taskpool(line, ":::", seconds)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "started\n")
        self.assertNoSurvivors(seconds, read_pids(pids))

    def test_an_escaped_process_no_longer_outlives_a_timeout(self):
        # setsid -w puts sleep in a session of its own and waits for it: the timeout ends setsid
        # (the job's group) but cannot reach sleep, which comes back to taskpool and is ended
        # with the run.
        seconds = unique_seconds(52)
        self.cleanup_processes(seconds)
        r = taskpool("--timeout", "0.5", "--kill-after", "0.5", "setsid", "-w", "sleep", "{}",
                     ":::", seconds)
        self.assertExit(r, 1)
        self.assertIn("timed out", r.err)
        self.assertLess(r.seconds, 10)
        self.assertNoSurvivors(seconds)

    def escape(self, name: str, command: str, setup: str = "") -> str:
        """A shell line that starts `command` in a session of its own (as a daemon does) and
        returns once it has left the job's process group (and run `setup`, e.g. a trap): the
        job's end would otherwise kill it, by the group, before it got away."""
        marker = shlex.quote(str(self.path(name)))
        inner = shlex.quote(f"{setup}touch {marker}; {command}")
        return (f"setsid sh -c {inner} </dev/null >/dev/null 2>&1 & "
                f"while [ ! -e {marker} ]; do sleep 0.01; done")

    def test_a_daemon_comes_back_to_taskpool_and_ends_with_the_run(self):
        # Job 1 starts a daemon and ends; job 2 keeps the run going. Meanwhile the daemon is
        # taskpool's child; it ends when the run does.
        seconds = unique_seconds(53)
        self.cleanup_processes(seconds)
        run = Background(self.tmp, "-j2", "sh -c {}", ":::",
                         self.escape("daemon", f"exec sleep {seconds}"), "sleep 2; echo done")
        self.addCleanup(run.kill)
        self.assertTrue(wait_until(lambda: processes_with_arg(seconds) != [], 20),
                        "the daemon did not start")
        daemon = processes_with_arg(seconds)[0]
        self.assertTrue(wait_until(lambda: parent_of(daemon) == run.pid, 20),
                        f"the daemon's parent is {parent_of(daemon)}, not taskpool ({run.pid})")
        self.assertTrue(run.running(), "the run ended before it could be looked at")
        r = run.wait(30)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "done\n")
        self.assertNoSurvivors(seconds, [daemon], settle=0.5)

    def test_an_escaped_process_deaf_to_sigterm_gets_sigkill_after_kill_after(self):
        seconds = unique_seconds(54)
        self.cleanup_processes(seconds)
        line = ": {}; " + self.escape("deaf", f"sleep {seconds}", setup="trap '' TERM; ")
        r = taskpool("--kill-after", "1", line, ":::", "1")
        self.assertExit(r, 0)
        self.assertGreaterEqual(r.seconds, 0.9, "SIGKILL came before --kill-after")
        self.assertLess(r.seconds, 10)
        self.assertNoSurvivors(seconds, settle=0.5)

    def test_escaped_processes_that_end_leave_no_zombie(self):
        # Jobs whose escaped processes end soon, while the run goes on: taskpool reaps them.
        run = Background(self.tmp, "-j3", "sh -c {}", ":::",
                         self.escape("a", "sleep 0.2"), self.escape("b", "sleep 0.3"), "sleep 3")
        self.addCleanup(run.kill)
        self.assertTrue(wait_until(lambda: self.path("a").exists() and self.path("b").exists(),
                                   20), "the escaped processes did not start")
        time.sleep(1)
        self.assertTrue(run.running(), "the run ended before it could be looked at")
        zombies = [pid for pid in children_of(run.pid) if state_of(pid) == "Z"]
        self.assertEqual(zombies, [], "escaped processes that ended were not reaped")
        self.assertExit(run.wait(30), 0)

    def test_keep_background_lets_them_live_on(self):
        seconds = unique_seconds(55)
        self.cleanup_processes(seconds)
        pids = self.path("pids")
        line = (f"sleep {{}} & echo $! >> {shlex.quote(str(pids))}; "
                f"setsid sleep {{}} </dev/null >/dev/null 2>&1 & echo $! >> "
                f"{shlex.quote(str(pids))}")
        r = taskpool("--keep-background", line, ":::", seconds)
        self.assertExit(r, 0)
        self.assertLess(r.seconds, 10)
        time.sleep(0.5)
        alive = [pid for pid in read_pids(pids) if is_running(pid)]
        self.assertEqual(len(alive), 2, "--keep-background: a background process was ended")


class RateTest(TaskpoolTestCase):

    def test_rate_paces_starts_whatever_the_workers(self):
        # 20 starts at 10 per second: 19 intervals of 0.1 s after the first.
        r = taskpool("-j8", "--rate", "10/s", "true", ":::", *map(str, range(20)))
        self.assertExit(r, 0)
        self.assertGreaterEqual(r.seconds, 1.7)

    def test_rate_per_minute(self):
        r = taskpool("-j4", "--rate", "600/m", "true", ":::", *map(str, range(6)))
        self.assertExit(r, 0)
        self.assertGreaterEqual(r.seconds, 0.45, "600/m was not taken as 10 per second")

    def test_bare_rate_is_per_second(self):
        r = taskpool("-j4", "--rate", "10", "true", ":::", *map(str, range(6)))
        self.assertExit(r, 0)
        self.assertGreaterEqual(r.seconds, 0.45)

    def test_burst_lets_jobs_start_at_once(self):
        r = taskpool("-j5", "--rate", "10/s", "--burst", "5", "true", ":::", *"abcde")
        self.assertExit(r, 0)
        self.assertLess(r.seconds, 1.5)

    def test_retries_obey_the_rate(self):
        summary = self.path("summary.json")
        r = taskpool("--rate", "5/s", "--retries", "4", "--backoff", "0",
                     "--summary-json", summary, "false", ":::", "x")
        self.assertExit(r, 1)
        self.assertEqual(read_json(summary)["attempts"], 5)
        self.assertGreaterEqual(r.seconds, 0.7, "5 attempts at 5 per second took under 0.8 s")


class DeadlineTest(TaskpoolTestCase, SurvivorCheck):

    def test_deadline_with_short_and_long_jobs(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        log, summary = self.path("joblog"), self.path("summary.json")
        r = taskpool("--deadline", "1", "-j2", "--joblog", log, "--summary-json", summary,
                     "sleep", ":::", "0.1", "0.1", seconds, seconds, seconds, "0.1")
        self.assertLess(r.seconds, 10)
        jobs = read_json(summary)["jobs"]
        self.assertEqual((jobs["succeeded"], jobs["killed"], jobs["not_started"]), (2, 2, 2),
                         f"succeeded, killed, not started in {jobs}")
        self.assertEqual(jobs["failed"], 2, "killed jobs count as failed")
        self.assertEqual(read_json(summary)["stopped"], "deadline")
        self.assertExit(r, 4, "exit status: 2 killed + 2 not started")
        rows = joblog_by_seq(log)
        self.assertEqual(sorted(rows), [1, 2, 3, 4], "joblog lines for the jobs that ran")
        self.assertEqual(rows[3][7], "15")
        self.assertEqual(rows[4][7], "15")
        self.assertNoSurvivors(seconds)

    def test_job_ignoring_sigterm_is_killed_after_the_grace(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        log, summary = self.path("joblog"), self.path("summary.json")
        r = taskpool("--deadline", "0.5", "--grace", "1", "--joblog", log,
                     "--summary-json", summary, 'trap "" TERM; sleep {}', ":::", seconds)
        self.assertExit(r, 1)
        self.assertGreaterEqual(r.seconds, 1.3, "SIGKILL came before the grace ended")
        self.assertLess(r.seconds, 8)
        self.assertEqual(joblog_by_seq(log)[1][7], "9")
        self.assertEqual(read_json(summary)["jobs"]["killed"], 1)
        self.assertNoSurvivors(seconds)

    def test_background_process_ignoring_sigterm_is_killed_after_the_grace(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        r = taskpool("--deadline", "0.5", "--grace", "0.5",
                     '(trap "" TERM; sleep {}) & wait', ":::", seconds)
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 8)
        self.assertNoSurvivors(seconds)

    def test_job_ending_on_sigterm_within_the_grace_is_not_killed(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        log = self.path("joblog")
        r = taskpool("--deadline", "0.5", "--grace", "20", "--joblog", log,
                     "trap 'echo stopping; exit 3' TERM; sleep {} & wait", ":::", seconds)
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 10, "taskpool waited for the grace after the job ended")
        self.assertEqual(r.out, "stopping\n")
        row = joblog_by_seq(log)[1]
        self.assertEqual((row[6], row[7]), ("3", "0"))
        self.assertNoSurvivors(seconds)

    def test_deadline_ends_a_wait_for_a_retry(self):
        summary = self.path("summary.json")
        r = taskpool("--deadline", "1", "--retries", "5", "--backoff", "20s",
                     "--summary-json", summary, "false", ":::", "x")
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 8)
        self.assertEqual(read_json(summary)["attempts"], 1)

    def test_deadline_not_reached(self):
        summary = self.path("summary.json")
        r = taskpool("--deadline", "30", "--summary-json", summary, "true", ":::", "1", "2")
        self.assertExit(r, 0)
        self.assertLess(r.seconds, 10)
        self.assertIsNone(read_json(summary)["stopped"])


class HaltTest(TaskpoolTestCase, SurvivorCheck):
    # Inputs for `exit {}` run one at a time: the order of failures and successes is fixed.
    STATUSES = ["0", "4", "0", "3", "5", "0", "7", "0", "0", "2"]

    def test_halt_now_on_first_failure_ends_a_long_job(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        summary = self.path("summary.json")
        r = taskpool("-j2", "--halt", "now,fail=1", "--summary-json", summary,
                     ":::", f"sleep {seconds}", "sleep 0.3; exit 3")
        self.assertExit(r, 3, "the failing job's exit status")
        self.assertLess(r.seconds, 8)
        report = read_json(summary)
        self.assertEqual(report["stopped"], "halt")
        self.assertEqual(report["jobs"]["killed"], 1)
        self.assertNoSurvivors(seconds)

    def test_halt_soon_lets_running_jobs_finish(self):
        summary = self.path("summary.json")
        r = taskpool("-j2", "--halt", "soon,fail=1", "--summary-json", summary, ":::",
                     "sleep 1; echo slow job done", "exit 4", "echo not started")
        self.assertExit(r, 4)
        self.assertEqual(r.out, "slow job done\n")
        jobs = read_json(summary)["jobs"]
        self.assertEqual((jobs["succeeded"], jobs["failed"], jobs["killed"], jobs["not_started"]),
                         (1, 1, 0, 1))

    def test_halt_on_success(self):
        r = taskpool("-j1", "--halt", "now,success=1", "exit {}", ":::", "5", "0", "6")
        self.assertExit(r, 0)

    def test_halt_on_percentage_of_failures(self):
        r = taskpool("-j1", "--halt", "soon,fail=30%", "exit {}", ":::", *self.STATUSES)
        self.assertExit(r, 30)

    def test_halt_on_first_failure_of_a_killed_job(self):
        r = taskpool("-j1", "--halt", "now,fail=1", "kill -{} $$", ":::", "0", "TERM", "0")
        self.assertExit(r, 128 + 15)

    @requires_gnu_parallel
    def test_halt_exit_statuses_match_gnu_parallel(self):
        cases = [(halt, "exit {}", self.STATUSES)
                 for halt in ("soon,fail=1", "soon,fail=2", "now,success=1", "soon,success=2",
                              "soon,fail=30%", "soon,done=2")]
        cases.append(("now,fail=1", "kill -{} $$", ["0", "TERM", "0"]))
        for halt, line, records in cases:
            with self.subTest(halt=halt, line=line):
                args = ["-j1", "--halt", halt, line, ":::", *records]
                ours, theirs = taskpool(*args), parallel(*args)
                self.assertEqual(ours.code, theirs.code,
                                 f"exit status of taskpool {ours.code}, GNU parallel {theirs.code}")

    @requires_gnu_parallel
    def test_halt_now_on_first_failure_matches_gnu_parallel(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        args = ["-j2", "--halt", "now,fail=1", ":::", f"sleep {seconds}", "sleep 0.3; exit 3"]
        self.assertEqual(taskpool(*args).code, parallel(*args).code)
        self.assertNoSurvivors(seconds)


class ResumeTest(TaskpoolTestCase):
    # Job N appends to ran.N, and fails while broken.N exists.
    LINE = "echo {} >> ran.{}; test ! -e broken.{}"
    RECORDS = ["1", "2", "3", "4", "5"]

    def resume_run(self, runner, directory, *flags):
        return runner("--joblog", directory / "joblog", *flags, self.LINE, ":::", *self.RECORDS,
                      cwd=directory)

    def runs(self, directory):
        return {n: len((directory / f"ran.{n}").read_text().split())
                if (directory / f"ran.{n}").exists() else 0 for n in self.RECORDS}

    def first_run(self, runner, directory):
        directory.mkdir()
        for n in ("2", "4"):
            (directory / f"broken.{n}").touch()
        r = self.resume_run(runner, directory)
        self.assertEqual(r.code, 2, r.err)
        return r

    def test_resume_runs_nothing_again(self):
        d = self.path("run")
        self.first_run(taskpool, d)
        before = (d / "joblog").read_text()
        r = self.resume_run(taskpool, d, "--resume")
        self.assertExit(r, 0)
        self.assertEqual(self.runs(d), dict.fromkeys(self.RECORDS, 1))
        self.assertEqual((d / "joblog").read_text(), before)

    def test_resume_failed_runs_only_the_failed_jobs_again(self):
        d = self.path("run")
        self.first_run(taskpool, d)
        for n in ("2", "4"):
            (d / f"broken.{n}").unlink()
        summary = self.path("summary.json")
        r = self.resume_run(taskpool, d, "--resume-failed", "--summary-json", summary)
        self.assertExit(r, 0)
        self.assertEqual(self.runs(d), {"1": 1, "2": 2, "3": 1, "4": 2, "5": 1})
        self.assertEqual(read_json(summary)["jobs"]["skipped"], 3)
        text = (d / "joblog").read_text()
        self.assertEqual(text.count("Seq\tHost"), 1, "the header is written once")
        rows = joblog_rows(d / "joblog")
        self.assertEqual(len(rows), 7, "two lines appended to the five of the first run")
        self.assertEqual(sorted(row[0] for row in rows[:5]), self.RECORDS)
        self.assertEqual({row[0]: row[6] for row in rows[5:]}, {"2": "0", "4": "0"},
                         "appended lines: jobs 2 and 4, now succeeding")
        # Now everything has succeeded: a second --resume-failed has nothing to run.
        r = self.resume_run(taskpool, d, "--resume-failed")
        self.assertExit(r, 0)
        self.assertEqual(self.runs(d), {"1": 1, "2": 2, "3": 1, "4": 2, "5": 1})
        self.assertEqual(len(joblog_rows(d / "joblog")), 7)

    def test_resume_failed_with_jobs_still_failing(self):
        d = self.path("run")
        self.first_run(taskpool, d)
        r = self.resume_run(taskpool, d, "--resume-failed")
        self.assertExit(r, 2)
        self.assertEqual(self.runs(d), {"1": 1, "2": 2, "3": 1, "4": 2, "5": 1})

    @requires_gnu_parallel
    def test_resume_matches_gnu_parallel(self):
        ours, theirs = self.path("ours"), self.path("theirs")
        steps = [("--resume",), ("--resume-failed",), ("--resume-failed",)]
        results = []
        for runner, d in ((taskpool, ours), (parallel, theirs)):
            codes = [self.first_run(runner, d).code]
            counts = [self.runs(d)]
            for i, flags in enumerate(steps):
                if i == 1:
                    for n in ("2", "4"):
                        (d / f"broken.{n}").unlink()
                codes.append(self.resume_run(runner, d, *flags).code)
                counts.append(self.runs(d))
            seqs = [row[0] for row in joblog_rows(d / "joblog")]
            results.append((codes, counts, sorted(seqs)))
        self.assertEqual(results[0], results[1], "taskpool (first) and GNU parallel (second)")

    def test_line_cut_off_at_the_end_of_the_joblog_runs_its_job_again(self):
        # As after a run killed while writing its joblog: the last line lacks its end.
        d = self.path("run")
        self.first_run(taskpool, d)
        text = (d / "joblog").read_text()
        last = text.splitlines()[-1]
        seq, host, start, runtime = last.split("\t")[:4]
        # Cut inside JobRuntime ("     0.012"), just after its decimal point.
        cut = "\t".join([seq, host, start, runtime[:runtime.index(".") + 1]])
        (d / "joblog").write_text(text[:-len(last) - 1] + cut)
        status = 1 if seq in ("2", "4") else 0
        r = self.resume_run(taskpool, d, "--resume")
        self.assertExit(r, status)
        expected = dict.fromkeys(self.RECORDS, 1)
        expected[seq] = 2
        self.assertEqual(self.runs(d), expected, f"only job {seq} runs again")
        # The joblog is whole again: a further --resume reads it and runs nothing.
        r = self.resume_run(taskpool, d, "--resume")
        self.assertExit(r, 0, "resuming a second time")
        self.assertEqual(self.runs(d), expected)
        rows = joblog_rows(d / "joblog")
        self.assertEqual(sorted(row[0] for row in rows), self.RECORDS)
        for row in rows:
            self.assertEqual(len(row), 9, f"joblog line {row}")
            self.assertTrue(row[6].lstrip("-").isdigit() and row[7].isdigit(), row)

    def test_missing_joblog_runs_everything(self):
        d = self.path("run")
        d.mkdir()
        r = self.resume_run(taskpool, d, "--resume")
        self.assertExit(r, 0)
        self.assertEqual(self.runs(d), dict.fromkeys(self.RECORDS, 1))
        rows = joblog_rows(d / "joblog")
        self.assertEqual(sorted(row[0] for row in rows), self.RECORDS)
        for row in rows:
            self.assertEqual(len(row), 9, f"joblog line {row}")
            self.assertTrue(row[6].lstrip("-").isdigit() and row[7].isdigit(), row)

    def test_empty_joblog_runs_everything(self):
        d = self.path("run")
        d.mkdir()
        (d / "joblog").write_text("")
        r = self.resume_run(taskpool, d, "--resume-failed")
        self.assertExit(r, 0)
        self.assertEqual(self.runs(d), dict.fromkeys(self.RECORDS, 1))
        self.assertEqual(len(joblog_rows(d / "joblog")), 5)

    def test_corrupt_joblog_is_an_error(self):
        for flag in ("--resume", "--resume-failed"):
            for name, text in (("garbage first line", "this is not a joblog\n1\t2\t3\n"),
                               ("bad line after the header",
                                "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
                                "Signal\tCommand\n1\t:\tnonsense\n")):
                with self.subTest(flag=flag, joblog=name):
                    d = self.path(f"run{flag}{len(text)}")
                    d.mkdir()
                    (d / "joblog").write_text(text)
                    r = self.resume_run(taskpool, d, flag)
                    self.assertExit(r, 255)
                    self.assertIn(str(d / "joblog"), r.err, "the message names the joblog")
                    self.assertEqual(self.runs(d), dict.fromkeys(self.RECORDS, 0),
                                     "jobs ran despite the corrupt joblog")
                    self.assertEqual((d / "joblog").read_text(), text, "the joblog was changed")

    def test_resume_needs_a_joblog(self):
        for flag in ("--resume", "--resume-failed"):
            with self.subTest(flag=flag):
                r = taskpool(flag, "echo", "ran", ":::", "1")
                self.assertExit(r, 255)
                self.assertIn(flag, r.err)
                self.assertIn("--joblog", r.err)
                self.assertEqual(r.out, "")


class BadValueTest(TaskpoolTestCase):
    DURATION_FLAGS = ("--timeout", "--deadline", "--backoff", "--backoff-max", "--kill-after",
                      "--grace")

    def assertRejected(self, flag, value, *extra):
        r = taskpool(*extra, flag, value, "echo", "ran", ":::", "1")
        self.assertExit(r, 255, f"{flag} {value!r}")
        self.assertIn(flag, r.err, f"the message for {flag} {value!r} does not name the flag")
        self.assertEqual(r.out, "", "a job ran")

    def test_bad_durations(self):
        for flag in self.DURATION_FLAGS:
            for value in ("-1", "10x", "", "1.5.2", "ms", "1e3", "-0.5s"):
                with self.subTest(flag=flag, value=value):
                    self.assertRejected(flag, value)

    def test_empty_duration_after_equals_sign(self):
        # `--timeout=` is how a script passes an empty value (`--timeout="$LIMIT"` with LIMIT
        # unset): the value is empty, and the next word is not the flag's value.
        for flag in self.DURATION_FLAGS:
            with self.subTest(flag=flag):
                r = taskpool(f"{flag}=", "2", "echo", "ran", ":::", "1")
                self.assertExit(r, 255, f"{flag}= followed by 2")
                self.assertIn(flag, r.err)

    def test_zero_timeout_and_deadline(self):
        for flag in ("--timeout", "--deadline"):
            with self.subTest(flag=flag):
                self.assertRejected(flag, "0")

    def test_good_durations(self):
        for value in ("500ms", "2s", "1.5m", "1h", "3", "0.25"):
            with self.subTest(value=value):
                args = [a for flag in self.DURATION_FLAGS for a in (flag, value)]
                r = taskpool(*args, "echo", "ran", ":::", "1")
                self.assertExit(r, 0, f"durations {value!r}")
                self.assertEqual(r.out, "ran 1\n")

    def test_bad_rates(self):
        for value in ("0", "abc", "5/x", "", "-1", "0/s", "/s"):
            with self.subTest(value=value):
                self.assertRejected("--rate", value)

    def test_bad_burst(self):
        for value in ("0", "-1", "x"):
            with self.subTest(value=value):
                self.assertRejected("--burst", value, "--rate", "10/s")

    def test_bad_halt_conditions(self):
        for value in ("sometimes", "now,fail=0", "now", "soon,fail=", "later,fail=1",
                      "now,crash=1", "soon,fail=101%", ""):
            with self.subTest(value=value):
                self.assertRejected("--halt", value)

    def test_bad_retries(self):
        for value in ("-1", "x", "1.5", ""):
            with self.subTest(value=value):
                self.assertRejected("--retries", value)


if __name__ == "__main__":
    unittest.main()
