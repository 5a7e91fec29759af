"""A real Slurm cluster on this machine for the --slurm tests and scripts/bench: munged,
slurmctld and three slurmd nodes (n1..n3, multiple-slurmd on loopback: `slurmd -N NAME`, each on
a port of its own), all in a private directory, with a slurm.conf that clients find through
$SLURM_CONF. Root only (slurmd runs jobs as their users); scripts/ensure-deps test installs
slurm-wlm and munge.

    cluster = SlurmCluster.start()      # raises SkipCluster with the reason when it cannot run
    cluster.env                         # the environment for srun, salloc, taskpool --slurm
    cluster.stop()                      # by pid, also registered with atexit

Every daemon is stopped by its pid, whatever happens to the test.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional

NODES = ("n1", "n2", "n3")
CPUS_PER_NODE = 2


class SkipCluster(Exception):
    """The cluster cannot run here; the message says why."""


def _free_ports(count: int) -> List[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cannot_run() -> Optional[str]:
    """Why no cluster can run here, or None."""
    if os.geteuid() != 0:
        return "the Slurm tests start slurmd, which needs root"
    for program in ("munged", "slurmctld", "slurmd", "srun", "salloc", "scontrol", "sinfo"):
        if shutil.which(program) is None and not Path("/usr/sbin", program).exists():
            return f"{program} is not installed (scripts/ensure-deps test installs slurm-wlm munge)"
    if not Path("/etc/munge/munge.key").exists():
        return "/etc/munge/munge.key is missing (the munge package makes it)"
    return None


class SlurmCluster:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="taskpool-slurm-"))
        os.chmod(self.dir, 0o755)  # munged wants its socket's directory 0755
        self.procs: List[subprocess.Popen] = []
        self.conf = self.dir / "slurm.conf"
        self.munge_socket = self.dir / "munge.socket"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        for name in ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NODELIST", "SLURM_NODELIST",
                     "SLURM_JOB_CPUS_PER_NODE"):
            self.env.pop(name, None)
        atexit.register(self.stop)

    @classmethod
    def start(cls) -> "SlurmCluster":
        reason = cannot_run()
        if reason:
            raise SkipCluster(reason)
        cluster = cls()
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _write_conf(self) -> None:
        ctld, *node_ports = _free_ports(1 + len(NODES))
        lines = [
            "ClusterName=taskpool",
            f"SlurmctldHost={socket.gethostname()}(127.0.0.1)",
            f"SlurmctldPort={ctld}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "SlurmdTimeout=30",
            "InactiveLimit=0",
            "KillWait=2",
            "MinJobAge=2",
            "MessageTimeout=10",
            f"StateSaveLocation={self.dir}/state",
            f"SlurmdSpoolDir={self.dir}/spool/%n",
            f"SlurmctldPidFile={self.dir}/slurmctld.pid",
            f"SlurmdPidFile={self.dir}/slurmd-%n.pid",
            f"SlurmctldLogFile={self.dir}/slurmctld.log",
            f"SlurmdLogFile={self.dir}/slurmd-%n.log",
        ]
        for name, port in zip(NODES, node_ports):
            lines.append(f"NodeName={name} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 "
                         f"Port={port} CPUs={CPUS_PER_NODE} State=UNKNOWN")
        lines.append(f"PartitionName=debug Nodes={','.join(NODES)} Default=YES "
                     "MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        (self.dir / "state").mkdir()
        for name in NODES:
            (self.dir / "spool" / name).mkdir(parents=True)

    def _daemon(self, argv: List[str], log: str) -> subprocess.Popen:
        with open(self.dir / log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    env=self.env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _start(self) -> None:
        self._write_conf()
        self._daemon(["munged", "-F", "-f", f"--socket={self.munge_socket}",
                      f"--pid-file={self.dir}/munged.pid", f"--seed-file={self.dir}/munged.seed",
                      f"--log-file={self.dir}/munged.log"], "munged.out")
        self._wait(lambda: self.munge_socket.exists(), 20, "munged made no socket")
        self._daemon(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld.out")
        self.slurmd = {}
        for name in NODES:
            self.slurmd[name] = self._daemon(["slurmd", "-D", "-N", name, "-f", str(self.conf)],
                                             f"slurmd-{name}.out")
        self._wait(self.all_idle, 60, "the nodes did not come up idle")

    def _wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{' '.join(proc.args)} exited ({proc.returncode}): "
                                       f"{self.logs()}")
            if condition():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {timeout} s: {self.logs()}")

    def states(self) -> dict:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], env=self.env,
                             capture_output=True, text=True, timeout=30)
        return dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2)

    def all_idle(self) -> bool:
        states = self.states()
        return all(states.get(name) == "idle" for name in NODES)

    def wait_idle(self, timeout: float = 60) -> None:
        try:
            self._wait(self.all_idle, timeout, "the nodes did not come back idle")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\nstates: {self.states()}, jobs: {self.jobs()}") from None

    def logs(self) -> str:
        text = ""
        for log in sorted(self.dir.glob("*.log")) + sorted(self.dir.glob("*.out")):
            text += f"\n--- {log.name}\n" + log.read_text(errors="replace")[-2000:]
        return text

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=self.env, capture_output=True, timeout=timeout)

    def jobs(self) -> List[str]:
        """The ids of the cluster's jobs that are pending or running."""
        out = self.run("squeue", "-h", "-o", "%i %T")
        return [line.split()[0] for line in out.stdout.decode().splitlines()
                if line.split()[1] in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")]

    def stop(self) -> None:
        # Jobs first, while the controller is there to end them (their steps' slurmstepd
        # processes run in sessions of their own).
        if self.procs and all(proc.poll() is None for proc in self.procs):
            try:
                for job in self.jobs():
                    self.run("scancel", "--full", job, timeout=20)
                deadline = time.monotonic() + 15
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.2)
            except (subprocess.SubprocessError, OSError):
                pass
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    c = SlurmCluster.start()
    print("up:", c.states(), "SLURM_CONF=" + str(c.conf))
    print(c.run("srun", "-N3", "hostname").stdout.decode())
    c.stop()
