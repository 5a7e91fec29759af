"""--timeout N%, --load and --memfree: the timeout against GNU parallel's on the same jobs; the
start gate and the kill of the youngest job with the machine's readings taken from files the
test writes ($TASKPOOL_PROC_DIR: a stat with procs_running and procs_blocked, a meminfo with
MemAvailable), so that nothing depends on this machine's real load."""

import os
import subprocess
import time
import unittest

from helpers import TASKPOOL, kill_group, requires_gnu_parallel, test_env
from xargs_habits_test import XargsHabitsCase

PLENTY_KB = 64 * 1024 * 1024  # 64 GiB


def wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class GateTest(XargsHabitsCase):
    """The start gate, with readings the test controls."""

    def setUp(self):
        super().setUp()
        self.proc = self.tmp / "proc"
        self.proc.mkdir()
        self.set_load(0)
        self.set_memory(PLENTY_KB)

    def replace(self, name: str, text: str) -> None:
        # Whole or not at all: taskpool may read the file at any moment.
        part = self.proc / (name + ".part")
        part.write_text(text)
        os.replace(part, self.proc / name)

    def set_load(self, processes: int) -> None:
        # The reading thread is one of procs_running: taskpool leaves it out.
        self.replace("stat", f"cpu  1 2 3 4\nprocs_running {processes + 1}\nprocs_blocked 0\n")

    def set_memory(self, kilobytes: int) -> None:
        self.replace("meminfo", f"MemTotal: {PLENTY_KB} kB\nMemFree: 1 kB\n"
                                f"MemAvailable: {kilobytes} kB\nCached: 5 kB\n")

    def start(self, *args) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(TASKPOOL), *args], cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True,
            env=test_env({"TASKPOOL_PROC_DIR": str(self.proc)}))
        self.addCleanup(kill_group, proc)
        return proc

    def finish(self, proc: subprocess.Popen):
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out.decode(), err.decode()

    def started(self) -> list:
        return sorted(p.name for p in self.tmp.glob("started.*"))

    def test_load_holds_jobs_back_until_it_falls(self):
        self.set_load(8)
        proc = self.start("--load", "2", "-j2", "touch started.{}; echo {}", ":::", "a", "b")
        time.sleep(2.5)  # two readings at least, with the load at 8
        self.assertEqual(self.started(), [], "a job started while the load was 8, over --load 2")
        self.assertIsNone(proc.poll())
        self.set_load(0)
        code, out, err = self.finish(proc)
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(out.split()), ["a", "b"])

    def test_load_percent_is_of_the_cpus(self):
        # 100% of the CPUs: a load of as many processes as CPUs holds the jobs back.
        cpus = len(os.sched_getaffinity(0))
        self.set_load(cpus)
        proc = self.start("--load", "100%", "touch started.{}", ":::", "a")
        time.sleep(1.5)
        self.assertEqual(self.started(), [])
        self.set_load(cpus - 1)
        self.assertEqual(self.finish(proc)[0], 0)
        self.assertEqual(self.started(), ["started.a"])

    def test_memfree_holds_jobs_back_while_memory_is_short(self):
        self.set_memory(700)  # under 1M, over half of it: held back, nothing killed
        proc = self.start("--memfree", "1M", "touch started.{}", ":::", "a", "b")
        time.sleep(2.5)
        self.assertEqual(self.started(), [])
        self.set_memory(PLENTY_KB)
        code, _, err = self.finish(proc)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.started(), ["started.a", "started.b"])

    def test_memfree_ends_the_youngest_job_first_below_half(self):
        proc = self.start("-j2", "--memfree", "1M", "touch started.{}; exec sleep 30",
                          ":::", "1", "2")
        self.assertTrue(wait_for(lambda: len(self.started()) == 2, 30), "the jobs never started")
        self.set_memory(100)  # below half of 1M: the youngest goes, then the next
        begin = time.monotonic()
        code, _, err = self.finish(proc)
        self.assertLess(time.monotonic() - begin, 20, "the jobs were not ended")
        self.assertEqual(code, 2, err)
        second = err.index("job 2 failed (killed by signal 15: less than half of --memfree")
        first = err.index("job 1 failed (killed by signal 15: less than half of --memfree")
        self.assertLess(second, first, "job 1 ended before job 2, the youngest")

    def test_an_unreadable_reading_is_an_error_naming_the_file(self):
        (self.proc / "stat").unlink()
        proc = self.start("--load", "2", "true", ":::", "a")
        code, _, err = self.finish(proc)
        self.assertEqual(code, 255)
        self.assertIn("--load: cannot read", err)
        self.assertIn(str(self.proc / "stat"), err)

    def test_bad_values_are_refused(self):
        for args, words in [(["--load", "x"], "--load: 'x'"), (["--load", "1.5%"], "--load"),
                            (["--memfree", "lots"], "--memfree: 'lots'"),
                            (["--timeout", "0%"], "--timeout: '0%'"),
                            (["--load", "2", "-S", "host"], "not with -S")]:
            r = self.tp(*args, "true", ":::", "a")
            self.assertEqual(r.code, 255, args)
            self.assertIn(words, r.err, args)


@requires_gnu_parallel
class TimeoutPercentTest(XargsHabitsCase):
    """--timeout N% as GNU parallel's: N% of the median runtime of the jobs that succeeded."""

    def test_a_job_far_past_the_median_is_killed(self):
        r = self.same("-j1", "-k", "--timeout", "300%", "sleep {}; echo {}", ":::",
                      "0.2", "0.2", "0.2", "4", code=1)
        self.assertEqual(r.out, "0.2\n0.2\n0.2\n")
        self.assertIn("This job was killed because it timed out", r.err)
        self.assertLess(r.seconds, 3.5)

    def test_no_limit_before_a_job_has_succeeded(self):
        r = self.same("-j1", "-k", "--timeout", "50%", "sleep {}; echo {}", ":::", "1", "0.1")
        self.assertEqual(r.out, "1\n0.1\n")


if __name__ == "__main__":
    unittest.main()
