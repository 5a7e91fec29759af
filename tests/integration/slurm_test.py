"""--slurm and --slurm-alloc against a real Slurm cluster (slurm_cluster.py: munged, slurmctld,
three slurmd nodes with 2 CPUs each, started here as root and stopped by pid), and their errors
(which need no cluster)."""

import os
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from typing import Dict, List

from helpers import TASKPOOL, TIMEOUT, run, test_env
from process_support import joblog_rows, wait_until
from slurm_cluster import NODES, SkipCluster, SlurmCluster

HEARTBEAT = "0.25s"  # a node silent for 1 s is lost


def max_overlap(rows: List[List[str]]) -> Dict[str, int]:
    """Per joblog Host: the most jobs that ran there at once."""
    events: Dict[str, List[tuple]] = {}
    for row in rows:
        # Less 20 ms at the end: one job's end and the next one's start, each rounded to the
        # millisecond, may seem to overlap.
        start, runtime = float(row[2]), float(row[3])
        events.setdefault(row[1], []).extend([(start, 1), (start + runtime - 0.02, -1)])
    most = {}
    for host, points in events.items():
        now = top = 0
        for _time, step in sorted(points, key=lambda p: (p[0], p[1])):
            now += step
            top = max(top, now)
        most[host] = top
    return most


class SlurmErrorsTest(unittest.TestCase):
    """What a user outside a cluster meets: no cluster needed."""

    def test_outside_an_allocation(self):
        env = test_env()
        for name in ("SLURM_JOB_ID", "SLURM_JOBID"):
            env.pop(name, None)
        result = run([TASKPOOL, "--slurm", "echo", ":::", "a"], env=env)
        self.assertEqual(result.code, 255)
        self.assertIn("--slurm: SLURM_JOB_ID is not set: taskpool is not inside a Slurm "
                      "allocation", result.err)
        self.assertEqual(result.stdout, b"")

    def test_srun_missing(self):
        with tempfile.TemporaryDirectory() as empty:
            env = test_env({"SLURM_JOB_ID": "7", "SLURM_JOB_NODELIST": "n1",
                            "SLURM_JOB_CPUS_PER_NODE": "1", "PATH": empty})
            result = run([TASKPOOL, "--slurm", "echo", ":::", "a"], env=env)
        self.assertEqual(result.code, 255)
        self.assertIn("--slurm: srun: command not found", result.err)

    def test_flags_that_do_not_go_together(self):
        for args, said in ((["--slurm", "-S", "host"], "leave out -S/--sshlogin"),
                           (["--slurm", "--slurm-alloc", "-N1"], "give one of them"),
                           (["--heartbeat", "1s"], "--heartbeat is for --slurm"),
                           (["--slurm-alloc", "-N1 | x"], "not a plain list of salloc options")):
            result = run([TASKPOOL, *args, "echo", ":::", "a"])
            self.assertEqual(result.code, 255, args)
            self.assertIn(said, result.err, args)


FAKE_SRUN = """#!/bin/sh
# srun's stand-in: runs the step's command (what follows the srun options) here.
while [ $# -gt 0 ]; do
  case "$1" in -w) node=$2; shift 2 ;; -c) shift 2 ;; -*) shift ;; *) break ;; esac
done
echo $$ > "$FAKE_SLURM_DIR/agent-$node"
SLURMD_NODENAME=$node exec "$@"
"""
FAKE_SCONTROL = """#!/bin/sh
# scontrol show hostnames A,B: one a line.
[ "$1 $2" = "show hostnames" ] && echo "$3" | tr , '\\n'
"""


class FakeSlurmTest(unittest.TestCase):
    """--slurm through stand-ins for srun and scontrol that start the agents here: the agent
    executor's part of --slurm on any machine, root or not."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="taskpool-fake-slurm-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)], check=False))
        for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
            (self.tmp / name).write_text(text)
            (self.tmp / name).chmod(0o755)
        self.env = test_env({"SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "a,b,c",
                             "SLURM_JOB_CPUS_PER_NODE": "2(x2),1", "FAKE_SLURM_DIR": str(self.tmp)})
        self.env["PATH"] = f"{self.tmp}:{self.env['PATH']}"

    def test_each_node_gets_its_cpus_as_workers(self):
        joblog = self.tmp / "joblog"
        result = run([TASKPOOL, "--slurm", "--joblog", joblog, "sleep 0.3; echo {}", ":::",
                      *map(str, range(1, 16))], env=self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(sorted(result.stdout.split()), sorted(str(i).encode() for i in range(1, 16)))
        self.assertEqual(max_overlap(joblog_rows(joblog)), {"a": 2, "b": 2, "c": 1})

    def test_a_killed_agent_its_jobs_run_elsewhere_exactly_once(self):
        joblog = self.tmp / "joblog"
        proc = subprocess.Popen(
            [str(TASKPOOL), "--slurm", "--heartbeat", HEARTBEAT, "--joblog", str(joblog),
             f"touch {self.tmp}/started-{{}}; sleep 0.5; echo done {{}}", ":::",
             *map(str, range(1, 21))],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        self.assertTrue(wait_until(lambda: len(list(self.tmp.glob("started-*"))) >= 5, 30))
        os.kill(int((self.tmp / "agent-b").read_text()), signal.SIGKILL)
        out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertIn(b"taskpool: b is down (its agent", err)
        self.assertEqual(sorted(out.decode().splitlines()), sorted(f"done {i}" for i in range(1, 21)))
        self.assertEqual(sorted(int(r[0]) for r in joblog_rows(joblog)), list(range(1, 21)))


class SlurmClusterTest(unittest.TestCase):
    cluster: SlurmCluster

    @classmethod
    def setUpClass(cls):
        try:
            cls.cluster = SlurmCluster.start()
        except SkipCluster as why:
            raise unittest.SkipTest(f"no Slurm cluster here: {why}")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        self.cluster.wait_idle()
        self.tmp = Path(tempfile.mkdtemp(prefix="taskpool-slurm-test-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)], check=False))

    def in_allocation(self, salloc: List[str], *args: str, **kwargs):
        """taskpool --slurm ARGS under `salloc SALLOC`."""
        return run(["salloc", "--no-kill", *salloc, str(TASKPOOL), "--slurm", "--heartbeat",
                    HEARTBEAT, *args], env=self.cluster.env, **kwargs)

    def assert_released(self):
        self.assertTrue(wait_until(lambda: not self.cluster.jobs(), 30),
                        f"the allocation is still there: {self.cluster.jobs()}")

    def test_jobs_spread_over_the_nodes_with_each_node_cpus_as_workers(self):
        joblog = self.tmp / "joblog"
        result = self.in_allocation(["-N3", "--ntasks-per-node=2"], "--joblog", joblog,
                                    "sleep 0.5; echo {}", ":::", *map(str, range(1, 19)))
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(sorted(result.stdout.split()), sorted(str(i).encode() for i in range(1, 19)))
        rows = joblog_rows(joblog)
        self.assertEqual(sorted(int(r[0]) for r in rows), list(range(1, 19)))
        self.assertEqual({r[1] for r in rows}, set(NODES))
        self.assertEqual(set(max_overlap(rows).values()), {2})

    def test_j_sets_the_workers_of_each_node(self):
        joblog = self.tmp / "joblog"
        result = self.in_allocation(["-N2", "--ntasks-per-node=2"], "-j1", "--joblog", joblog,
                                    "sleep 0.3; : {}", ":::", *map(str, range(8)))
        self.assertEqual(result.code, 0, result.err)
        overlap = max_overlap(joblog_rows(joblog))
        self.assertEqual(len(overlap), 2)
        self.assertEqual(set(overlap.values()), {1})

    def test_hostile_records_arrive_unchanged(self):
        records = [b"a b", b"'single' \"double\"", b"$HOME `id` $(id)", b"back\\slash",
                   b"tab\there", b"new\nline", b"*?[glob]", b"-n", b"\xc3\xa9t\xc3\xa9 \xff",
                   b";|&<>", b" lead and trail "]
        result = self.in_allocation(["-N3"], "-0", "-k", "printf '%s\\0'",
                                    input=b"\0".join(records) + b"\0")
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(result.stdout, b"\0".join(records) + b"\0")

    def agents_on(self, node: str) -> List[int]:
        """The pids of the `taskpool agent` processes that run on `node`."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if (len(argv) > 1 and argv[0] == os.fsencode(TASKPOOL) and argv[1] == b"agent"
                    and f"SLURMD_NODENAME={node}".encode() in environ
                    and f"SLURM_CONF={self.cluster.conf}".encode() in environ):
                pids.append(int(entry.name))
        # The agent's guardian (tasks/guardian.h) is a fork of it: the agent is the one whose
        # parent is no agent.
        def parent(pid: int) -> int:
            try:
                return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                return 0
        return [pid for pid in pids if parent(pid) not in pids]

    def test_a_node_cut_off_mid_run_its_jobs_finish_elsewhere_exactly_once(self):
        joblog = self.tmp / "joblog"
        started = self.tmp / "started"
        started.mkdir()
        proc = subprocess.Popen(
            ["salloc", "--no-kill", "-N3", "--ntasks-per-node=2", str(TASKPOOL), "--slurm",
             "--heartbeat", HEARTBEAT, "--joblog", str(joblog),
             f"touch {started}/{{}}; sleep 1; echo done {{}}", ":::", *map(str, range(1, 31))],
            env=self.cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        self.assertTrue(wait_until(lambda: len(list(started.iterdir())) >= 6, 30))
        agents = self.agents_on("n2")
        self.assertEqual(len(agents), 1)
        # Cut off: silent, its jobs' ends never sent.
        os.kill(agents[0], signal.SIGSTOP)
        cut = time.monotonic()
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertIn(b"n2 is down (its agent has said nothing for", err)
        lines = sorted(out.decode().splitlines())
        self.assertEqual(lines, sorted(f"done {i}" for i in range(1, 31)))
        rows = joblog_rows(joblog)
        self.assertEqual(sorted(int(r[0]) for r in rows), list(range(1, 31)))
        # Nothing started on n2 once it was lost (1 s of silence, and a margin).
        lost_at = time.time() - (time.monotonic() - cut) + 3
        self.assertNotIn("n2", {r[1] for r in rows if float(r[2]) > lost_at})
        self.assert_released_steps()

    def assert_released_steps(self):
        self.assertTrue(wait_until(lambda: not self.cluster.jobs(), 30), self.cluster.jobs())

    def test_the_allocation_ending_under_taskpool(self):
        proc = subprocess.Popen(
            [str(TASKPOOL), "--slurm-alloc", "-N2", "--heartbeat", HEARTBEAT, "sleep", "60",
             ":::", "1", "2"],
            env=self.cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        self.assertTrue(wait_until(lambda: len(self.agents_on("n1") + self.agents_on("n2")) == 2, 30))
        jobs = self.cluster.jobs()
        self.assertEqual(len(jobs), 1)
        self.cluster.run("scancel", jobs[0])
        _out, err = proc.communicate(timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        # The run ends either way: its nodes' agents end (every host is down), or Slurm's
        # cancel reaches the jobs first and their agents report them killed.
        self.assertTrue(b"every host is down" in err or err.count(b"killed by signal") == 2, err)
        self.assert_released()

    def test_slurm_alloc_releases_its_allocation_on_success(self):
        result = run([TASKPOOL, "--slurm-alloc", "-N2 --ntasks-per-node=2", "--joblog",
                      self.tmp / "joblog", "echo", ":::", "a", "b", "c", "d"],
                     env=self.cluster.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(sorted(result.stdout.split()), [b"a", b"b", b"c", b"d"])
        self.assertEqual({r[1] for r in joblog_rows(self.tmp / "joblog")} <= {"n1", "n2", "n3"}, True)
        self.assert_released()

    def start_long_run(self, *extra: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(TASKPOOL), "--slurm-alloc", "-N1", *extra, "sleep", "60", ":::", "1"],
            env=self.cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        return proc

    def test_slurm_alloc_releases_its_allocation_on_ctrl_c(self):
        proc = self.start_long_run()
        self.assertTrue(wait_until(lambda: any(self.agents_on(n) for n in NODES), 30))
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # a second one ends the running jobs
        proc.communicate(timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assert_released()

    def test_slurm_alloc_releases_its_allocation_at_the_deadline(self):
        begun = time.monotonic()
        proc = self.start_long_run("--deadline", "3s", "--grace", "1s")
        _out, err = proc.communicate(timeout=90)
        self.assertNotEqual(proc.returncode, 0)
        self.assertLess(time.monotonic() - begun, 50)
        self.assert_released()

    def test_slurm_alloc_refused_names_salloc_problem(self):
        result = run([TASKPOOL, "--slurm-alloc", "-N9 --immediate=5", "true", ":::", "a"],
                     env=self.cluster.env)
        self.assertEqual(result.code, 255)
        self.assertIn("--slurm-alloc: salloc -N9 --immediate=5 took no allocation:", result.err)
        self.assert_released()


if __name__ == "__main__":
    unittest.main()
