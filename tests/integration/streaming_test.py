"""taskpool streams its input: memory stays bounded on long inputs, and jobs start (and print)
before the input has ended."""

import os
import select
import subprocess
import tempfile
import time
import unittest

from helpers import TASKPOOL, TIMEOUT, TaskpoolTestCase, kill_group, sh, sized, test_env

MIB = 1024 * 1024


def peak_rss(args, records, timeout=TIMEOUT):
    """Runs taskpool with `seq records` on stdin, output discarded.
    Returns (exit status, peak resident memory in bytes, seconds, stderr)."""
    seq = subprocess.Popen(["seq", str(records)], stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([TASKPOOL, *args], stdin=seq.stdout, stdout=subprocess.DEVNULL,
                                stderr=err, env=test_env(), start_new_session=True)
        seq.stdout.close()
        deadline = start + timeout
        pid = 0
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"taskpool {' '.join(args)} on {records} records "
                                         f"did not finish in {timeout} s")
                time.sleep(0.05)
        finally:
            if not pid:
                kill_group(proc)
                proc.wait()
            seq.kill()
            seq.wait()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return proc.returncode, usage.ru_maxrss * 1024, seconds, err.read()


def read_line(fd, deadline):
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no output line in time (got {data!r}): taskpool seems to "
                                 "wait for the end of its input before running jobs")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise AssertionError(f"output ended early (got {data!r})")
            data += chunk
    return data


class StreamingTest(TaskpoolTestCase):

    def test_memory_stays_bounded_on_a_long_input(self):
        records = sized(1_000_000, 200_000)
        small_code, small_rss, _, _ = peak_rss(["-j2", "--dry-run", "true"], 1000)
        code, rss, seconds, err = peak_rss(["-j2", "--dry-run", "true"], records, timeout=180)
        self.assertEqual(code, 0, err)
        self.assertEqual(small_code, 0)
        self.assertLess(rss, 64 * MIB, f"peak memory {rss / MIB:.1f} MiB for {records} records")
        self.assertLess(rss - small_rss, 32 * MIB,
                        f"memory grew from {small_rss / MIB:.1f} MiB (1000 records) to "
                        f"{rss / MIB:.1f} MiB ({records} records)")
        # A generous bound, against a pass that grows with the input (about 6 s for 1 000 000
        # records in a release build).
        self.assertLess(seconds, 120, f"{records} dry-run records took {seconds:.1f} s")

    def test_memory_stays_bounded_with_keep_order(self):
        records = sized(300_000, 100_000)
        code, rss, seconds, err = peak_rss(["-k", "-j2", "--dry-run", "true"], records)
        self.assertEqual(code, 0, err)
        self.assertLess(rss, 64 * MIB, f"peak memory {rss / MIB:.1f} MiB for {records} records")

    def test_memory_stays_bounded_running_real_jobs(self):
        code, rss, seconds, err = peak_rss(["-j2", "true"], 500)
        self.assertEqual(code, 0, err)
        self.assertLess(rss, 64 * MIB, f"peak memory {rss / MIB:.1f} MiB for 500 jobs")

    def interactive(self, *args):
        """Feeds one record, waits for its job's output, then feeds the next."""
        with subprocess.Popen([TASKPOOL, *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=test_env(), start_new_session=True) as proc:
            self.feed_and_read(proc)

    def feed_and_read(self, proc):
        try:
            deadline = time.monotonic() + 30
            for i in range(1, 6):
                proc.stdin.write(f"{i}\n".encode())
                proc.stdin.flush()
                self.assertEqual(read_line(proc.stdout.fileno(), deadline), f"got {i}\n".encode())
            rest, err = proc.communicate(timeout=TIMEOUT)  # closes stdin: end of input
            self.assertEqual(rest, b"")
            self.assertEqual(proc.returncode, 0, err)
        finally:
            kill_group(proc)

    def test_jobs_run_before_the_input_ends(self):
        self.interactive("-j2", "echo", "got")

    def test_jobs_run_before_the_input_ends_with_keep_order(self):
        self.interactive("-k", "-j2", "echo", "got")

    def test_jobs_run_before_the_input_ends_with_one_worker(self):
        self.interactive("-j1", "echo got {}")

    def test_waiting_for_input_costs_no_cpu(self):
        """While the input is slow to come, taskpool sleeps: 2 s of waiting for the second record
        cost well under half a second of CPU (a process that spun instead would use most of the
        2 s, even on a loaded machine)."""
        for mode in ([], ["--dry-run"]):
            with self.subTest(mode=mode), subprocess.Popen(
                    [TASKPOOL, "-j2", *mode, "echo", "got"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=test_env(),
                    start_new_session=True) as proc:
                pid = 0
                try:
                    deadline = time.monotonic() + 30
                    got = "got" if not mode else "echo got"
                    proc.stdin.write(b"1\n")
                    proc.stdin.flush()
                    self.assertEqual(read_line(proc.stdout.fileno(), deadline), f"{got} 1\n".encode())
                    time.sleep(2)
                    proc.stdin.write(b"2\n")
                    proc.stdin.close()
                    self.assertEqual(read_line(proc.stdout.fileno(), deadline), f"{got} 2\n".encode())
                    pid, status, usage = os.wait4(proc.pid, 0)
                    proc.returncode = os.waitstatus_to_exitcode(status)
                finally:
                    if not pid:
                        kill_group(proc)
                self.assertEqual(proc.returncode, 0)
                cpu = usage.ru_utime + usage.ru_stime
                self.assertLess(cpu, 0.5, f"taskpool {' '.join(mode)} used {cpu:.2f} s of CPU "
                                          "while it waited 2 s for its input")

    def test_endless_input_stops_when_output_is_closed(self):
        r = sh("yes abc | taskpool -j2 echo | head -n 3")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "abc\n" * 3)

    def test_endless_input_dry_run_stops_when_output_is_closed(self):
        r = sh("yes abc | taskpool -j2 --dry-run echo | head -n 3")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "echo abc\n" * 3)


if __name__ == "__main__":
    unittest.main()
