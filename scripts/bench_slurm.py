#!/usr/bin/env python3
"""scripts/bench's slurm scenario: N `true` jobs on a private Slurm cluster on this machine
(tests/integration/slurm_cluster.py: three nodes of 2 CPUs, multiple-slurmd on loopback):
taskpool --slurm in an allocation of the 3 nodes, GNU parallel with one `srun --exclusive` per
job in the same allocation, `sbatch --array`, and taskpool on this machine alone (-j6, the same
6 workers). Prints one tab-separated row per runner: runner, jobs, seconds, jobs/s, controller
RPCs (sdiag's count of RPCs by message type, reset before each runner).

    scripts/bench_slurm.py TASKPOOL N PARALLEL_N ARRAY_N LIMIT
"""

import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from slurm_cluster import SkipCluster, SlurmCluster  # noqa: E402

ALLOC = ["salloc", "--no-kill", "-N3", "--ntasks-per-node=2"]


def rpcs(cluster: SlurmCluster) -> int:
    out = cluster.run("sdiag").stdout.decode()
    section = out.split("Remote Procedure Call statistics by message type", 1)[-1]
    section = section.split("Remote Procedure Call statistics by user", 1)[0]
    return sum(int(n) for n in re.findall(r"count:(\d+)", section))


def measure(cluster: SlurmCluster, name: str, jobs: int, argv, limit: float) -> None:
    cluster.wait_idle()
    cluster.run("sdiag", "-r")
    begun = time.monotonic()
    try:
        result = subprocess.run(argv, env=cluster.env, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"{name}\t{jobs}\t-\t-\t-\ttimeout ({limit:.0f} s)", flush=True)
        return
    seconds = time.monotonic() - begun
    calls = rpcs(cluster)
    note = "" if result.returncode == 0 else f"failed (exit {result.returncode}): " + \
        result.stderr.decode(errors="replace").strip().splitlines()[-1][:200]
    print(f"{name}\t{jobs}\t{seconds:.2f}\t{jobs / seconds:.1f}\t{calls}\t{note}", flush=True)


def main() -> int:
    taskpool, n, parallel_n, array_n, limit = sys.argv[1], *map(int, sys.argv[2:6])
    try:
        cluster = SlurmCluster.start()
    except SkipCluster as why:
        print(f"skip\t-\t-\t-\t-\t{why}", flush=True)
        return 0
    try:
        records = [str(i) for i in range(n)]
        measure(cluster, "taskpool --slurm", n,
                [*ALLOC, taskpool, "--slurm", "true", ":::", *records], limit)
        measure(cluster, "taskpool -j6 (this machine, no Slurm)", n,
                [taskpool, "-j6", "true", ":::", *records], limit)
        measure(cluster, "parallel -j6 srun -N1 -n1 --exclusive", parallel_n,
                [*ALLOC, "parallel", "--will-cite", "-j6", "srun", "-N1", "-n1", "--exclusive",
                 "true", ":::", *map(str, range(parallel_n))], limit)
        measure(cluster, "sbatch --array --wait", array_n,
                ["sbatch", "--wait", "--array", f"1-{array_n}", "-o", "/dev/null", "--wrap",
                 "true"], limit)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
