"""Stress and hostile inputs, bounded in time: many jobs (no descriptor leak, no zombie, no
memory growth), huge and odd records, endless input, huge output, a closed or full output, a low
`ulimit -n`, and storms of Ctrl-C, deadlines and timeouts over process trees.

The default run is sized for a loaded 2-CPU machine (well under a minute). Set
TASKPOOL_STRESS_LONG=1 for the long versions (100 000 jobs, 1 GiB of output, storms of 200 runs
each). Random delays come from TASKPOOL_STRESS_SEED (a fixed default), printed in every failure
message that depends on it.

`ulimit -n` is set with util-linux's `prlimit`; `ulimit -f` by the shell that runs taskpool, with
SIGXFSZ as the shell leaves it (its default action kills the writer): taskpool itself must ignore
it, so that a write past the limit fails with EFBIG and ends in a clear error. A real full file
system is a small tmpfs, when the tests run as root and may mount one; those tests skip
otherwise."""

import os
import random
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Callable, List, Optional

from helpers import (REPO, SANITIZE, TASKPOOL, TIMEOUT, TaskpoolTestCase, kill_group, run, sh,
                     show_args_output, sized, taskpool, test_env)
from process_support import (Background, SurvivorCheck, processes_with_arg, read_json, read_pids,
                             unique_seconds, wait_until)

sys.path.insert(0, str(REPO / "tests"))
from fetch_server import FetchServer, generated_bytes  # noqa: E402
from fetch_test import fetch_env  # noqa: E402

LONG = os.environ.get("TASKPOOL_STRESS_LONG") == "1"
SEED = int(os.environ.get("TASKPOOL_STRESS_SEED", "20240611"))
MIB = 1024 * 1024
PATIENCE = 30  # seconds: how long taskpool may take to react, on a loaded machine

MANY_JOBS = 100_000 if LONG else 1_000  # enough to be sampled a few times, sanitizers too
BIG_OUTPUT = 1024 * MIB if LONG else 256 * MIB
STORM_RUNS = 200 if LONG else sized(20, 10)
EMPTY_LINES = sized(1_000_000, 200_000)
DRY_RUN_LINES = 1_000_000 if LONG else sized(200_000, 100_000)

PRLIMIT = shutil.which("prlimit")
requires_prlimit = unittest.skipUnless(PRLIMIT, "prlimit (util-linux) is not installed")


def limited(*limits: str) -> List[str]:
    """The argv prefix that runs a program under `prlimit` limits such as '--nofile=64:64'."""
    return [PRLIMIT, *limits]


def file_size_limited(blocks: int) -> List[str]:
    """The argv prefix that runs a program under `ulimit -f BLOCKS` (512-byte blocks, as /bin/sh
    counts them), leaving SIGXFSZ at its default: a program that does not ignore it dies of it."""
    return ["/bin/sh", "-c", f'ulimit -f {blocks} && exec "$@"', "sh"]


def children_of(pid: int) -> List[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def comm_of(pid: int) -> Optional[str]:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def is_guardian(pid: int) -> bool:
    """taskpool's guardian: named taskpool-guard once it runs, its argv[0] so from its exec on."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return comm_of(pid) == "taskpool-guard" or argv0 == b"taskpool-guard"


def state_of(pid: int) -> Optional[str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def parent_and_group(pid: int):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]), int(fields[2])


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Measured:
    """The outcome of run_measured: exit status, output size, stderr, peak memory, time."""

    def __init__(self, code, out_bytes, head, err, max_rss, seconds):
        self.code = code
        self.out_bytes = out_bytes  # bytes read from stdout
        self.head = head            # the first bytes of stdout (up to `keep`)
        self.err = err
        self.max_rss = max_rss      # bytes
        self.seconds = seconds

    def describe(self) -> str:
        return (f"exit {self.code}, {self.out_bytes} bytes out, peak {self.max_rss / MIB:.1f} "
                f"MiB, {self.seconds:.1f} s, stderr {self.err[:1000]!r}")


def run_measured(argv, stdin_path: Optional[Path] = None, env: Optional[dict] = None,
                 timeout: float = TIMEOUT, keep: int = 1 << 16,
                 sample: Optional[Callable[[int], None]] = None) -> Measured:
    """Runs argv with its stdout drained (and counted) by the test, calls `sample(pid)` about
    every 50 ms while it runs, and returns its peak resident memory from wait4."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    start = time.monotonic()
    proc = subprocess.Popen([os.fspath(a) for a in argv], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=err, env=env or test_env(), start_new_session=True)
    if stdin_path:
        stdin.close()
    out_bytes, head, pid = 0, b"", 0
    deadline = start + timeout
    fd = proc.stdout.fileno()
    next_sample = 0.0
    try:
        while True:
            now = time.monotonic()
            if now > deadline:
                raise AssertionError(f"timed out after {timeout} s: {argv!r}")
            if sample and now >= next_sample:
                sample(proc.pid)
                next_sample = now + 0.05
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                out_bytes += len(chunk)
                if len(head) < keep:
                    head += chunk[:keep - len(head)]
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s: {argv!r}")
            if sample:
                sample(proc.pid)
            time.sleep(0.02)
    finally:
        if not pid:
            kill_group(proc)
            proc.wait()
            err.close()
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    with err:
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return Measured(proc.returncode, out_bytes, head, text, usage.ru_maxrss * 1024,
                    time.monotonic() - start)


class TmpfsMixin:
    """A small tmpfs of its own for a test, when the tests may mount one (as root)."""

    def small_tmpfs(self, size: str) -> Path:
        where = self.path("tmpfs")
        where.mkdir()
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", where],
                           check=True, capture_output=True, timeout=TIMEOUT)
        except (OSError, subprocess.SubprocessError) as e:
            raise unittest.SkipTest(f"cannot mount a tmpfs here (needs root): {e}")
        self.addCleanup(subprocess.run, ["umount", "-l", where], capture_output=True,
                        timeout=TIMEOUT)
        return where

    @staticmethod
    def fill(where: Path, leave: int) -> None:
        """Fills the file system at `where` but for about `leave` bytes."""
        st = os.statvfs(where)
        free = st.f_bavail * st.f_frsize
        with open(where / "filler", "wb") as f:
            f.write(b"\0" * max(0, free - leave))


class ManyJobsTest(TaskpoolTestCase):

    @requires_prlimit
    def test_many_jobs_leak_no_descriptors_leave_no_zombies_and_keep_memory_flat(self):
        # Under `ulimit -n 64` with 8 workers, a descriptor leaked per job fails the run after
        # a few dozen jobs. Every 50 ms the test counts taskpool's descriptors and its children
        # (zombies included): at most one per worker, however many jobs have ended.
        records = self.write("records", "".join(f"{i}\n" for i in range(MANY_JOBS)))
        small_records = self.write("small", "".join(f"{i}\n" for i in range(50)))
        fds: List[int] = []
        children: List[int] = []
        zombies: List[int] = []

        def sample(pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() != "taskpool":
                    return  # still prlimit, before its exec
            except OSError:
                return
            n = open_fds(pid)
            if n:
                fds.append(n)
            # The jobs: not the guardian, taskpool's child for the whole run.
            kids = [k for k in children_of(pid) if not is_guardian(k)]
            children.append(len(kids))
            zombies.append(sum(1 for k in kids if state_of(k) == "Z"))

        summary = self.path("summary.json")
        argv = [*limited("--nofile=64:64"), TASKPOOL, "-j8", "--summary-json", summary, "true"]
        small = run_measured(argv, small_records)
        self.assertEqual(small.code, 0, small.describe())
        r = run_measured(argv, records, timeout=3600 if LONG else 120, sample=sample)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.err, "")
        jobs = read_json(summary)["jobs"]
        self.assertEqual((jobs["total"], jobs["succeeded"]), (MANY_JOBS, MANY_JOBS))
        self.assertGreater(len(fds), 3, "taskpool ended before it could be sampled")
        # Two pipes per running job (both their ends for the workers that keep theirs from job
        # to job), a few of its own (stdio, /dev/null, wake-ups), two more while a job is being
        # started; near the end no more than at the start.
        self.assertLessEqual(max(fds), 4 * 8 + 16, f"descriptor counts: {fds}")
        # The first samples can come before the first job starts (3 descriptors): the start is
        # the first third of the run, so that a short run (a sanitizer build's) has jobs in it.
        # The end is at least 3 samples, and may sit up to two jobs' start-up (4 descriptors)
        # above the start: a short run (a sanitizer build's) gives few samples, and the first
        # may fall between jobs; a descriptor leaked per job raises the end by hundreds (and
        # fails the run under its limit of 64).
        tenth = max(3, len(fds) // 10)
        third = max(1, len(fds) // 3)
        self.assertLessEqual(min(fds[-tenth:]), max(fds[:third]) + 4, f"descriptor counts: {fds}")
        self.assertLessEqual(max(children), 8, f"more children than workers: {children}")
        self.assertLessEqual(max(zombies), 8, f"zombies: {zombies}")
        growth = r.max_rss - small.max_rss
        self.assertLess(growth, 16 * MIB,
                        f"peak memory grew from {small.max_rss / MIB:.1f} MiB (50 jobs) to "
                        f"{r.max_rss / MIB:.1f} MiB ({MANY_JOBS} jobs)")


class HostileInputTest(TaskpoolTestCase):

    # Over both the 128 KiB of one argument and the 2 MiB of a command line either way.
    BIG = sized(10 * MIB, 3 * MIB)

    def big_record(self, extra: bytes = b"") -> Path:
        return self.write("big", b"a" * self.BIG + extra + b"\nsmall\n")

    def test_10_mib_record_on_a_command_line_fails_that_job_clearly(self):
        big = self.big_record()
        for template in (["echo"], ["echo {} | wc -c"]):
            r = taskpool("-k", *template, input=big.read_bytes())
            self.assertExit(r, 1, f"{template}: the big job fails, the other one runs")
            self.assertIn("argument too long", r.err)
            self.assertLess(len(r.err), 1000, "the message must not repeat the record")
            self.assertEqual(r.out.split(), ["small"] if template == ["echo"] else ["6"])

    def test_10_mib_record_works_where_it_is_not_on_a_command_line(self):
        big = self.big_record()
        # On a command line it could never run: the dry run says so, as the run would.
        r = taskpool("-k", "--dry-run", "echo", input=big.read_bytes())
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, b"echo small\n")
        self.assertIn(b"echo: argument too long: the record of job 1 is", r.stderr)
        # Only column 2 goes on the command line; {#} alone keeps the record off it.
        tabbed = self.big_record(b"\tsecond")
        r = taskpool("-k", "--colsep", "\t", "show-args", "{2}", input=tabbed.read_bytes())
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["second"], []))
        r = taskpool("-k", "show-args", "job", "{#}", input=big.read_bytes())
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["job", "1"], ["job", "2"]))

    def test_invalid_utf8_and_odd_bytes_arrive_unchanged_with_null(self):
        records = [b"\xff\xfe\xfd", b"caf\xc3", b"\xc3\x28 \xe2\x82", b"tab\there", b"new\nline",
                   b"\x01\x02\x1b[31m\x7f", b" lead and trail ", b"quote'\"$`\\!*?[a]",
                   b"-n", b"--", b"{}", b"\xed\xa0\x80 surrogate", b"\r\n"]
        data = b"".join(r + b"\0" for r in records)
        expected = show_args_output(*[[r] for r in records])
        r = taskpool("-0", "-k", "show-args", input=data)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, expected)
        # Through the shell (a pipe in the template), quoted, still byte for byte.
        r = taskpool("-0", "-k", "show-args {} | cat", input=data)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, expected)
        # Several per command, and an empty record.
        r = taskpool("-0", "-X", "-j1", "show-args", input=data + b"\0")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(records + [b""]))

    def test_a_million_empty_lines(self):
        lines = self.write("empty", b"\n" * EMPTY_LINES)
        # -X: as many per command as fit. echo prints N-1 blanks and a newline for N empty
        # arguments, so its output is one byte per record.
        r = run_measured([TASKPOOL, "-X", "echo"], lines, timeout=120)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.out_bytes, EMPTY_LINES)
        r = taskpool("--dry-run", "-m", "echo", input=lines.read_bytes(), timeout=120)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.count(b" ''"), EMPTY_LINES)
        self.assertEqual(r.stdout.count(b"\n"), len(r.stdout.splitlines()))
        # One job per record, as a dry run.
        dry = self.write("dry", b"\n" * DRY_RUN_LINES)
        r = run_measured([TASKPOOL, "--dry-run", "true"], dry, timeout=300 if LONG else 120)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.out_bytes, DRY_RUN_LINES * len(b"true ''\n"))

    def test_no_input_at_all(self):
        for args in (["echo"], ["-0", "echo"], ["-X", "echo"], ["--dry-run", "echo"],
                     ["-a", "/dev/null", "echo"]):
            r = taskpool("--summary-json", self.path("s.json"), *args, input=b"")
            self.assertExit(r, 0, f"{args}")
            self.assertEqual((r.stdout, r.stderr), (b"", b""), f"{args}")
            if "--dry-run" not in args:
                self.assertEqual(read_json(self.path("s.json"))["jobs"]["total"], 0)

    def test_endless_input_stops_at_the_deadline(self):
        summary = self.path("summary.json")
        r = sh(f"yes | taskpool --deadline 2s --summary-json {summary} -j2 true > /dev/null")
        # The records read but never started count as failed: the queue holds far more than 100
        # of them, for the reader outruns two processes.
        self.assertExit(r, 101)
        self.assertLess(r.seconds, 2 + PATIENCE)
        self.assertEqual(read_json(summary)["stopped"], "deadline")
        self.assertNotIn("rror", r.err)

    def test_endless_input_stops_a_dry_run_at_the_deadline(self):
        # A dry run takes records as fast as the reader reads them, so how many are left in the
        # queue at the deadline is chance: any number, but never none counted as a success.
        summary = self.path("summary.json")
        r = sh(f"yes | taskpool --deadline 1s --summary-json {summary} --dry-run true > /dev/null")
        self.assertIn(r.code, range(1, 102), f"exit status {r.code}: {r.err}")
        self.assertLess(r.seconds, 1 + PATIENCE)
        self.assertFalse(summary.exists(), "a dry run writes no summary")
        self.assertNotIn("rror", r.err)

    def test_input_that_never_comes_stops_at_the_deadline(self):
        # A fifo held open by a writer that never writes: the reader blocks forever.
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        holder = os.open(fifo, os.O_RDWR)  # keeps a writer, so no end of file comes
        self.addCleanup(os.close, holder)
        summary = self.path("summary.json")
        start = time.monotonic()
        r = sh(f"taskpool --deadline 2s --summary-json {summary} echo < {fifo}",
               timeout=2 + PATIENCE)
        self.assertExit(r, 1, "cut short before the input ended: not a success")
        self.assertGreaterEqual(time.monotonic() - start, 1.9)
        self.assertEqual(read_json(summary)["stopped"], "deadline")


class ClosedStandardDescriptorTest(TaskpoolTestCase):
    """taskpool started with standard input, output or error closed (`<&-`, `>&-`, `2>&-`, as
    daemons and some schedulers start programs). The numbers 0-2 must not go to the files
    taskpool opens (its wake-up eventfd, the joblog): job output written into the joblog broke
    it for --resume. A closed stream behaves as /dev/null, as with GNU parallel."""

    HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"

    def check_joblog(self, log: Path, commands, context: str):
        lines = log.read_text().splitlines()
        self.assertEqual(lines[0], self.HEADER, f"{context}: {lines}")
        rows = [line.split("\t") for line in lines[1:]]
        self.assertEqual(sorted(row[8] for row in rows), sorted(commands), f"{context}: {lines}")
        for row in rows:
            self.assertEqual(len(row), 9, f"{context}: {lines}")
            self.assertEqual((row[6], row[7]), ("0", "0"), f"{context}: {lines}")
        # The joblog is whole: a resumed run finds every job done and runs none again.
        again = taskpool("--joblog", log, "--resume", "echo", "again", ":::", "a", "b")
        self.assertExit(again, 0, context)
        self.assertEqual((again.out, again.err), ("", ""), context)

    def test_each_closed_standard_descriptor(self):
        job = 'echo out {}; echo err {} >&2'
        commands = [f"echo out {v}; echo err {v} >&2" for v in "ab"]
        for closed, redirect in (("stdin", "<&-"), ("stdout", ">&-"), ("stderr", "2>&-"),
                                 ("all three", "<&- >&- 2>&-")):
            log = self.path(f"joblog-{closed.replace(' ', '-')}")
            r = sh(f"taskpool -k --joblog {log} '{job}' ::: a b {redirect}")
            self.assertExit(r, 0, closed)
            words = redirect.split()
            self.assertEqual(r.out, "" if ">&-" in words else "out a\nout b\n", closed)
            self.assertEqual(r.err, "" if "2>&-" in words else "err a\nerr b\n", closed)
            self.check_joblog(log, commands, closed)

    def test_closed_stdin_holds_no_records(self):
        r = sh("taskpool echo x <&-")
        self.assertExit(r, 0)
        self.assertEqual((r.out, r.err), ("", ""))

    def test_messages_with_stderr_closed_reach_no_file(self):
        # A job that cannot start makes taskpool write a message: with stderr closed it goes
        # nowhere, least of all into the joblog or the summary.
        log = self.path("joblog")
        summary = self.path("summary.json")
        r = sh(f"taskpool -k --joblog {log} --summary-json {summary} "
               f"taskpool-no-such-program ::: a 2>&-")
        self.assertExit(r, 1)
        lines = log.read_text().splitlines()
        self.assertEqual(lines[0], self.HEADER)
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(lines[1].split("\t")[6], "127", lines)
        self.assertEqual(read_json(summary)["jobs"]["failed"], 1)


class BigOutputTest(TaskpoolTestCase, SurvivorCheck):

    def output_env(self):
        # Spooled output goes to the test's directory, not the machine's /tmp.
        return test_env({"TMPDIR": str(self.tmp)})

    def check_big_output(self, *options, source="/dev/zero"):
        size = BIG_OUTPUT
        r = run_measured([TASKPOOL, *options, "head", "-c", str(size), ":::", source],
                         env=self.output_env(), timeout=600 if LONG else 120)
        self.assertEqual(r.code, 0, f"{options}: {r.describe()}")
        self.assertEqual(r.out_bytes, size, f"{options}: {r.describe()}")
        self.assertLess(r.max_rss, 64 * MIB, f"{options}: {r.describe()}")
        self.assertEqual(list(self.tmp.glob("taskpool-output-*")), [], "a spool file was left")

    def test_big_output_grouped_keeps_memory_bounded(self):
        self.check_big_output()

    def test_big_output_keep_order_keeps_memory_bounded(self):
        self.check_big_output("-k")

    def test_big_output_line_buffer_without_newlines_keeps_memory_bounded(self):
        # One line of BIG_OUTPUT bytes: it must not be held in memory until its newline.
        self.check_big_output("--line-buffer")

    @unittest.skipUnless(LONG, "TASKPOOL_STRESS_LONG=1")
    def test_big_output_tag_keeps_memory_bounded(self):
        size = BIG_OUTPUT
        r = run_measured([TASKPOOL, "--tag", "head", "-c", str(size), ":::", "/dev/zero"],
                         env=self.output_env(), timeout=600)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.out_bytes, size + len("/dev/zero\t"))
        self.assertLess(r.max_rss, 64 * MIB, r.describe())

    def test_keep_order_behind_a_slow_job_keeps_memory_flat(self):
        # Job 1 waits until the 299 jobs after it have printed 200 KB each: 60 MB of output held
        # for -k. Past a budget, held output waits in temporary files, not in memory.
        jobs = sized(300, 100)
        marks = self.path("marks")
        marks.mkdir()
        script = (f"if [ {{}} = 1 ]; then n=0; while [ $(ls {marks} | wc -l) -lt {jobs - 1} ] "
                  f"&& [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done; fi; "
                  f"head -c 200000 /dev/zero | tr '\\0' {{}}; touch {marks}/{{}}")
        records = [chr(ord("a") + i % 26) + str(i) for i in range(jobs)]
        records[0] = "1"
        r = run_measured([TASKPOOL, "-k", "-j8", script, ":::", *records],
                         env=self.output_env(), timeout=PATIENCE)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.out_bytes, 200000 * jobs, r.describe())
        self.assertEqual(r.head[:3], b"111", "job 1's output comes first")
        if SANITIZE:
            return  # its shadow memory grows with what is held: only a release build measures
        # The same run with 10 bytes of output a job: what taskpool needs besides held output.
        for mark in marks.iterdir():
            mark.unlink()
        base = run_measured([TASKPOOL, "-k", "-j8", script.replace("200000", "10"), ":::",
                             *records], env=self.output_env(), timeout=PATIENCE)
        self.assertEqual(base.code, 0, base.describe())
        self.assertLess(r.max_rss - base.max_rss, 24 * MIB,
                        f"{r.describe()}; with small output: {base.describe()}")
        self.assertEqual(list(self.tmp.glob("taskpool-output-*")), [], "a spool file was left")

    def test_long_line_with_line_buffer_and_tag_is_tagged_once_and_whole(self):
        # A line longer than what is held in memory is still one line, with one tag.
        size = 3 * MIB
        script = f": {{}}; head -c {size} /dev/zero | tr '\\0' x; echo; echo next"
        r = taskpool("--line-buffer", "--tag", script, ":::", "t", env=self.output_env())
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"t\t" + b"x" * size + b"\nt\tnext\n")

    def test_job_closing_its_stdout_early(self):
        r = taskpool("-k", "-j2", "exec >&-; echo err {} >&2; sleep 0.2; echo late {} >&2",
                     ":::", "1", "2", "3")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.err.splitlines(),
                         ["err 1", "late 1", "err 2", "late 2", "err 3", "late 3"])
        # Its output pipe closed, the job runs on.
        r = taskpool("--line-buffer", "exec >&-; sleep 0.3; echo done {} >&2", ":::", "a")
        self.assertExit(r, 0)
        self.assertEqual(r.err, "done a\n")

    def test_closed_output_ends_the_run_quietly_and_promptly(self):
        # `taskpool ... | head -1`: head exits after one line; the next write gets EPIPE, and
        # taskpool ends its running jobs and dies of SIGPIPE, as `yes | head -1` does (and GNU
        # parallel). Jobs 1-4 print a line, then sleep (they hold four workers); the other jobs,
        # on the fifth worker, keep output flowing so that the closed pipe is seen.
        seconds = unique_seconds(30)
        self.cleanup_processes(seconds)
        records = self.write("records", "".join(f"{i}\n" for i in range(1, 100_001)))
        with open(records, "rb") as stdin:
            proc = subprocess.Popen(
                [TASKPOOL, "-j5", "--line-buffer",
                 f"echo {{}}; if [ {{}} -le 4 ]; then echo $$ >> pids; sleep {seconds}; fi"],
                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp,
                env=test_env(), start_new_session=True)
        try:
            first = proc.stdout.readline()
            proc.stdout.close()
            proc.stdout = None  # closed, as `head -1` closes it: communicate() reads stderr only
            start = time.monotonic()
            _, err = proc.communicate(timeout=PATIENCE)
        finally:
            kill_group(proc)
            proc.wait()
            proc.stderr.close()
        self.assertTrue(first.strip().isdigit(), first)
        self.assertLess(time.monotonic() - start, 10, "taskpool did not stop promptly")
        self.assertEqual(proc.returncode, -signal.SIGPIPE)
        self.assertEqual(err, b"", "error messages after the output was closed")
        pids = self.tmp / "pids"  # the sleepers may have been ended before they wrote it
        self.assertNoSurvivors(seconds, read_pids(pids) if pids.exists() else [])

    def test_closed_output_is_noticed_while_no_job_prints(self):
        # After the first line, no job prints again for a long while: taskpool must not wait
        # for its next write to learn that `head -1` has gone.
        seconds = unique_seconds(100)
        self.cleanup_processes(seconds)
        status = self.path("status")
        for args in ("--line-buffer -j2", "-j2", "-k -j2"):
            with self.subTest(args=args):
                # Every job prints the same line first: with -j2 either may be first.
                r = sh(f"{{ taskpool {args} 'echo line; sleep {{}}' ::: 0 {seconds} {seconds}; "
                       f"echo $? > {status}; }} | head -n 1")
                self.assertEqual(r.out, "line\n", args)
                self.assertEqual(r.err, "", args)
                self.assertLess(r.seconds, PATIENCE, args)
                self.assertEqual(status.read_text().strip(), str(128 + signal.SIGPIPE), args)
                self.assertNoSurvivors(seconds)

    def test_closed_output_with_keep_order_and_dry_run(self):
        status = self.path("status")
        for args in (["-k", "echo"], ["--dry-run", "echo"], ["-X", "-n", "10", "echo"]):
            r = sh(f"{{ seq 100000 | taskpool {' '.join(args)}; echo $? > {status}; }} | "
                   "head -n 1")
            self.assertRegex(r.out, r"^(echo )?[0-9 ]+\n$", f"{args}")
            self.assertEqual(r.err, "", f"{args}")
            self.assertEqual(status.read_text().strip(), str(128 + signal.SIGPIPE), f"{args}")
            self.assertLess(r.seconds, PATIENCE)


class FullDiskTest(TaskpoolTestCase, TmpfsMixin):

    def test_stdout_on_a_full_device(self):
        for args in ("echo ::: a b", "head -c 1000000 ::: /dev/zero", "--dry-run echo ::: a",
                     "--line-buffer echo ::: a", "-k echo ::: a b"):
            r = sh(f"taskpool {args} > /dev/full", env=test_env({"TMPDIR": str(self.tmp)}))
            self.assertExit(r, 255, args)
            self.assertIn("standard output", r.err, args)
            self.assertIn("No space left on device", r.err, args)
            self.assertEqual(len(r.err.splitlines()), 1, f"{args}: one message: {r.err!r}")

    def test_joblog_past_the_file_size_limit(self):
        log = self.path("joblog")
        r = run([*file_size_limited(1), TASKPOOL, "-j2", "--joblog", log, "echo", ":::",
                 *map(str, range(100))])
        self.assertExit(r, 255)
        self.assertIn(f"joblog '{log}'", r.err)
        self.assertIn("File too large", r.err)
        self.assertLess(len(r.stdout.splitlines()), 100, "the run went on after the error")

    def test_joblog_on_a_full_file_system(self):
        disk = self.small_tmpfs("64k")
        self.fill(disk, 4096)
        log = disk / "joblog"
        # 100 jobs whose joblog lines hold 300 bytes of command: 30 KB where 4 KiB are free.
        r = taskpool("-j2", "--joblog", log, "true", input=(b"x" * 300 + b"\n") * 100)
        self.assertExit(r, 255)
        self.assertIn(f"joblog '{log}'", r.err)
        self.assertIn("No space left on device", r.err)

    def test_spooled_output_past_the_file_size_limit(self):
        # A job's output beyond 256 KiB goes to a temporary file; when it cannot grow, the run
        # ends with a clear error (it must not crash).
        r = run([*file_size_limited(2000), TASKPOOL, "-j2", "head", "-c", "3000000", ":::",
                 "/dev/zero", "/dev/zero"], env=test_env({"TMPDIR": str(self.tmp)}))
        self.assertExit(r, 255)
        self.assertIn("temporary output file", r.err)
        self.assertIn("File too large", r.err)
        self.assertEqual(r.err.count("taskpool:"), 1, r.err)

    def test_spooled_output_on_a_full_file_system(self):
        disk = self.small_tmpfs("2m")
        r = taskpool("-j2", "-k", "head", "-c", "3000000", ":::", "/dev/zero", "/dev/zero",
                     env=test_env({"TMPDIR": str(disk)}))
        self.assertExit(r, 255)
        self.assertIn(f"temporary output file in {disk}", r.err)
        self.assertIn("No space left on device", r.err)


class FileSizeLimitTest(TaskpoolTestCase, SurvivorCheck):
    """Under a real `ulimit -f`, with SIGXFSZ at its default (see the module's docstring): every
    file taskpool writes ends in a clear error and a non-zero status, never in a silent death
    by the signal (status 153) that left an empty joblog and its jobs running. Jobs get SIGXFSZ
    back at its default, as they would from a shell. (The joblog, temporary output files and
    downloads past the limit are in FullDiskTest and FetchFullDiskTest.)"""

    def test_summary_json_past_the_file_size_limit(self):
        summary = self.path("summary.json")
        r = run([*file_size_limited(0), TASKPOOL, "--summary-json", summary, "echo", ":::", "a"])
        self.assertExit(r, 255)
        self.assertEqual(r.out, "a\n")
        self.assertIn(f"--summary-json file '{summary}'", r.err)
        self.assertIn("File too large", r.err)

    def test_timeline_past_the_file_size_limit(self):
        timeline = self.path("run.svg")
        r = run([*file_size_limited(1), TASKPOOL, "--timeline", timeline, "echo", ":::", "a"])
        self.assertNotIn(r.code, (0, 128 + signal.SIGXFSZ, -signal.SIGXFSZ), r.err)
        self.assertIn(str(timeline), r.err)
        self.assertIn("File too large", r.err)

    def test_joblog_past_the_limit_ends_the_running_jobs(self):
        # Two long jobs run while short ones fill the joblog past 512 bytes: the error stops the
        # run, and the long jobs are ended, not left behind.
        seconds = unique_seconds(60)
        self.cleanup_processes(seconds)
        log = self.path("joblog")
        r = run([*file_size_limited(1), TASKPOOL, "-j4", "--kill-after", "1", "--joblog", log,
                 "sleep", ":::", seconds, seconds, *["0"] * 30], timeout=PATIENCE)
        self.assertExit(r, 255)
        self.assertIn(f"joblog '{log}'", r.err)
        self.assertIn("File too large", r.err)
        self.assertLess(r.seconds, 30, "the long jobs were waited for")
        self.assertNoSurvivors(seconds)

    def test_jobs_get_sigxfsz_at_its_default(self):
        log = self.path("joblog")
        # dd is run directly (no shell in between to turn the signal into a status).
        r = run([*file_size_limited(4), TASKPOOL, "--joblog", log, "dd", "if=/dev/zero",
                 "of={}", "bs=4096", "count=100", ":::", self.path("big")])
        self.assertExit(r, 1)
        row = log.read_text().splitlines()[1].split("\t")
        self.assertEqual(row[7], str(signal.SIGXFSZ), f"the job was not killed by SIGXFSZ: {row}")


class FetchFullDiskTest(TaskpoolTestCase, TmpfsMixin):

    SIZE = 3_000_000

    def setUp(self):
        super().setUp()
        root = self.path("served")
        root.mkdir()
        self.server = FetchServer(root).start()
        self.addCleanup(self.server.stop)
        # taskpool drops the connection when the disk is full: no traceback for that.
        self.server._httpd.handle_error = lambda request, client_address: None

    def check_truncated(self, r, out: Path, why: str):
        self.assertExit(r, 1, "the download fails")
        self.assertIn("big.bin.part", r.err)
        self.assertIn(why, r.err)
        self.assertFalse((out / "big.bin").exists(), "a cut-off download looks complete")
        part = out / "big.bin.part"
        if part.exists():
            self.assertLess(part.stat().st_size, self.SIZE)
        # A download's Command column is "URL -> FILE".
        log = {row.split("\t")[8]: row.split("\t") for row in
               (self.path("joblog").read_text().splitlines()[1:])}
        url = self.server.url(f"/gen/{self.SIZE}/big.bin")
        self.assertEqual(log[f"{url} -> {out / 'big.bin'}"][6], "23")

    def test_download_past_the_file_size_limit(self):
        out = self.path("out")
        r = run([*file_size_limited(2000), TASKPOOL, "--fetch", "-o", out, "--joblog",
                 self.path("joblog"), ":::", self.server.url(f"/gen/{self.SIZE}/big.bin")],
                env=fetch_env())
        self.check_truncated(r, out, "File too large")

    def test_download_to_a_full_file_system(self):
        out = self.small_tmpfs("1m")
        r = taskpool("--fetch", "-o", out, "--joblog", self.path("joblog"), "--retries", "2",
                     "--backoff", "0", ":::", self.server.url(f"/gen/{self.SIZE}/big.bin"),
                     env=fetch_env(), timeout=PATIENCE)
        self.check_truncated(r, out, "No space left on device")
        gets = [q for q in self.server.requests() if q.method == "GET"]
        self.assertEqual(len(gets), 1, "a full disk is not retried")


    def test_small_files_to_a_full_file_system(self):
        # 4 KiB files come whole in one piece and are written by the executor's writer (where
        # there are two CPUs): those that do not fit fail with the reason, and every file that
        # has its name is whole.
        out = self.small_tmpfs("64k")
        urls = [self.server.url(f"/gen/4096/f{i:02}") for i in range(40)]
        r = taskpool("--fetch", "-j8", "-o", out, ":::", *urls, env=fetch_env(),
                     timeout=PATIENCE)
        self.assertIn("No space left on device", r.err)
        named = [p for p in out.iterdir() if not p.name.endswith((".part", ".meta"))]
        self.assertGreater(len(named), 0, "nothing fitted")
        self.assertLess(len(named), len(urls), "everything fitted")
        self.assertExit(r, len(urls) - len(named), "the downloads that did not fit fail")
        for path in named:
            self.assertEqual(path.read_bytes(), generated_bytes(4096), path.name)


@requires_prlimit
class DescriptorLimitTest(TaskpoolTestCase):

    def test_many_workers_under_a_low_hard_limit_are_capped_with_a_warning(self):
        summary = self.path("summary.json")
        jobs = 300
        r = run([*limited("--nofile=256:256"), TASKPOOL, "-j", "1000", "--summary-json", summary,
                 "sleep", ":::", *["0.2"] * jobs], timeout=120)
        self.assertExit(r, 0)
        self.assertNotIn("Too many open files", r.err)
        warning = r.err.strip()
        self.assertEqual(len(warning.splitlines()), 1, r.err)
        self.assertIn("warning", warning)
        self.assertIn("-j", warning)
        self.assertIn("ulimit -n", warning)
        report = read_json(summary)
        self.assertEqual(report["jobs"]["succeeded"], jobs)
        self.assertLess(report["workers"], 256 // 2)
        self.assertGreater(report["workers"], 8)

    def test_a_limit_that_leaves_no_descriptor_for_a_job_fails_each_job_at_once(self):
        # Nothing but the run's own jobs could give a descriptor back, and none runs: each job
        # fails at once saying why, rather than after a wait.
        if SANITIZE:
            self.skipTest("a sanitizer's runtime cannot read /proc/self/maps under ulimit -n 8, "
                          "and reports its own checks as failures")
        r = run([*limited("--nofile=8:8"), TASKPOOL, "echo", ":::", "a", "b", "c"], timeout=60)
        self.assertExit(r, 3)
        self.assertLess(r.seconds, 5, "the jobs waited for descriptors no one could give back")
        lines = r.err.splitlines()
        self.assertIn("ulimit -n 8 may leave no file descriptor for a job", lines[0])
        self.assertEqual(len(lines), 4, r.err)
        for line in lines[1:]:
            self.assertIn("Too many open files (with none of the run's jobs running to give one "
                          "back)", line)
        # A limit that leaves one job room: warned of, and the run goes on with -j 1.
        r = run([*limited("--nofile=24:24"), TASKPOOL, "-j", "8", "echo", ":::", "a", "b"],
                timeout=60)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"a\nb\n")
        self.assertIn("for 1 job at once; running -j 1 instead of -j 8", r.err)
        # With --control, the socket's clients hold descriptors too and may give them back: the
        # job waits the shortage out, as for any other, before it fails.
        control = self.path("control.sock")
        r = run([*limited("--nofile=10:10"), TASKPOOL, "--control", control, "echo", ":::", "a"],
                timeout=60)
        self.assertExit(r, 1)
        self.assertIn("Too many open files (nothing could start for 10 s", r.err)
        self.assertGreater(r.seconds, 9)

    def test_many_workers_raise_the_soft_limit(self):
        hard = int(subprocess.run([PRLIMIT, "--nofile", "--output=HARD", "--noheadings",
                                   "--pid", str(os.getpid())], capture_output=True, text=True,
                                  timeout=TIMEOUT).stdout.split()[0].replace("unlimited",
                                                                             str(1 << 20)))
        if hard < 8192:
            self.skipTest(f"the hard limit ({hard}) is too low to raise the soft one to")
        jobs = 300
        summary = self.path("summary.json")
        # Job 1 reports taskpool's own limit while all 300 run at once.
        line = ('if [ {} = 1 ]; then grep "open files" /proc/$PPID/limits; fi; sleep 0.5')
        r = run([*limited(f"--nofile=256:{hard}"), TASKPOOL, "-j", str(jobs), "--summary-json",
                 summary, line, ":::", *map(str, range(1, jobs + 1))], timeout=120)
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")
        soft = int(r.out.split()[3])
        self.assertGreater(soft, 2 * jobs, r.out)
        self.assertEqual(read_json(summary)["workers"], jobs)

    def test_zero_workers_under_a_low_limit(self):
        # -j 0 is 250 workers: fewer when the descriptors do not allow it.
        summary = self.path("summary.json")
        r = run([*limited("--nofile=64:64"), TASKPOOL, "-j", "0", "--summary-json", summary,
                 "true", ":::", *map(str, range(40))])
        self.assertExit(r, 0)
        self.assertIn("warning", r.err)
        self.assertEqual(read_json(summary)["jobs"]["succeeded"], 40)

    def test_fetch_with_many_workers_under_a_low_limit(self):
        root = self.path("served")
        root.mkdir()
        for i in range(60):
            (root / f"f{i}.txt").write_bytes(b"x" * (i + 1))
        server = FetchServer(root).start()
        self.addCleanup(server.stop)
        env = test_env()
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            env.pop(name, None)
        env["no_proxy"] = env["NO_PROXY"] = "*"
        out = self.path("out")
        r = run([*limited("--nofile=64:64"), TASKPOOL, "--fetch", "-j", "500", "-o", out,
                 ":::", *[server.url(f"/f{i}.txt") for i in range(60)]], env=env, timeout=120)
        self.assertExit(r, 0)
        self.assertNotIn("Too many open files", r.err)
        self.assertIn("warning", r.err)
        self.assertEqual(len(list(out.iterdir())), 60)


def unused_uid() -> int:
    """A user id that no process has: RLIMIT_NPROC counts every process of the user, so a test
    that runs under `ulimit -u` as a user of its own counts only its own processes."""
    taken = set()
    for entry in os.listdir("/proc"):
        try:
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("Uid:"):
                    taken.update(int(u) for u in line.split()[1:])
        except (OSError, ValueError):
            continue
    rng = random.Random()
    while True:
        uid = rng.randrange(3_000_000, 4_000_000)
        if uid not in taken:
            return uid


@requires_prlimit
class ProcessLimitTest(TaskpoolTestCase):
    """taskpool under a real `ulimit -u` (RLIMIT_NPROC), where starting a job fails with EAGAIN
    once the user has that many processes. The limit is not enforced for root, so taskpool runs
    as a user id of its own, with no other process: the count is taskpool's alone."""

    def setUp(self):
        super().setUp()
        setpriv = shutil.which("setpriv")
        if not setpriv:
            self.skipTest("setpriv (util-linux) is not installed")
        if os.geteuid() != 0:
            self.skipTest("RLIMIT_NPROC needs a user of its own, and only root can switch to one")
        self.uid = unused_uid()
        self.tmp.chmod(0o777)
        self.prefix = [setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"]
        probe = run([*self.prefix, TASKPOOL, "--version"])
        if probe.code != 0:
            self.skipTest(f"the binary under test cannot run as another user: {probe.err}")

    def taskpool_limited(self, processes: int, *args, timeout: float = TIMEOUT,
                         input: Optional[bytes] = None):
        env = test_env()
        env["PATH"] = "/usr/bin:/bin"  # the test's bin directory is private to root
        if SANITIZE:
            # LeakSanitizer's check at exit needs a thread of its own, which the limit refuses
            # (it would report that as a fatal error of its own).
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        return run([*self.prefix, PRLIMIT, f"--nproc={processes}:{processes}", TASKPOOL, *args],
                   cwd=self.tmp, env=env, timeout=timeout, input=input)

    def test_jobs_that_cannot_start_wait_and_the_pool_shrinks(self):
        # 40 jobs at -j12 where about half as many processes may run: none may fail, none may
        # count an attempt that never ran, and the pool shrinks once, saying so.
        log = self.path("joblog")
        summary = self.path("summary.json")
        r = self.taskpool_limited(8, "-j12", "--retries", "3", "--joblog", log,
                                  "--summary-json", summary, "sleep", ":::", *["0.3"] * 40,
                                  timeout=PATIENCE * 2)
        self.assertExit(r, 0)
        rows = log.read_text().splitlines()[1:]
        self.assertEqual(len(rows), 40)
        self.assertEqual({row.split("\t")[6] for row in rows}, {"0"}, rows)
        report = read_json(summary)
        self.assertEqual(report["attempts"], 40, "an attempt that never ran was counted")
        self.assertEqual(report["jobs"]["retried"], 0)
        warnings = [line for line in r.err.splitlines() if "warning" in line]
        self.assertEqual(len(warnings), 1, r.err)
        self.assertRegex(warnings[0], r"running -j [1-7] instead of -j 12 .*ulimit -u")
        self.assertIn("Resource temporarily unavailable", warnings[0])
        self.assertEqual(r.err.count("taskpool:"), 1, r.err)

    def test_a_job_that_can_never_start_fails_in_bounded_time(self):
        # One process: taskpool's own. Nothing of the run holds one that could be given back,
        # so each job fails, clearly, after taskpool has tried for 10 s (not for ever).
        log = self.path("joblog")
        r = self.taskpool_limited(1, "-j2", "--retries", "3", "--joblog", log, "echo", ":::",
                                  "a", "b", "c", timeout=60)
        self.assertExit(r, 3)
        self.assertGreaterEqual(r.seconds, 9.5)
        self.assertLess(r.seconds, 30)
        self.assertEqual(r.out, "")
        failures = [line for line in r.err.splitlines() if "nothing could start for 10 s" in line]
        self.assertEqual(len(failures), 3, r.err)
        for line in failures:
            self.assertIn("cannot start: Resource temporarily unavailable", line)
        rows = [row.split("\t") for row in log.read_text().splitlines()[1:]]
        self.assertEqual(sorted(row[8] for row in rows), ["echo a", "echo b", "echo c"])
        self.assertEqual({row[6] for row in rows}, {"126"})

    def test_no_room_for_a_thread_is_a_clear_error(self):
        # A thread is a process to RLIMIT_NPROC: with one allowed (taskpool itself) the thread
        # that reads standard input cannot start, nor the one that watches a piped stdout.
        r = self.taskpool_limited(1, "-j2", "echo", input=b"a\nb\n")
        self.assertExit(r, 255)
        self.assertIn("cannot start the thread that reads the input", r.err)
        self.assertIn("Resource temporarily unavailable", r.err)
        self.assertNotIn("terminate called", r.err)
        self.assertEqual(r.out, "")


class StormTest(TaskpoolTestCase, SurvivorCheck):
    """Many runs over process trees, each stopped at a random moment; afterwards no process of
    any tree is alive. Each job's shell starts two sleeps, one of them deaf to SIGTERM, and
    writes the PIDs to a file; runs go five at a time."""

    BATCH = 5
    JOBS = 6
    # Exit statuses of a stopped run: the jobs killed and those read but not started (all six
    # when the input has been read); at least 1 when it was stopped before that.
    STOPPED = set(range(1, JOBS + 1))

    def job_line(self, seconds: str) -> str:
        return (f': {{}}; (trap "" TERM; exec sleep {seconds}) & echo "$$ $!" >> pids; '
                f'sleep {seconds} & echo "$!" >> pids; wait')

    def storm(self, name: str, options: Callable[[random.Random], List[str]],
              signals: Callable[[random.Random], List[float]], statuses):
        rng = random.Random(f"{SEED}-{name}")
        for first in range(0, STORM_RUNS, self.BATCH):
            batch = []
            for i in range(first, min(first + self.BATCH, STORM_RUNS)):
                where = self.path(f"{name}-{i}")
                where.mkdir()
                # 60 s and a fraction that no other process on the machine sleeps.
                seconds = f"60.{secrets.randbelow(9 * 10**8) + 10**8}"
                self.cleanup_processes(seconds)
                args = options(rng)
                delays = signals(rng)
                run_ = Background(where, "-j3", "--joblog", "joblog", *args,
                                  self.job_line(seconds), ":::", *map(str, range(self.JOBS)))
                self.addCleanup(run_.kill)
                batch.append((i, where, seconds, args, delays, run_))
            # Each run's signals at its own random moments.
            events = sorted((sum(d[:k + 1]), j) for j, (_, _, _, _, d, _) in enumerate(batch)
                            for k in range(len(d)))
            start = time.monotonic()
            for at, j in events:
                time.sleep(max(0.0, at - (time.monotonic() - start)))
                if batch[j][5].running():
                    batch[j][5].signal(signal.SIGINT)
            for i, where, seconds, args, delays, run_ in batch:
                context = (f"{name} run {i} (TASKPOOL_STRESS_SEED={SEED}), options {args}, "
                           f"signals after {delays}")
                if delays and not wait_until(lambda: not run_.running(), PATIENCE / 3):
                    # Two signals that come before taskpool gets the CPU again count as one
                    # (the kernel keeps one pending); a user would press Ctrl-C once more.
                    run_.signal(signal.SIGINT)
                r = run_.wait(PATIENCE)
                self.assertIn(r.code, statuses, f"{context}: stderr {r.err!r}")
                pids = read_pids(where / "pids") if (where / "pids").exists() else []
                found = [(p, state_of(p), parent_and_group(p))
                         for p in processes_with_arg(seconds)]
                try:
                    self.assertNoSurvivors(seconds, pids)
                except AssertionError as e:
                    log = (where / "joblog").read_text() if (where / "joblog").exists() else ""
                    raise AssertionError(
                        f"{context}: {e}\nright after the exit (pid, state, (ppid, pgid)): "
                        f"{found}\njob pids: {pids}\njoblog:\n{log}\nstderr: {r.err!r}") from None

    def test_ctrl_c_storm(self):
        # Ctrl-C twice (the second ends the running jobs), at random moments: possibly before
        # taskpool has set up its handlers (it then dies of SIGINT, having started nothing).
        self.storm("sigint", lambda rng: ["--kill-after", "0.3"],
                   lambda rng: [rng.uniform(0, 0.5), rng.uniform(0.02, 0.3)],
                   {-signal.SIGINT, *self.STOPPED})

    def test_deadline_storm(self):
        self.storm("deadline",
                   lambda rng: ["--deadline", f"{rng.uniform(0.01, 0.6):.3f}", "--grace", "0.3"],
                   lambda rng: [], self.STOPPED)

    def test_timeout_storm(self):
        self.storm("timeout",
                   lambda rng: ["--timeout", f"{rng.uniform(0.01, 0.4):.3f}", "--kill-after",
                                "0.2"],
                   lambda rng: [], {self.JOBS})


if __name__ == "__main__":
    unittest.main()
