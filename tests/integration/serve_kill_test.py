"""kill -9 of taskpool serve under load: every job answered 202 runs to completion once, or is
reported interrupted (its group's default policy runs it again); no job answered 429 ever runs;
and no process of the dead daemon's jobs outlives it (the guardian ends them). A few kills by
default; many with TASKPOOL_STRESS_LONG=1.

A job's start is committed before its process starts: a job never interrupted started and ended
exactly once, and one interrupted N times started at most N + 1 times."""

import http.client
import json
import os
import random
import signal
import threading
import time
import unittest
from collections import Counter

from process_support import processes_with_arg, wait_until
from serve_test import Daemon, ServeTestCase

KILLS = 25 if os.environ.get("TASKPOOL_STRESS_LONG") == "1" else 3


class Submitter(threading.Thread):
    """Submits batches of unique records as fast as the daemon takes them, noting which were
    accepted (202: token -> id), refused (429) or unknown (the daemon died before answering)."""

    def __init__(self, command):
        super().__init__(daemon=True)
        self.command = command
        self.port = None
        self.accepted, self.refused, self.unknown = {}, set(), set()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            port = self.port
            tokens = [f"t{self.count + i}" for i in range(5)]
            self.count += len(tokens)
            body = json.dumps({"records": tokens, "command": self.command})
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("POST", "/v1/jobs", body=body,
                                   headers={"Idempotency-Key": tokens[0]})
                response = connection.getresponse()
                data = response.read()
                connection.close()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unknown.update(tokens)
                time.sleep(0.05)
                continue
            with self.lock:
                if response.status == 202:
                    self.accepted.update(zip(tokens, json.loads(data)["ids"]))
                elif response.status == 429:
                    self.refused.update(tokens)
                    time.sleep(0.02)
                else:
                    self.unknown.update(tokens)


class ServeKillTest(ServeTestCase):
    def test_kill_9_under_load_loses_no_accepted_job_and_leaves_no_process(self):
        marker = f"0.2{random.randrange(10**5, 10**6)}"
        log = self.path("log")
        self.cleanup_processes(marker)
        command = (f"sh -c 'echo start $1 >> {log}; sleep {marker}; echo end $1 >> {log}' "
                   f"{marker} {{}}")
        state = self.path("state")
        d = Daemon(self, "-j", "4", "--queue-size", "40", state=state)
        submitter = Submitter(command)
        submitter.port = d.port
        submitter.start()
        self.addCleanup(submitter.stop.set)
        for _ in range(KILLS):
            time.sleep(random.uniform(0.3, 1.5))
            os.kill(d.proc.pid, signal.SIGKILL)  # the daemon alone: its guardian lives on
            d.proc.wait(30)
            self.assertTrue(wait_until(lambda: not processes_with_arg(marker), 60),
                            "jobs of the killed daemon still run")
            d = Daemon(self, "-j", "4", "--queue-size", "40", state=state)
            submitter.port = d.port
        # However slow the machine, the last daemon takes submits, and the queue fills.
        self.assertTrue(wait_until(lambda: submitter.accepted and submitter.refused, 120),
                        "no submit was accepted, or the queue never filled")
        submitter.stop.set()
        submitter.join(20)
        self.assertEqual(d.request("POST", "/v1/drain")[0], 202)
        self.assertEqual(d.proc.wait(120).code, 0)
        again = Daemon(self, state=state)
        ends = Counter(line.split()[1] for line in log.read_text().splitlines()
                       if line.startswith("end "))
        starts = Counter(line.split()[1] for line in log.read_text().splitlines()
                         if line.startswith("start "))
        for token, id_ in submitter.accepted.items():
            job = again.job(id_)
            self.assertLessEqual(starts[token], job["interruptions"] + 1, f"{token}: {job}")
            if job["interruptions"] == 0:
                self.assertEqual((job["state"], starts[token], ends[token]), ("succeeded", 1, 1),
                                 f"{token}: {job}")
            elif job["state"] == "succeeded":
                self.assertGreaterEqual(ends[token], 1, f"{token}: {job}")
            else:
                self.assertEqual(job["state"], "failed", f"{token}: {job}")
                self.assertIn("interrupt", job["reason"])
        for token in submitter.refused:
            self.assertEqual(starts[token], 0, f"{token} got 429 but ran")


class JobKillsItsDaemonTest(ServeTestCase):
    def test_a_daemon_killed_by_a_job_as_its_turn_starts_finds_the_started_jobs_interrupted(self):
        """The first of a turn's 40 jobs to run kills its daemon with SIGKILL, while the daemon
        may still be starting the others. Their starts were committed before any of them ran,
        so the next daemon finds each either ended or interrupted: failed under on_interrupt
        fail, run again under requeue; none queued as if it had never run."""
        jobs, log = 40, self.path("log")
        d = Daemon(self, "-j", str(jobs), state=self.path("state"))
        d.json("POST", "/v1/groups/once", {"on_interrupt": "fail"})
        self.assertEqual(d.request("POST", "/v1/pause")[0], 200)
        marker = self.path("killed")
        command = (f"echo {{}} >> {log}; set -C; "
                   f"if {{ true > {marker}; }} 2>/dev/null; then kill -9 {d.proc.pid}; fi")
        ids = {}
        for group in ("default", "once"):
            records = [f"{group}-{i}" for i in range(jobs // 2)]
            body = {"records": records, "group": group, "command": command}
            ids.update(zip(records, d.submit(body)))
        try:
            d.request("POST", "/v1/resume")
        except (OSError, http.client.HTTPException):
            pass  # the kill may cut its answer off
        d.proc.wait(30)
        self.assertTrue(marker.exists())
        self.assertTrue(wait_until(lambda: not processes_with_arg(str(marker)), 30),
                        "jobs of the killed daemon still run")
        d = Daemon(self, "-j", str(jobs), state=d.state)
        runs = Counter()
        for record, id_ in ids.items():
            job = d.wait_for(id_)
            runs = Counter(log.read_text().split())
            self.assertLessEqual(runs[record], job["interruptions"] + 1, f"{record}: {job}")
            if job["interruptions"] == 0:
                self.assertEqual((job["state"], runs[record]), ("succeeded", 1), f"{record}: {job}")
            elif record.startswith("once"):
                self.assertEqual((job["state"], job["interruptions"]), ("failed", 1), job)
                self.assertIn("interrupt", job["reason"])
            else:
                self.assertEqual((job["state"], job["interruptions"]), ("succeeded", 1), job)
        interrupted = [r for r, id_ in ids.items() if d.job(id_)["interruptions"] == 1]
        self.assertTrue(interrupted, "the job that killed its daemon is not interrupted")

if __name__ == "__main__":
    unittest.main()
