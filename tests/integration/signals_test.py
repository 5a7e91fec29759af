"""taskpool and the signals a user sends it. The first SIGINT, SIGTERM or SIGHUP stops the
starting of jobs and lets the running ones finish; a second SIGINT or SIGTERM ends the running
ones (SIGTERM to their process groups, SIGKILL after --kill-after). Jobs not started count as
failed in the exit status, and no process of a job is left running.

taskpool runs in a process group of its own and the test signals that whole group, as a
terminal does for Ctrl-C: the jobs, in process groups of their own, only get what taskpool
forwards."""

import os
import random
import shutil
import signal
import subprocess
import time
import unittest
from pathlib import Path
from typing import Optional

from helpers import SANITIZE, TASKPOOL, TaskpoolTestCase
from helpers import run, sh
from process_support import (Background, SurvivorCheck, TerminalRun, is_running, joblog_by_seq,
                             read_json, read_pids, unique_seconds, wait_until)

RECORDS = ["1", "2", "3", "4", "5"]
# How long a test waits for jobs to start or taskpool to react, on a loaded machine.
PATIENCE = 20


class SignalCase(TaskpoolTestCase, SurvivorCheck):

    def start(self, line, *options, workers="2", program=None):
        """Runs `line` for each of RECORDS in the background, -j2, with a joblog and a JSON
        summary. The line must write its PIDs to {}.pid once running (see started_line).
        `program`: a copy of taskpool to run instead."""
        self.joblog = self.path("joblog")
        self.summary = self.path("summary.json")
        run = Background(self.tmp, f"-j{workers}", "--joblog", self.joblog,
                         "--summary-json", self.summary, *options, line, ":::", *RECORDS,
                         program=program)
        self.addCleanup(run.kill)
        return run

    @staticmethod
    def started_line(before, after):
        """A job's command line: `before`, then the job's PIDs ($$, and $! when `before` started
        something in the background) written to {}.pid as a marker, then `after`."""
        return (f'{before} echo "$$ ${{!:-}}" > {{}}.pid.tmp && mv {{}}.pid.tmp {{}}.pid; '
                f'{after}')

    def started(self):
        return sorted(p.name for p in self.tmp.glob("*.pid"))

    def wait_for_jobs(self, run, count):
        """Waits until `count` jobs have written their marker."""
        ok = wait_until(lambda: len(self.started()) >= count or not run.running(), PATIENCE)
        self.assertTrue(ok and run.running(),
                        f"{count} jobs did not start; started: {self.started()}; "
                        f"stderr: {run.stderr_text()!r}")

    def job_pids(self):
        return [pid for name in self.started() for pid in read_pids(self.tmp / name)]


class FirstSignalTest(SignalCase):

    def check_running_jobs_finish(self, sig):
        seconds = unique_seconds(2)
        self.cleanup_processes(seconds)
        run = self.start(self.started_line("", f"sleep {seconds}; echo done {{}}"), "--summary")
        self.wait_for_jobs(run, 2)
        run.signal(sig)
        r = run.wait(PATIENCE)
        # Said at once, with the jobs running then and what a second signal does; GNU parallel's
        # words first for SIGHUP.
        again = "Ctrl-C again" if sig == signal.SIGINT else f"{sig.name} again"
        notice = f"taskpool: stopping: waiting for 2 running jobs; {again} to kill them\n"
        if sig == signal.SIGHUP:
            notice = "taskpool: SIGHUP received. No new jobs will be started.\n" + notice
        self.assertIn(notice, r.err)
        # The ::: lists were read whole: the summary says what stopped the run, not that the
        # input was cut short.
        ctrl_c = " (Ctrl-C)" if sig == signal.SIGINT else ""
        self.assertIn(f"  stopped   by {sig.name}{ctrl_c}, after the input was read to its end\n",
                      r.err)
        self.assertExit(r, 3, f"{sig.name}: 3 jobs were not started")
        self.assertEqual(self.started(), ["1.pid", "2.pid"], "a job started after the signal")
        self.assertEqual(sorted(r.out.splitlines()), ["done 1", "done 2"])
        rows = joblog_by_seq(self.joblog)
        self.assertEqual(sorted(rows), [1, 2])
        for row in rows.values():
            # Ended by neither the signal sent to taskpool nor anything taskpool forwarded.
            self.assertEqual((row[6], row[7]), ("0", "0"), f"job {row[0]} was interrupted")
        report = read_json(self.summary)
        self.assertEqual((report["stopped"], report["stop_signal"], report["input_read"]),
                         ("signal", sig.name, True))
        jobs = report["jobs"]
        self.assertEqual((jobs["succeeded"], jobs["failed"], jobs["killed"], jobs["not_started"]),
                         (2, 0, 0, 3))
        self.assertNoSurvivors(seconds, self.job_pids())

    def test_sigint_lets_running_jobs_finish_and_starts_no_more(self):
        self.check_running_jobs_finish(signal.SIGINT)

    def test_sigterm_lets_running_jobs_finish_and_starts_no_more(self):
        self.check_running_jobs_finish(signal.SIGTERM)

    def test_sighup_lets_running_jobs_finish_and_starts_no_more(self):
        self.check_running_jobs_finish(signal.SIGHUP)

    def test_sigint_ends_a_wait_for_a_retry(self):
        run = Background(self.tmp, "-j1", "--retries", "5", "--backoff", "20s",
                         "--summary-json", self.path("summary.json"), "false", ":::", "x")
        self.addCleanup(run.kill)
        ok = wait_until(lambda: "retrying in" in run.stderr_text() or not run.running(), PATIENCE)
        self.assertTrue(ok and run.running(), run.stderr_text())
        sent = time.monotonic()
        run.signal(signal.SIGINT)
        r = run.wait(PATIENCE)
        self.assertLess(time.monotonic() - sent, 3, "taskpool waited for the retry's backoff")
        self.assertExit(r, 1)
        report = read_json(self.path("summary.json"))
        self.assertEqual(report["attempts"], 1)
        self.assertEqual(report["jobs"]["failed"], 1)


class SecondSignalTest(SignalCase):

    def check_running_jobs_end(self, first, second):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        run = self.start(self.started_line(f"sleep {seconds} &", "wait"))
        self.wait_for_jobs(run, 2)
        run.signal(first)
        time.sleep(0.3)
        self.assertTrue(run.running(), "taskpool ended on the first signal")
        sent = time.monotonic()
        run.signal(second)
        r = run.wait(PATIENCE)
        self.assertLess(time.monotonic() - sent, 2.0,
                        f"{first.name} then {second.name}: running jobs were not ended at once")
        self.assertExit(r, 5, "2 killed and 3 not started")
        self.assertIn("taskpool: stopping now: ending 2 running jobs (SIGTERM, then SIGKILL 5.00 s "
                      "later)\n", r.err)
        self.assertEqual(self.started(), ["1.pid", "2.pid"])
        rows = joblog_by_seq(self.joblog)
        self.assertEqual(sorted(rows), [1, 2], "joblog lines for the jobs that ran")
        for row in rows.values():
            self.assertEqual(row[7], "15", f"Signal of job {row[0]}")
        report = read_json(self.summary)
        self.assertEqual((report["stopped"], report["stop_signal"]), ("signal", first.name))
        jobs = report["jobs"]
        self.assertEqual((jobs["failed"], jobs["killed"], jobs["not_started"]), (2, 2, 3))
        self.assertEqual(len(self.job_pids()), 4, "each job wrote its shell's and sleep's PIDs")
        self.assertNoSurvivors(seconds, self.job_pids())

    def test_second_sigint_ends_running_jobs(self):
        self.check_running_jobs_end(signal.SIGINT, signal.SIGINT)

    def test_second_sigterm_ends_running_jobs(self):
        self.check_running_jobs_end(signal.SIGTERM, signal.SIGTERM)

    def test_sigterm_after_sigint_ends_running_jobs(self):
        self.check_running_jobs_end(signal.SIGINT, signal.SIGTERM)

    def test_job_ignoring_sigterm_is_killed_after_kill_after(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        run = self.start(self.started_line('trap "" TERM;', f"sleep {seconds}"),
                         "--kill-after", "0.5")
        self.wait_for_jobs(run, 2)
        run.signal(signal.SIGINT)
        time.sleep(0.3)
        sent = time.monotonic()
        run.signal(signal.SIGINT)
        r = run.wait(PATIENCE)
        waited = time.monotonic() - sent
        self.assertGreaterEqual(waited, 0.4, "SIGKILL came before --kill-after")
        self.assertLess(waited, 4)
        self.assertExit(r, 5)
        rows = joblog_by_seq(self.joblog)
        self.assertEqual({row[7] for row in rows.values()}, {"9"}, "Signal of the jobs")
        self.assertNoSurvivors(seconds, self.job_pids())

    def test_background_process_ignoring_sigterm_is_killed_after_kill_after(self):
        # The job's shell dies of the SIGTERM; the background subshell ignores it and only the
        # SIGKILL of the process group, --kill-after later, ends it.
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        run = self.start(self.started_line(f'(trap "" TERM; sleep {seconds}) &', "wait"),
                         "--kill-after", "0.5")
        self.wait_for_jobs(run, 2)
        run.signal(signal.SIGINT)
        time.sleep(0.3)
        run.signal(signal.SIGINT)
        r = run.wait(PATIENCE)
        self.assertExit(r, 5)
        self.assertNoSurvivors(seconds, self.job_pids())


class StopReasonTest(SignalCase):
    """What stopped a run, as the summaries say it: the signal by name, an output error, and
    whether the input had been read to its end."""

    def test_signal_before_the_input_ended(self):
        # Records come from a FIFO the test keeps open: the input has not ended at the signal.
        fifo = self.path("records")
        os.mkfifo(fifo)
        summary = self.path("summary.json")
        run = Background(self.tmp, "-j2", "--summary", "--summary-json", summary, "-a", fifo,
                         self.started_line("", "sleep 30"))
        self.addCleanup(run.kill)
        with open(fifo, "w") as writer:
            writer.write("1\n2\n3\n")
            writer.flush()
            self.wait_for_jobs(run, 2)
            run.signal(signal.SIGTERM)
            time.sleep(0.3)
            run.signal(signal.SIGTERM)
            r = run.wait(PATIENCE)
        self.assertIn("  stopped   by SIGTERM, before the input ended\n", r.err)
        report = read_json(summary)
        self.assertEqual((report["stopped"], report["stop_signal"], report["input_read"]),
                         ("signal", "SIGTERM", False))
        self.assertGreaterEqual(r.code, 2, "two jobs killed")

    def test_an_output_error_is_named_not_taken_for_a_signal(self):
        summary = self.path("summary.json")
        r = sh(f"taskpool -j1 --summary --summary-json {summary} 'echo {{}}' ::: 1 2 3 >/dev/full",
               cwd=self.tmp)
        self.assertExit(r, 255)
        self.assertIn("cannot write standard output", r.err)
        self.assertIn("  stopped   an output could not be written", r.err)
        self.assertNotIn("SIG", r.err)
        report = read_json(summary)
        self.assertEqual((report["stopped"], report["stop_signal"]), ("output_error", None))


class CtrlCTest(SignalCase):
    """Ctrl-C typed on the terminal taskpool runs in: the first says what happens and lets the
    running jobs finish, the second ends them."""

    def start_in_terminal(self, seconds):
        self.summary = self.path("summary.json")
        run = TerminalRun(self.tmp, "-j3", "--summary-json", self.summary,
                          self.started_line("", f"sleep {seconds}"), ":::", *RECORDS)
        self.addCleanup(run.kill)
        ok = wait_until(lambda: len(self.started()) >= 3 or not run.running(), PATIENCE)
        self.assertTrue(ok and run.running(), f"3 jobs did not start: {run.stderr_text()!r}")
        return run

    def test_first_ctrl_c_says_it_waits_for_the_running_jobs(self):
        seconds = unique_seconds(2)
        self.cleanup_processes(seconds)
        run = self.start_in_terminal(seconds)
        run.ctrl_c()
        notice = "taskpool: stopping: waiting for 3 running jobs; Ctrl-C again to kill them\n"
        self.assertTrue(wait_until(lambda: notice in run.stderr_text(), PATIENCE),
                        run.stderr_text())
        self.assertTrue(run.running(), "the first Ctrl-C ended the run")
        r = run.wait(PATIENCE)
        self.assertExit(r, 2, "two jobs were not started")
        # stderr is no terminal here (a file), so the text summary is left out; the JSON says it.
        report = read_json(self.summary)
        self.assertEqual((report["stopped"], report["stop_signal"], report["jobs"]["succeeded"]),
                         ("signal", "SIGINT", 3))

    def test_second_ctrl_c_kills_the_running_jobs(self):
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        run = self.start_in_terminal(seconds)
        run.ctrl_c()
        self.assertTrue(wait_until(lambda: "Ctrl-C again" in run.stderr_text(), PATIENCE),
                        run.stderr_text())
        run.ctrl_c()
        r = run.wait(PATIENCE)
        self.assertIn("taskpool: stopping now: ending 3 running jobs", r.err)
        self.assertExit(r, 5, "3 killed, 2 not started")
        self.assertNoSurvivors(seconds, self.job_pids())


def guardian_of(pid: int) -> Optional[int]:
    """taskpool's guardian: its child named taskpool-guard (see tasks/guardian.h)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for child in map(int, children):
        try:
            # Its name (comm) is set once it runs; its argv[0] from its exec on (a guardian that
            # is taskpool's program run again, slow to start under the sanitizers).
            argv0 = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
            if (Path(f"/proc/{child}/comm").read_text().strip() == "taskpool-guard"
                    or argv0 == b"taskpool-guard"):
                return child
        except OSError:
            continue
    return None


class KilledTest(SignalCase):
    """taskpool killed with SIGKILL, which it cannot handle: its guardian ends the jobs it left
    (SIGTERM, then SIGKILL after --kill-after), and then itself."""

    def start_five(self, seconds, *options, program=None):
        # Jobs 1-4 sleep; job 5's child ignores SIGTERM and sleeps too.
        line = self.started_line(
            f'if [ {{}} = 5 ]; then (trap "" TERM; exec sleep {seconds}) & fi;',
            f"sleep {seconds}")
        run = self.start(line, *options, workers="5", program=program)
        self.wait_for_jobs(run, 5)
        return run

    def test_sigkill_of_taskpool_ends_every_job(self):
        seconds = unique_seconds(1000)
        self.cleanup_processes(seconds)
        run = self.start_five(seconds, "--kill-after", "1")
        guardian = guardian_of(run.pid)
        pids = self.job_pids()
        self.assertEqual(len(pids), 6, "five shells and the deaf child")
        killed = time.monotonic()
        run.proc.send_signal(signal.SIGKILL)  # taskpool alone, not its group
        self.assertExit(run.wait(PATIENCE), -signal.SIGKILL)
        # Within a few seconds: the SIGTERM at once, the SIGKILL a second later.
        self.assertNoSurvivors(seconds, pids, settle=5)
        self.assertLess(time.monotonic() - killed, 6)
        self.assertIsNotNone(guardian, "taskpool had no guardian")
        self.assertTrue(wait_until(lambda: not is_running(guardian), PATIENCE),
                        "the guardian outlived its work")

    def test_sigkill_at_any_moment_of_the_start_leaves_no_job_running(self):
        # Killed while its first jobs start (a child between its clone and its exec, the
        # guardian's own start): every job that began is ended all the same.
        if "thread" in SANITIZE:
            self.skipTest("under ThreadSanitizer glibc's posix_spawn starts the jobs, and a job "
                          "is marked once its start has returned")
        rng = random.Random()
        for round_ in range(30):
            seconds = unique_seconds(1000)
            self.cleanup_processes(seconds)
            proc = subprocess.Popen(
                [TASKPOOL, "-j3", "--kill-after", "1", "sleep", ":::", seconds, seconds, seconds,
                 seconds], cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(rng.uniform(0, 0.01))
            proc.kill()
            proc.wait(PATIENCE)
            with self.subTest(round=round_):
                # A job left running stays: the wait only gives a guardian that starts slowly
                # (a sanitizer's runtime on a loaded machine) its time.
                self.assertNoSurvivors(seconds, settle=PATIENCE)

    def test_the_guardian_is_the_program_beside_taskpool_or_else_taskpool_itself(self):
        # Installed, the guardian is the small program taskpool-guard beside taskpool; a
        # taskpool copied alone runs itself again as its guardian, which guards as well.
        alone = self.tmp / "alone"
        alone.mkdir()
        shutil.copy(TASKPOOL, alone / "taskpool")
        for program, guard in ((TASKPOOL, TASKPOOL.parent / "taskpool-guard"),
                               (alone / "taskpool", alone / "taskpool")):
            with self.subTest(program=str(program)):
                for marker in self.tmp.glob("*.pid"):
                    marker.unlink()
                seconds = unique_seconds(1000)
                self.cleanup_processes(seconds)
                run = self.start_five(seconds, "--kill-after", "1", program=program)
                guardian = guardian_of(run.pid)
                self.assertIsNotNone(guardian, "taskpool had no guardian")
                self.assertTrue(wait_until(
                    lambda: Path(os.readlink(f"/proc/{guardian}/exe")) == guard.resolve(),
                    PATIENCE), f"the guardian is not {guard}")
                pids = self.job_pids()
                run.proc.send_signal(signal.SIGKILL)
                self.assertExit(run.wait(PATIENCE), -signal.SIGKILL)
                self.assertNoSurvivors(seconds, pids, settle=5)

    def test_a_run_under_valgrind_starts_its_guardian_the_way_valgrind_allows(self):
        # Valgrind ends a program at a clone() that is neither a thread's nor a fork's, which is
        # how taskpool starts its guardian without waiting for it: under valgrind it waits.
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed (scripts/ensure-deps test installs it)")
        if SANITIZE:
            self.skipTest("valgrind does not run a program built with a sanitizer")
        r = run(["valgrind", "--tool=none", "--quiet", TASKPOOL, "echo", ":::", "hi"],
                cwd=self.tmp, timeout=PATIENCE * 6)
        self.assertEqual((r.code, r.stdout), (0, b"hi\n"), r.err)
        self.assertNotIn("Unsupported clone", r.err)

    def test_the_guardian_program_run_by_hand_says_it_is_taskpool_s_and_exits_2(self):
        guard = TASKPOOL.parent / "taskpool-guard"
        cases = {
            (): "only taskpool starts this program",
            ("--taskpool-guard", "x", "4", "5"): "its arguments are not taskpool's",
            ("--taskpool-guard", "3", "4", "99999999999999999999"):
                "its arguments are not taskpool's",
        }
        for args, said in cases.items():
            with self.subTest(args=args):
                r = run([guard, *args], cwd=self.tmp)
                self.assertEqual(r.code, 2)
                self.assertTrue(r.err.startswith(f"taskpool-guard: {said}"), r.err)
                self.assertEqual(r.err.count("\n"), 1, r.err)
                self.assertEqual(r.stdout, b"")

    def test_the_guardian_outlives_a_ctrl_c_and_still_ends_the_jobs(self):
        # Ctrl-C reaches taskpool's whole process group: taskpool lets the running jobs finish,
        # and its guardian, in a group of its own, is untouched and ends them when a SIGKILL
        # cuts that short.
        seconds = unique_seconds(1000)
        self.cleanup_processes(seconds)
        run = self.start_five(seconds, "--kill-after", "1")
        guardian = guardian_of(run.pid)
        self.assertIsNotNone(guardian, "taskpool has no guardian")
        run.signal(signal.SIGINT)
        time.sleep(0.5)
        self.assertTrue(run.running(), "taskpool ended on the first signal")
        self.assertTrue(is_running(guardian), "the guardian died of the Ctrl-C")
        run.proc.send_signal(signal.SIGKILL)
        run.wait(PATIENCE)
        self.assertNoSurvivors(seconds, self.job_pids(), settle=5)

    def test_a_run_that_ends_in_order_leaves_no_guardian(self):
        run = self.start(self.started_line("", "sleep 1"))
        self.wait_for_jobs(run, 1)
        guardian = guardian_of(run.pid)
        self.assertIsNotNone(guardian, "taskpool has no guardian")
        self.assertExit(run.wait(PATIENCE), 0)
        # It is told that taskpool ends, and exits at once (not waited for).
        self.assertTrue(wait_until(lambda: not is_running(guardian), 5),
                        "the guardian outlived taskpool")


if __name__ == "__main__":
    unittest.main()
