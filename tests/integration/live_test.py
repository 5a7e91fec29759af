"""The live pool: a run that is changed while it goes on.

- Resizing: -j FILE is read again when it changes (it is looked at every 0.25 s), SIGUSR1 adds a
  worker and SIGUSR2 removes one (never below 1). A shrink kills no running job: the slot is not
  refilled. The summaries and the timeline record every change.
- Ctrl-Z suspends the whole run (the jobs' process groups, then taskpool itself) and fg resumes
  it; the suspended time counts toward no deadline or timeout.
- --control SOCKET takes one-line commands (pause, resume, jobs N, status); `taskpool ctl`
  sends one.
- --priority-col N starts the waiting job with the highest number first, within a window of
  --queue-size records.
- --feedback turns the lines a job writes to file descriptor 3 into new records; --max-records
  stops a runaway.

Concurrency is measured from the time stamps jobs write when they start and end (`date +%s.%N`,
the same clock as time.time()), or with jobs that wait for a file the test creates ("gated"), so
that no test depends on how fast a loaded machine is.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import unittest
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from helpers import TASKPOOL, Result, TaskpoolTestCase, run, taskpool, test_env
from process_support import (Background, SurvivorCheck, TerminalRun, _state, processes_with_arg,
                             read_json, unique_seconds, wait_until)

# How long a test waits for jobs to start or taskpool to react, on a loaded machine.
PATIENCE = 20
CPUS = len(os.sched_getaffinity(0))  # the CPUs this process may run on, as nproc counts them

# A job that notes its start, waits until the test creates the file `release`, and ends: with
# such jobs the number running at once is exactly the number of workers.
GATED = "touch {}.started; while [ ! -e release ]; do sleep 0.1; done"


def stamped(body: str) -> str:
    """A job's command line: the time it starts in {}.start, then `body`, then the time it ends
    in {}.end (each written by one `date`, so a file that ends in a newline is whole)."""
    return "date +%s.%N > {}.start; " + body + "; date +%s.%N > {}.end"


def stamps(directory: Path) -> Dict[str, Tuple[float, float]]:
    """{record: (start, end)} for the stamped jobs that have ended."""
    found = {}
    for start in directory.glob("*.start"):
        end = start.with_suffix(".end")
        if end.exists():
            found[start.stem] = (float(start.read_text()), float(end.read_text()))
    return found


def most_at_once(intervals, since: float = float("-inf"), until: float = float("inf")) -> int:
    """The most of the (start, end) intervals that overlap at one moment in [since, until). An
    interval holds from its start up to, not including, its end: one that ends as another
    starts does not overlap it."""
    intervals = list(intervals)
    # The most overlap is found at `since` or where an interval starts.
    moments = [since] + [s for s, _ in intervals if since < s < until]
    return max(sum(1 for s, e in intervals if s <= at < e) for at in moments)


def started(directory: Path) -> List[str]:
    """The records whose gated job has started."""
    return sorted(p.name[:-len(".started")] for p in directory.glob("*.started"))


def has_line(path: Path) -> bool:
    try:
        return path.read_text().endswith("\n")
    except OSError:
        return False


def worker_numbers(report: dict) -> List[int]:
    return [change["workers"] for change in report["worker_changes"]]


class LiveCase(TaskpoolTestCase, SurvivorCheck):

    def background(self, *args) -> Background:
        run = Background(self.tmp, *args)
        self.addCleanup(run.kill)
        return run

    def wait_for(self, run, condition, what: str) -> None:
        """Waits until `condition` holds while taskpool runs; fails naming `what` otherwise."""
        ok = wait_until(lambda: condition() or not run.running(), PATIENCE)
        self.assertTrue(ok and condition() and run.running(),
                        f"{what}: not so within {PATIENCE} s (taskpool running: {run.running()}); "
                        f"started: {started(self.tmp)}; stderr: {run.stderr_text()!r}")

    def wait_started(self, run, count: int) -> None:
        self.wait_for(run, lambda: len(started(self.tmp)) >= count, f"{count} jobs started")

    def wait_stamped(self, run, record: str) -> None:
        self.wait_for(run, lambda: has_line(self.tmp / f"{record}.start"),
                      f"the job for {record} started")

    def release(self) -> None:
        (self.tmp / "release").touch()


# ---------------------------------------------------------------------------------------------
# Resizing


class ResizeTest(LiveCase):

    def test_jobs_file_changed_mid_run_changes_concurrency(self):
        """-j FILE holding 1 runs one job at a time; once 4 is written into the file, 4 run at
        once. The text and JSON summaries and the timeline record the change."""
        jobs_file = self.write("workers", "1\n")
        summary_json, svg = self.path("summary.json"), self.path("timeline.svg")
        records = [f"r{i:02}" for i in range(1, 11)]
        run = self.background("-j", jobs_file, "--summary", "--summary-json", summary_json,
                              "--timeline", svg, stamped("sleep 1"), ":::", *records)
        self.wait_stamped(run, "r01")
        changed = time.time()
        self.write("workers.new", "4\n").replace(jobs_file)  # as an editor saves: a new inode
        r = run.wait(60)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "", "the jobs print nothing")
        jobs = stamps(self.tmp)
        self.assertEqual(sorted(jobs), records, "every job ran to its end")
        self.assertEqual(most_at_once(jobs.values(), until=changed), 1,
                         f"more than 1 job at once before the file said 4: {sorted(jobs.items())}")
        self.assertGreaterEqual(most_at_once(jobs.values()), 3,
                                f"no 3 jobs at once after the file said 4: {sorted(jobs.items())}")

        report = read_json(summary_json)
        self.assertEqual(report["workers"], 1)
        self.assertEqual(report["max_workers"], 4)
        self.assertEqual(worker_numbers(report), [4], report["worker_changes"])
        at = report["worker_changes"][0]["at_seconds"]
        wall = report["wall_seconds"]
        self.assertTrue(0 < at < wall, f"change at {at} s in a run of {wall} s")
        self.assertAlmostEqual(report["worker_seconds"], at + 4 * (wall - at), delta=0.05,
                               msg="worker_seconds: 1 worker until the change, 4 after")
        self.assertRegex(r.err, r"workers\s+1 -> 4 \(1 change, 4 at most\), utilization")

        chart = svg.read_text()
        self.assertEqual(re.findall(r'<g class="worker" data-worker="(\d+)"', chart),
                         ["1", "2", "3", "4"], "one row per worker, up to the most there were")
        marks = re.findall(r'<g class="resize" data-workers="(\d+)" data-at="([0-9.]+)"', chart)
        self.assertEqual([m[0] for m in marks], ["4"], "one resize mark")
        self.assertAlmostEqual(float(marks[0][1]), at, delta=0.01)

    def test_jobs_file_with_bad_content_mid_run_warns_and_keeps_the_workers(self):
        """A -j file that stops holding a number gives a warning and the run goes on with the
        workers it has; a number written later is taken; a removed file gives a warning too."""
        jobs_file = self.write("workers", "2\n")
        summary_json = self.path("summary.json")
        run = self.background("-j", jobs_file, "--summary-json", summary_json, GATED,
                              ":::", *"abcdef")
        self.wait_started(run, 2)
        jobs_file.write_text("lots\n")
        self.wait_for(run, lambda: "'lots'" in run.stderr_text(), "a warning about 'lots'")
        warning = [line for line in run.stderr_text().splitlines() if "'lots'" in line][0]
        self.assertTrue(warning.startswith("taskpool: warning: "), warning)
        self.assertIn(str(jobs_file), warning)
        self.assertTrue(warning.endswith("; keeping 2 workers"), warning)
        time.sleep(0.6)  # more than two looks at the file
        self.assertEqual(len(started(self.tmp)), 2, "the pool changed on a file without a number")
        jobs_file.write_text("3\n")
        self.wait_started(run, 3)
        jobs_file.unlink()
        self.wait_for(run, lambda: "keeping 3 workers" in run.stderr_text(),
                      "a warning that the file is gone")
        self.assertRegex(run.stderr_text(),
                         r"taskpool: warning: .*" + re.escape(str(jobs_file)) +
                         r".*gone; keeping 3 workers")
        self.release()
        r = run.wait(PATIENCE)
        self.assertExit(r, 0)
        self.assertEqual(started(self.tmp), list("abcdef"))
        report = read_json(summary_json)
        self.assertEqual(worker_numbers(report), [3], report["worker_changes"])
        self.assertEqual(report["jobs"]["succeeded"], 6)

    def test_jobs_file_replaced_by_a_fifo_mid_run_warns_and_keeps_the_workers(self):
        """A -j file that becomes a FIFO (nobody writing to it) is not opened for a blocking
        read, which would stall the pool for ever: a warning, the workers stay as they were, and
        a regular file put back is read again."""
        jobs_file = self.write("workers", "2\n")
        run = self.background("-j", jobs_file, GATED, ":::", *"abcdef")
        self.wait_started(run, 2)
        fifo = self.path("workers.fifo")
        os.mkfifo(fifo)
        fifo.replace(jobs_file)
        self.wait_for(run, lambda: "FIFO" in run.stderr_text(), "a warning about the FIFO")
        self.assertIn(f"taskpool: warning: -j/--jobs: '{jobs_file}' is a FIFO, not a regular "
                      "file that holds a number of workers; keeping 2 workers",
                      run.stderr_text())
        time.sleep(0.6)  # more than two looks at the file
        self.assertEqual(len(started(self.tmp)), 2, "the pool changed on a FIFO")
        self.write("workers.new", "3\n").replace(jobs_file)
        self.wait_started(run, 3)
        self.release()
        r = run.wait(PATIENCE)
        self.assertExit(r, 0)
        self.assertEqual(started(self.tmp), list("abcdef"))

    def test_sigusr1_adds_workers(self):
        """Each SIGUSR1 sent to taskpool adds a worker: -j1 and three of them make 4."""
        summary_json = self.path("summary.json")
        records = [f"r{i:02}" for i in range(1, 11)]
        run = self.background("-j1", "--summary", "--summary-json", summary_json,
                              stamped("sleep 1"), ":::", *records)
        self.wait_stamped(run, "r01")
        first_signal = time.time()
        for _ in range(3):
            os.kill(run.pid, signal.SIGUSR1)  # taskpool only, not its jobs
            time.sleep(0.3)  # one at a time: signals sent together may arrive as one
        r = run.wait(60)
        self.assertExit(r, 0)
        jobs = stamps(self.tmp)
        self.assertEqual(sorted(jobs), records)
        self.assertEqual(most_at_once(jobs.values(), until=first_signal), 1,
                         f"more than 1 job at once before SIGUSR1: {sorted(jobs.items())}")
        self.assertGreaterEqual(most_at_once(jobs.values()), 3,
                                f"no 3 jobs at once after 3 SIGUSR1: {sorted(jobs.items())}")
        report = read_json(summary_json)
        self.assertEqual(worker_numbers(report), [2, 3, 4], report["worker_changes"])
        self.assertEqual(report["max_workers"], 4)
        self.assertRegex(r.err, r"workers\s+1 -> 2 -> 3 -> 4 \(3 changes, 4 at most\), ")

    def test_sigusr2_removes_workers_never_below_one_and_kills_no_job(self):
        """SIGUSR2 removes a worker: the jobs running go on to their end, and their slots are not
        refilled. More SIGUSR2 than workers leave 1."""
        summary_json = self.path("summary.json")
        long_jobs, short_jobs = ["L1", "L2", "L3"], [f"S{i}" for i in range(1, 7)]
        line = stamped("case {} in L*) sleep 2;; *) sleep 0.2;; esac") + "; echo {} {%}"
        run = self.background("-j3", "--summary-json", summary_json, line,
                              ":::", *long_jobs, *short_jobs)
        for record in long_jobs:
            self.wait_stamped(run, record)
        for _ in range(4):
            os.kill(run.pid, signal.SIGUSR2)
            time.sleep(0.2)
        r = run.wait(60)
        self.assertExit(r, 0)
        jobs = stamps(self.tmp)
        self.assertEqual(sorted(jobs), sorted(long_jobs + short_jobs),
                         "every job, the running ones too, ran to its end")
        short = [jobs[s] for s in short_jobs]
        self.assertEqual(most_at_once(short), 1,
                         f"jobs started after the shrink to 1 overlap: {sorted(jobs.items())}")
        last_long_end = max(jobs[s][1] for s in long_jobs)
        self.assertEqual(most_at_once(jobs.values(), since=last_long_end), 1)
        worker_of = dict(row.split() for row in r.out.splitlines())
        self.assertEqual(sorted(worker_of[s] for s in long_jobs), ["1", "2", "3"])
        self.assertEqual({worker_of[s] for s in short_jobs}, {"1"},
                         f"the highest-numbered workers retire first: {worker_of}")
        report = read_json(summary_json)
        self.assertEqual(worker_numbers(report), [2, 1], report["worker_changes"])
        self.assertEqual(report["max_workers"], 3)
        self.assertEqual((report["jobs"]["succeeded"], report["jobs"]["killed"]), (9, 0))

    def test_jobs_number_forms(self):
        """-j takes N, 0 (250), +N and -N (the CPUs plus or minus N) and N% of the CPUs (at least
        1), given directly or in a -j file."""
        forms = {"3": 3, "0": 250, "+1": CPUS + 1, "50%": max(1, CPUS * 50 // 100), "1%": 1}
        if CPUS > 1:
            forms["-1"] = CPUS - 1
        for form, workers in forms.items():
            for use_file in (False, True):
                with self.subTest(form=form, file=use_file):
                    value = str(self.write("jobs-file", form + "\n")) if use_file else form
                    summary_json = self.path("summary.json")
                    r = taskpool("-j", value, "--summary-json", summary_json, "true", ":::", "x")
                    self.assertExit(r, 0)
                    self.assertEqual(read_json(summary_json)["workers"], workers)

    @unittest.skipUnless(shutil.which("taskset"), "needs taskset (util-linux)")
    def test_cpus_are_those_it_may_run_on(self):
        """Under `taskset -c 0` there is one CPU to count, as for nproc and GNU parallel: the
        default is 1 worker, and +1 is 2."""
        for form, workers in ((None, 1), ("+1", 2), ("200%", 2)):
            with self.subTest(form=form):
                summary_json = self.path("summary.json")
                jobs = ["-j", form] if form else []
                r = run(["taskset", "-c", "0", TASKPOOL, *jobs, "--summary-json", summary_json,
                         "true", ":::", "x"])
                self.assertExit(r, 0)
                self.assertEqual(read_json(summary_json)["workers"], workers)


# ---------------------------------------------------------------------------------------------
# Ctrl-Z


class CtrlZTest(LiveCase):

    def start_in_terminal(self, *args) -> TerminalRun:
        run = TerminalRun(self.tmp, *args)
        self.addCleanup(run.kill)
        return run

    def states(self, pids):
        return {pid: _state(pid) for pid in pids}

    def suspend(self, run: TerminalRun, seconds: str) -> List[int]:
        """Types Ctrl-Z once the jobs sleeping `seconds` run; waits until they and taskpool are
        stopped. Returns the jobs' PIDs."""
        jobs = processes_with_arg(seconds)
        run.ctrl_z()
        stopped = lambda: all(_state(p) == "T" for p in [run.pid, *jobs])  # noqa: E731
        self.assertTrue(wait_until(stopped, PATIENCE),
                        f"after Ctrl-Z: states {self.states([run.pid, *jobs])} (taskpool "
                        f"{run.pid}), expected T; stderr: {run.stderr_text()!r}")
        return jobs

    def test_ctrl_z_stops_the_jobs_and_fg_resumes_them(self):
        """Ctrl-Z on the terminal stops the running jobs (state T) and taskpool itself; fg
        continues them all, and the run ends as it would have, with the suspended time in the
        summaries."""
        seconds = unique_seconds(3)
        self.cleanup_processes(seconds)
        summary_json = self.path("summary.json")
        run = self.start_in_terminal("-j2", "--summary", "--summary-json", summary_json,
                                     f"sleep {seconds}; echo done {{}}", ":::", "a", "b")
        self.assertTrue(wait_until(lambda: len(processes_with_arg(seconds)) == 2
                                   or not run.running(), PATIENCE),
                        f"the 2 jobs did not start; stderr: {run.stderr_text()!r}")
        jobs = self.suspend(run, seconds)
        suspended_at = time.monotonic()
        time.sleep(1.2)
        self.assertEqual(set(self.states([run.pid, *jobs]).values()), {"T"},
                         "something continued before fg")
        run.fg()
        resumed = lambda: all(_state(p) in ("S", "R", "D") for p in [run.pid, *jobs])  # noqa
        self.assertTrue(wait_until(resumed, PATIENCE),
                        f"after fg: states {self.states([run.pid, *jobs])} (taskpool {run.pid})")
        held = time.monotonic() - suspended_at
        r = run.wait(PATIENCE)
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.splitlines()), ["done a", "done b"])
        report = read_json(summary_json)
        self.assertEqual(report["jobs"]["succeeded"], 2)
        self.assertGreater(report["suspended_seconds"], 1.0)
        self.assertLess(report["suspended_seconds"], held + 1.0)
        self.assertRegex(r.err, r"(?m)^  suspended [0-9.]+ ?\w+ \(Ctrl-Z until fg; not counted "
                                r"by timeouts\)$")
        self.assertNoSurvivors(seconds, jobs)

    def test_suspended_time_does_not_count_toward_the_deadline(self):
        """Three jobs of about 0.6 s, one after the other, under --deadline 3s, with the run
        suspended for 2.5 s during the first: without the suspended time the deadline comes well
        after all three (under 2 s of running), with it the third could not finish in time."""
        seconds = f"0.6{random.randrange(10**4, 10**5)}"
        self.cleanup_processes(seconds)
        summary_json = self.path("summary.json")
        run = self.start_in_terminal("-j1", "--deadline", "3s", "--summary-json", summary_json,
                                     f"sleep {seconds}; echo done {{}}", ":::", "a", "b", "c")
        self.assertTrue(wait_until(lambda: processes_with_arg(seconds) or not run.running(),
                                   PATIENCE),
                        f"the first job did not start; stderr: {run.stderr_text()!r}")
        typed = time.monotonic()
        jobs = self.suspend(run, seconds)
        time.sleep(max(0.0, 2.5 - (time.monotonic() - typed)))
        run.fg()
        r = run.wait(PATIENCE)
        self.assertExit(r, 0, "the deadline counted the suspended time")
        self.assertEqual(r.out.splitlines(), ["done a", "done b", "done c"])
        report = read_json(summary_json)
        self.assertIsNone(report["stopped"])
        self.assertEqual(report["jobs"]["succeeded"], 3)
        self.assertGreater(report["suspended_seconds"], 2.0)
        self.assertNoSurvivors(seconds, jobs)

    def test_suspended_time_does_not_count_toward_the_timeout(self):
        """A job of two 1 s sleeps under --timeout 2.5s, suspended for 2.5 s during the first: it
        runs about 1.3 s, but ends some 3.8 s after it started, which the timeout must not
        count. (A stopped sleep whose time ran out ends at once when continued.)"""
        seconds = f"1.0{random.randrange(10**4, 10**5)}"
        self.cleanup_processes(seconds)
        summary_json = self.path("summary.json")
        run = self.start_in_terminal("-j1", "--timeout", "2.5s", "--summary-json", summary_json,
                                     f"sleep {seconds}; sleep {seconds}; echo done {{}}",
                                     ":::", "a")
        self.assertTrue(wait_until(lambda: processes_with_arg(seconds) or not run.running(),
                                   PATIENCE),
                        f"the job did not start; stderr: {run.stderr_text()!r}")
        typed = time.monotonic()
        jobs = self.suspend(run, seconds)
        time.sleep(max(0.0, 2.5 - (time.monotonic() - typed)))
        run.fg()
        r = run.wait(PATIENCE)
        self.assertExit(r, 0, "the timeout counted the suspended time")
        self.assertEqual(r.out, "done a\n")
        report = read_json(summary_json)
        self.assertEqual((report["jobs"]["succeeded"], report["timed_out_attempts"]), (1, 0))
        self.assertGreater(report["suspended_seconds"], 2.0)
        self.assertNoSurvivors(seconds, jobs)


# ---------------------------------------------------------------------------------------------
# --control and taskpool ctl


class Connection:
    """A connection to a --control socket."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(PATIENCE)
        self.sock.connect(os.fspath(path))
        self.pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> str:
        """The next answer line, without its newline ('' when the connection was closed)."""
        while b"\n" not in self.pending:
            chunk = self.sock.recv(4096)
            if not chunk:
                rest, self.pending = self.pending, b""
                return rest.decode("utf-8", "replace")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def ask(self, command: str) -> str:
        self.send(command.encode() + b"\n")
        return self.line()

    def closed(self) -> bool:
        """True when the other end has closed the connection (after any answer). A peer that
        closes with our bytes unread resets the connection: closed too."""
        try:
            return self.sock.recv(4096) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


class ControlTest(LiveCase):

    def start_controlled(self, *args, workers: str = "2", records=tuple("abcdef")):
        """A gated run with --control on self.sock; waits until the socket listens."""
        self.sock = self.path("ctl.sock")
        self.summary_json = self.path("summary.json")
        run = self.background(f"-j{workers}", "--control", self.sock, "--summary-json",
                              self.summary_json, *args, GATED, ":::", *records)
        self.wait_for(run, lambda: self.sock.exists(), "the control socket exists")
        return run

    def connect(self) -> Connection:
        c = Connection(self.sock)
        self.addCleanup(c.close)
        return c

    def status(self) -> dict:
        c = self.connect()
        answer = c.ask("status")
        c.close()
        return json.loads(answer)

    def wait_status(self, run, key: str, value) -> dict:
        self.wait_for(run, lambda: self.status()[key] == value, f"status {key} {value}")
        return self.status()

    def finish(self, run, code: int = 0) -> Result:
        self.release()
        r = run.wait(PATIENCE)
        self.assertExit(r, code)
        self.assertFalse(self.sock.exists() or self.sock.is_symlink(),
                         "the control socket is left after the run")
        return r

    def test_socket_is_private_and_removed_at_exit(self):
        """The control socket is a socket of mode 0600; it is gone once the run has ended."""
        run = self.start_controlled()
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode), oct(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o600, oct(st.st_mode))
        self.finish(run)

    def test_status_answers_one_line_of_json(self):
        """status: the workers, the jobs running, queued and waiting for a retry, whether the run
        is paused, and the jobs done."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        status = self.wait_status(run, "queued", 4)
        self.assertEqual(status, {"workers": 2, "running": 2, "queued": 4, "retrying": 0,
                                  "paused": False,
                                  "jobs": {"done": 0, "succeeded": 0, "failed": 0}})
        self.finish(run)

    def test_pause_stops_new_starts_and_resume_goes_on(self):
        """pause: no job starts, the running ones go on to their end; resume: jobs start again."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        c = self.connect()
        self.assertEqual(c.ask("pause"), "ok paused")
        self.release()  # the 2 running jobs end
        status = self.wait_status(run, "running", 0)
        self.assertEqual((status["paused"], status["queued"], status["jobs"]["succeeded"]),
                         (True, 4, 2), status)
        time.sleep(1.0)
        self.assertEqual(started(self.tmp), ["a", "b"], "a job started while paused")
        self.assertEqual(self.status()["running"], 0)
        self.assertEqual(c.ask("resume"), "ok resumed")
        self.finish(run)
        self.assertEqual(started(self.tmp), list("abcdef"))
        self.assertEqual(read_json(self.summary_json)["jobs"]["succeeded"], 6)

    def test_jobs_command_resizes_the_pool(self):
        """jobs N sets the number of workers (in any -j form); status shows it, and as many
        jobs run at once. A shrink ends no running job."""
        run = self.start_controlled(workers="1")
        self.wait_started(run, 1)
        self.assertEqual(self.status()["workers"], 1)
        c = self.connect()
        self.assertEqual(c.ask("jobs 3"), "ok jobs 3")
        self.wait_started(run, 3)
        status = self.wait_status(run, "running", 3)
        self.assertEqual(status["workers"], 3)
        self.assertEqual(c.ask("jobs +1"), f"ok jobs {CPUS + 1}")
        self.assertEqual(self.status()["workers"], CPUS + 1)
        self.assertEqual(c.ask("jobs 1"), "ok jobs 1")
        status = self.status()
        self.assertEqual((status["workers"], status["running"]), (1, 3),
                         "the shrink ended running jobs")
        self.finish(run)
        report = read_json(self.summary_json)
        expected = [3] + ([CPUS + 1] if CPUS + 1 != 3 else []) + [1]
        self.assertEqual(worker_numbers(report), expected, report["worker_changes"])
        self.assertEqual(report["jobs"]["succeeded"], 6)

    def test_malformed_commands_get_error_lines_and_the_run_goes_on(self):
        """Every command that is not one gets one line starting 'error: ', on the same connection;
        a line longer than 1024 bytes gets one and the connection is closed. The run goes on."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        c = self.connect()
        for command in ["x", "", "pause now", "resume 1", "status please", "jobs", "jobs x",
                        "jobs 2 3", "jobs -999", "jobs 0%", "PAUSE", "\x00\x01\xff garbage"]:
            with self.subTest(command=command):
                c.send(command.encode("latin-1") + b"\n")
                answer = c.line()
                self.assertTrue(answer.startswith("error: "), repr(answer))
        self.assertEqual(c.ask("x"),
                         "error: unknown command 'x' (pause, resume, jobs N, status)")
        self.assertEqual(json.loads(c.ask("status"))["paused"], False,
                         "a malformed command changed the run")
        self.assertEqual(c.ask("status\r")[:1], "{", "a line ending in CR LF")
        c.send(b"a" * 4096)
        self.assertTrue(c.line().startswith("error: "), "no error for an overlong line")
        self.assertTrue(c.closed(), "the connection stays open after an overlong line")
        c.close()
        self.assertEqual(self.status()["workers"], 2)
        self.finish(run)
        self.assertEqual(started(self.tmp), list("abcdef"))

    def test_several_commands_on_one_connection(self):
        """Commands sent together on one connection get one answer line each, in order."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        c = self.connect()
        c.send(b"pause\nstatus\nresume\nbogus\nstatus\n")
        answers = [c.line() for _ in range(5)]
        self.assertEqual(answers[0], "ok paused")
        self.assertTrue(json.loads(answers[1])["paused"])
        self.assertEqual(answers[2], "ok resumed")
        self.assertTrue(answers[3].startswith("error: unknown command 'bogus'"), answers[3])
        self.assertFalse(json.loads(answers[4])["paused"])
        self.finish(run)

    def test_taskpool_ctl(self):
        """taskpool ctl SOCKET COMMAND... sends the words as one command: the answer on stdout and
        exit 0, or an error answer on stderr and exit 1; no run to connect to is exit 1, missing
        arguments exit 255."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        r = taskpool("ctl", self.sock, "status")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["workers"], 2)
        self.assertEqual(r.err, "")
        r = taskpool("ctl", self.sock, "jobs", "3")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "ok jobs 3\n")
        r = taskpool("ctl", self.sock, "pause", "now")
        self.assertExit(r, 1)
        self.assertEqual(r.out, "")
        self.assertTrue(r.err.startswith("error: pause"), r.err)
        r = taskpool("ctl", self.sock, "frobnicate")
        self.assertExit(r, 1)
        self.assertIn("unknown command 'frobnicate'", r.err)
        for args in (["ctl"], ["ctl", self.sock]):
            with self.subTest(args=args):
                r = taskpool(*args)
                self.assertExit(r, 255)
                self.assertIn("usage", r.err)
        self.wait_started(run, 3)
        self.finish(run)
        r = taskpool("ctl", self.sock, "status")
        self.assertExit(r, 1, "ctl after the run ended")
        self.assertIn(str(self.sock), r.err)
        self.assertEqual(r.out, "")

    def test_idle_connections_keep_no_command_waiting(self):
        """20 connections held open without a word (more than the run holds at once, and than
        its listen backlog took): `taskpool ctl status` still answers at once; the connection
        idle the longest is closed to make room, with a line saying why."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        idle = [self.connect() for _ in range(20)]
        start = time.monotonic()
        r = taskpool("ctl", self.sock, "status", timeout=PATIENCE)
        self.assertLess(time.monotonic() - start, 4, "ctl waited behind idle connections")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["workers"], 2)
        self.assertEqual(idle[0].line(), "error: closed: 16 connections at once, and this one "
                         "was idle the longest")
        self.assertTrue(idle[0].closed())
        # The newest of the idle ones is still served.
        self.assertTrue(json.loads(idle[-1].ask("status"))["workers"] == 2)
        self.finish(run)

    def test_ctl_gives_up_on_a_socket_that_takes_no_connection_or_gives_no_answer(self):
        """A socket whose backlog is full (a run that does not accept), and one that accepts
        and never answers: `taskpool ctl` fails with a clear error after a few seconds."""
        sock = self.path("deaf.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(server.close)
        server.bind(os.fspath(sock))
        server.listen(0)
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(filler.close)
        filler.connect(os.fspath(sock))  # the one connection a backlog of 0 holds
        start = time.monotonic()
        r = taskpool("ctl", sock, "status", timeout=PATIENCE)
        self.assertLess(time.monotonic() - start, 15)
        self.assertExit(r, 1)
        self.assertIn(f"taskpool ctl: '{sock}' did not take the connection within 5 s", r.err)
        server.accept()[0].close()  # the filler's; then ctl's connection is taken, unanswered
        start = time.monotonic()
        r = taskpool("ctl", sock, "status", timeout=PATIENCE)
        self.assertLess(time.monotonic() - start, 15)
        self.assertExit(r, 1)
        self.assertIn(f"taskpool ctl: no answer from '{sock}' within 8 s", r.err)

    def test_second_run_on_a_live_socket_is_refused(self):
        """A second run with --control on the socket a run listens on: exit 255; the first run
        keeps its socket."""
        run = self.start_controlled()
        self.wait_started(run, 2)
        r = taskpool("--control", self.sock, "echo", ":::", "x")
        self.assertExit(r, 255)
        self.assertIn("another run is listening", r.err)
        self.assertEqual(r.out, "")
        self.assertEqual(self.status()["workers"], 2, "the first run's socket no longer answers")
        self.finish(run)

    def test_stale_socket_is_replaced(self):
        """A socket file nobody listens on (left by a run that was killed) is replaced."""
        sock = self.path("ctl.sock")
        left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        left.bind(os.fspath(sock))
        left.close()
        self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode))
        r = taskpool("--control", sock, "echo", ":::", "x")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "x\n")
        self.assertFalse(sock.exists())

    def test_existing_file_that_is_no_socket_is_left_alone(self):
        """--control on a file that is not a socket: exit 255, and the file is untouched."""
        path = self.write("precious", "keep me\n")
        r = taskpool("--control", path, "echo", ":::", "x")
        self.assertExit(r, 255)
        self.assertIn("--control", r.err)
        self.assertIn("not a socket", r.err)
        self.assertEqual(r.out, "")
        self.assertEqual(path.read_text(), "keep me\n")


# ---------------------------------------------------------------------------------------------
# --priority-col


class PriorityTest(LiveCase):

    def run_ordered(self, records, *options) -> Result:
        """Runs the records (from a file, columns split at ',') at -j1 with priorities in column 2;
        the job for 'gate' takes 0.5 s, so that all the others are read while it runs; every
        job prints column 1."""
        records_file = self.write("records", "".join(f"{r}\n" for r in records))
        line = "case {1} in gate) sleep 0.5;; *) sleep 0.05;; esac; echo {1}"
        return taskpool("-j1", "--colsep", ",", "--priority-col", "2", *options, "-a",
                        records_file, line, cwd=self.tmp)

    def test_higher_numbers_start_first_and_ties_keep_input_order(self):
        """Among the waiting jobs the highest number starts first; equal numbers in input order; a
        missing or empty column is 0; numbers may be negative or fractional and have blanks."""
        r = self.run_ordered(["gate,1000", "a,1", "b,5", "c,3", "d,5", "e,-2", "f,", "g",
                              "h,2.5", "i, 7 ", "j,+4", "k,0"])
        self.assertExit(r, 0)
        self.assertEqual(r.out.split(), ["gate", "i", "b", "d", "j", "c", "h", "a", "f", "g",
                                         "k", "e"])

    def test_queue_size_is_the_window_ordered(self):
        """With --queue-size 2 only 2 waiting records are compared: ascending numbers then run in
        input order but for the first, which a higher one passes each time."""
        records = ["gate,100"] + [f"r{i},{i}" for i in range(1, 9)]
        r = self.run_ordered(records, "--queue-size", "2")
        self.assertExit(r, 0)
        self.assertEqual(r.out.split(), ["gate", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r1"])
        r = self.run_ordered(records)
        self.assertExit(r, 0)
        self.assertEqual(r.out.split(), ["gate", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"])

    def test_priority_from_a_list_column(self):
        """With ::: lists each list is a column, and the priority can come from one."""
        r = taskpool("-j1", "--priority-col", "2",
                     "case {1}{2} in gate9) sleep 0.5;; esac; echo {1} {2}",
                     ":::", "gate", "x", ":::", "9", "1", "5", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.out.splitlines(),
                         ["gate 9", "x 9", "gate 5", "x 5", "gate 1", "x 1"])

    def test_a_column_that_is_no_number_stops_the_input(self):
        """A record whose column is not a number ends the input: the records before it run, then
        taskpool exits 255 naming the record and the column."""
        records_file = self.write("records", "a,1\nb,2\nc,x\nd,3\n")
        r = taskpool("-j1", "--colsep", ",", "--priority-col", "2", "-a", records_file,
                     "echo", "{1}", cwd=self.tmp)
        self.assertExit(r, 255)
        self.assertEqual(sorted(r.out.split()), ["a", "b"])
        self.assertIn("record 3: column 2 is 'x', not a number (--priority-col)", r.err)


# ---------------------------------------------------------------------------------------------
# --feedback and --max-records

# Directory names that a shell would take apart if they were not quoted.
AWKWARD_NAMES = ["plain", "with space", "quote's", 'double"quote', "-dash", "ünïcødé ☃",
                 "$(touch pwned)", "star*?[x]", "back\\slash", "semi;colon&amp", "`touch pwned`"]


class FeedbackTest(LiveCase):

    def make_tree(self, root: Path, depth: int, width: int) -> None:
        for i in range(width):
            name = AWKWARD_NAMES[(i + depth * 3) % len(AWKWARD_NAMES)]
            child = root / name
            child.mkdir(parents=True)
            if depth > 1:
                self.make_tree(child, depth - 1, width)

    def test_directory_walk_equals_find(self):
        """Each job lists its directory's subdirectories on fd 3 and prints its own name: the
        output is every directory of the tree, as `find -type d` lists them."""
        root = self.tmp / "tree"
        self.make_tree(root, 3, 6)  # 6 + 36 + 216 directories
        r = taskpool("-j4", "--feedback",
                     'find {} -mindepth 1 -maxdepth 1 -type d >&3; printf "%s\\n" {}',
                     ":::", root, cwd=self.tmp, timeout=60)
        self.assertExit(r, 0)
        expected = subprocess.run(["find", os.fspath(root), "-type", "d"], capture_output=True,
                                  check=True).stdout
        self.assertEqual(len(expected.splitlines()), 259)
        self.assertEqual(sorted(r.stdout.splitlines()), sorted(expected.splitlines()))
        self.assertNoPwned()

    def test_fan_out_wider_than_the_queue_completes(self):
        """One job feeds 400 records (80 kB, more than a pipe holds) with --queue-size 10 at -j2:
        its writes wait while the queue is full, and every fed record runs."""
        summary_json = self.path("summary.json")
        r = taskpool("-j2", "--queue-size", "10", "--feedback", "--summary-json", summary_json,
                     'if [ {} = seed ]; then i=0; while [ $i -lt 400 ]; do i=$((i+1)); '
                     'printf "%0200d\\n" $i; done >&3; fi; echo {}',
                     ":::", "seed", cwd=self.tmp, timeout=60)
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split()),
                         sorted(["seed"] + [f"{i:0200d}" for i in range(1, 401)]))
        report = read_json(summary_json)
        self.assertEqual((report["jobs"]["total"], report["jobs"]["succeeded"], report["fed"]),
                         (401, 401, 400))

    def test_every_running_job_blocked_on_its_pipe_is_no_deadlock(self):
        """Two jobs each feed 84 kB at -j2 with --queue-size 10: both writers wait on full pipes
        with the queue full and no worker free, so taskpool must read them anyway."""
        r = taskpool("-j2", "--queue-size", "10", "--feedback",
                     'case {} in a|b) i=0; while [ $i -lt 120 ]; do i=$((i+1)); '
                     'printf "%s%0699d\\n" {} $i; done >&3;; esac; echo {}',
                     ":::", "a", "b", cwd=self.tmp, timeout=60)
        self.assertExit(r, 0)
        expected = ["a", "b"] + [f"{s}{i:0699d}" for s in "ab" for i in range(1, 121)]
        self.assertEqual(sorted(r.out.split()), sorted(expected))

    def test_max_records_stops_a_runaway_feedback(self):
        """A job that feeds its own record back runs forever but for --max-records: 50 records in
        all run, then taskpool says so and exits non-zero."""
        summary_json = self.path("summary.json")
        r = taskpool("--max-records", "50", "--feedback", "--summary-json", summary_json,
                     "echo {} >&3; echo {}", ":::", "x", cwd=self.tmp, timeout=60)
        self.assertNotIn(r.code, (0, 255), r.err)
        self.assertEqual(r.out, "x\n" * 50)
        self.assertRegex(r.err, r"taskpool: --max-records 50 reached: stopped taking records; "
                                r"\d+ more were not run")
        report = read_json(summary_json)
        self.assertEqual(report["stopped"], "max_records")
        self.assertEqual(report["jobs"]["succeeded"], 50)

    def test_max_records_counts_records_read(self):
        """--max-records bounds records read as well: 3 of 5 run."""
        r = taskpool("-j1", "--max-records", "3", "echo", ":::", *"abcde", cwd=self.tmp)
        self.assertNotIn(r.code, (0, 255), r.err)
        self.assertEqual(r.out, "a\nb\nc\n")
        self.assertIn("--max-records 3 reached", r.err)

    def test_fed_records_are_split_with_colsep(self):
        """With --colsep a fed line is split into columns as a read one is."""
        r = taskpool("--colsep", ",", "--feedback",
                     'case {1} in seed) printf "a,b\\n" >&3;; *) printf "%s|%s\\n" {1} {2};; esac',
                     ":::", "seed", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "a|b\n")

    def test_null_delimited_feedback(self):
        """With -0 the records fed back end at NUL, and may hold newlines."""
        r = taskpool("-0", "--feedback",
                     'case {} in seed) printf "x y\\0z\\nw\\0" >&3;; *) printf "<%s>\\n" {};; '
                     'esac', input=b"seed\0", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split(">\n")), ["", "<x y", "<z\nw"])

    def test_a_last_record_without_newline_is_fed(self):
        """What a job left in its pipe without a final newline is a record too."""
        r = taskpool("--feedback", 'case {} in seed) printf "last" >&3;; *) echo got {};; esac',
                     ":::", "seed", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "got last\n")


# ---------------------------------------------------------------------------------------------
# Usage errors


class UsageTest(LiveCase):

    def check(self, args, flag: str, message: Optional[str] = None):
        with self.subTest(args=args):
            r = taskpool(*args, cwd=self.tmp)
            self.assertExit(r, 255)
            self.assertIn(flag, r.err)
            if message:
                self.assertIn(message, r.err)
            self.assertEqual(r.out, "")

    def test_jobs_values_that_leave_no_worker(self):
        for value in ["-999", "0%", f"-{CPUS}"]:
            self.check(["-j", value, "echo", ":::", "x"], "-j/--jobs", "leaves no worker")

    def test_jobs_file_with_bad_content_at_start(self):
        bad = self.write("workers", "lots\n")
        self.check(["-j", bad, "echo", ":::", "x"], "-j/--jobs", str(bad))
        empty = self.write("empty", "")
        self.check(["-j", empty, "echo", ":::", "x"], "-j/--jobs", str(empty))
        none = self.write("none", "0%\n")
        self.check(["-j", none, "echo", ":::", "x"], "-j/--jobs")
        self.check(["-j", "no-such-file", "echo", ":::", "x"], "-j/--jobs", "no-such-file")

    def test_jobs_file_that_cannot_be_read_at_start(self):
        """A -j "file" that exists but cannot be read (here a directory) is refused as bad
        content is: exit 255 with a message naming it, not a crash."""
        directory = self.tmp / "a-directory"
        directory.mkdir()
        r = taskpool("-j", directory, "echo", ":::", "x", cwd=self.tmp)
        self.assertNotIn("terminate called", r.err)
        self.assertExit(r, 255)
        self.assertIn("-j/--jobs", r.err)
        self.assertIn(str(directory), r.err)

    def test_jobs_file_that_is_a_fifo_at_start(self):
        """A -j FIFO nobody writes to is refused at once (it was opened for a blocking read that
        never ended, deaf to Ctrl-C); so is a device."""
        fifo = self.tmp / "workers"
        os.mkfifo(fifo)
        r = taskpool("-j", fifo, "echo", ":::", "x", cwd=self.tmp, timeout=PATIENCE)
        self.assertExit(r, 255)
        self.assertIn(f"-j/--jobs: '{fifo}' is a FIFO, not a regular file", r.err)
        self.assertEqual(r.out, "")
        self.check(["-j", "/dev/zero", "echo", ":::", "x"], "-j/--jobs",
                   "'/dev/zero' is a character device")

    def test_priority_col_with_several_records_per_job(self):
        for grouping in (["-n", "2"], ["-N", "2"], ["-L", "1"], ["-X"], ["-m"]):
            self.check(["--priority-col", "1", *grouping, "echo", ":::", "1", "2"],
                       "--priority-col")

    def test_bad_numbers(self):
        for args, flag in [(["--priority-col", "0"], "--priority-col"),
                           (["--priority-col", "x"], "--priority-col"),
                           (["--queue-size", "0"], "--queue-size"),
                           (["--queue-size", "x"], "--queue-size"),
                           (["--max-records", "0"], "--max-records"),
                           (["--max-records", "-3"], "--max-records"),
                           (["--control", ""], "--control")]:
            self.check([*args, "echo", ":::", "x"], flag)

    def test_feedback_with_options_it_excludes(self):
        joblog = self.write("joblog", "")
        for other in (["--fetch"], ["-S", "somehost"], ["--compare"], ["-n", "2"], ["-N", "2"],
                      ["-X"], ["-m"], ["--joblog", joblog, "--resume"],
                      ["--joblog", joblog, "--resume-failed"]):
            self.check(["--feedback", *other, "echo", ":::", "x"], "--feedback")


if __name__ == "__main__":
    unittest.main()
