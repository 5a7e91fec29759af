"""kill -9 at a random moment, then --resume: no job is lost, and no line of output.

Each trial runs jobs that sleep a little and print a few lines (now and then thousands, more than
a pipe holds) under --joblog, with -k, --tag, --line-buffer or none of them, kills taskpool with
SIGKILL at a random moment, and runs the same command again with --resume until it completes.
Every line of every job must then be in what the two runs printed, the joblog must list every
job, and the resumed run's own output must be whole (with -k: in input order).

A job printed by the killed run and not yet written to its joblog (the kill fell between the two)
runs again: its lines come twice. That is the price of never losing one; the trials count it.

The default run makes a few trials; TASKPOOL_STRESS_LONG=1 makes 250, the first 200 with -k. Random choices come from
TASKPOOL_STRESS_SEED (printed in every failure message)."""

import os
import random
import signal
import time
import unittest

from helpers import TaskpoolTestCase, sized, taskpool
from process_support import Background, joblog_rows

LONG = os.environ.get("TASKPOOL_STRESS_LONG") == "1"
SEED = int(os.environ.get("TASKPOOL_STRESS_SEED", "20261207"))
TRIALS = 250 if LONG else sized(4, 2)

# The record is "NUMBER:SLEEP:LINES".
JOB = """#!/bin/sh
IFS=:
set -- $1
sleep "$2"
i=0
while [ "$i" -lt "$3" ]; do i=$((i + 1)); echo "job $1 line $i"; done
"""

MODES = (["-k"], [], ["--line-buffer"], ["-k", "--tag"], ["-k", "--line-buffer"])
KEEP_ORDER_MODES = [mode for mode in MODES if "-k" in mode]
# The long run: 200 trials with -k (where output waits for earlier jobs), then 50 with any mode.
KEEP_ORDER_TRIALS = 200 if LONG else 0


class KillResumeTest(TaskpoolTestCase):

    def trial(self, rng: random.Random, number: int) -> int:
        """One trial; returns how many jobs printed their lines twice."""
        d = self.path(f"trial{number}")
        d.mkdir()
        job = d / "job"
        job.write_text(JOB)
        job.chmod(0o755)
        jobs = rng.randint(10, 60)
        records = []
        for i in range(1, jobs + 1):
            lines = 3000 if rng.random() < 0.05 else rng.randint(1, 20)
            records.append(f"{i}:{rng.choice(['0', '0.05', '0.1', '0.3'])}:{lines}")
        mode = rng.choice(KEEP_ORDER_MODES if number <= KEEP_ORDER_TRIALS else MODES)
        args = [*mode, f"-j{rng.randint(1, 8)}", "--joblog", "jl", "./job", ":::", *records]
        what = f"trial {number} (TASKPOOL_STRESS_SEED={SEED}): taskpool {' '.join(args[:6])}"

        first = Background(d, *args)
        self.addCleanup(first.kill)
        time.sleep(rng.uniform(0.0, 1.5))
        if first.running():
            os.kill(first.pid, signal.SIGKILL)
        killed = first.wait()
        second = taskpool("--resume", *args, cwd=d, timeout=120)
        self.assertEqual(second.code, 0, f"{what}: {second.err}")

        tagged = "--tag" in mode
        printed = (killed.out + second.out).splitlines()
        if tagged:
            printed = [line.split("\t", 1)[1] for line in printed if "\t" in line]
        seen = {}
        for line in printed:
            seen[line] = seen.get(line, 0) + 1
        twice = 0
        for record in records:
            n, _, lines = record.split(":")
            expected = [f"job {n} line {i}" for i in range(1, int(lines) + 1)]
            missing = [line for line in expected if line not in seen]
            self.assertEqual(missing[:3], [], f"{what}: job {n} lost lines")
            twice += seen[expected[-1]] > 1
        logged = {int(row[0]) for row in joblog_rows(d / "jl")}
        self.assertEqual(logged, set(range(1, jobs + 1)), f"{what}: jobs missing in the joblog")
        if "-k" in mode and "--line-buffer" not in mode:
            # The resumed run prints the jobs it ran whole and in input order.
            order = [int(line.split()[1]) for line in second.out.splitlines()
                     if line.split("\t")[-1].startswith("job ")
                     for line in [line.split("\t")[-1]]]
            self.assertEqual(order, sorted(order), f"{what}: -k output out of order")
        return twice

    def test_kill_9_then_resume_loses_no_job_and_no_line(self):
        rng = random.Random(SEED)
        twice = sum(self.trial(rng, n) for n in range(1, TRIALS + 1))
        if LONG:
            print(f"\n{TRIALS} trials ({KEEP_ORDER_TRIALS} with -k): {twice} jobs printed twice "
                  f"(killed between their output and their joblog line), none lost")


if __name__ == "__main__":
    unittest.main()
