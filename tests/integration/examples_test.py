"""The examples from taskpool's documentation, run as a user would run them."""

import gzip
import json
import re
import time
import unittest

from helpers import TaskpoolTestCase, sh, taskpool


def durations_file(test, name, durations):
    return test.write(name, "".join(f"{d}\n" for d in durations))


class ExamplesTest(TaskpoolTestCase):

    def test_gzip_log_files_from_ls(self):
        contents = {f"part{i}.log": (f"line {i}\n" * (100 + i)).encode() for i in range(6)}
        for name, data in contents.items():
            self.write(name, data)
        r = sh("ls *.log | taskpool -j4 gzip", cwd=self.tmp)
        self.assertExit(r, 0)
        for name, data in contents.items():
            self.assertFalse(self.path(name).exists(), f"{name} was not replaced by {name}.gz")
            with gzip.open(self.path(name + ".gz")) as f:
                self.assertEqual(f.read(), data, f"{name}.gz does not decompress to the original")

    def test_cartesian_product_kept_in_order(self):
        r = taskpool("-k", "echo", "{1}-{2}", ":::", "a", "b", ":::", "1", "2")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"a-1\na-2\nb-1\nb-2\n")

    def test_find_print0_with_replacement_strings(self):
        # The `convert {} {.}.jpg` example, with cp instead of convert.
        names = ["plain.png", "with space.png", "new\nline.png", "it's.png", "semi;colon.png",
                 "$(touch pwned).png", "dir with space/inner.png", "ünï.png", "-dash.png"]
        for i, name in enumerate(names):
            self.write(name, f"image {i}\n")
        r = sh("find . -name '*.png' -print0 | taskpool -0 cp {} {.}.jpg", cwd=self.tmp)
        self.assertExit(r, 0)
        for i, name in enumerate(names):
            jpg = self.path(name[:-len(".png")] + ".jpg")
            self.assertTrue(jpg.exists(), f"{jpg.name!r} was not made")
            self.assertEqual(jpg.read_text(), f"image {i}\n")
        self.assertNoPwned()

    def test_records_are_command_lines_without_a_command(self):
        r = sh("printf 'sleep 0.2\\necho hi\\n' | taskpool", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"hi\n")

    def test_records_are_command_lines_with_shell_syntax(self):
        r = sh("printf 'echo a; echo b\\necho c | tr c C\\nexit 0\\n' | taskpool -k", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"a\nb\nC\n")

    def test_command_that_is_only_the_placeholder_runs_each_record(self):
        r = taskpool("-k", "{}", ":::", "echo one", "echo two | tr o 0")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"one\ntw0\n")

    def test_batch_mode_waits_for_each_batch(self):
        # Batches of 4: each lasts as long as its slowest job, so at least 3 x 0.6 s.
        durations = [0.6, 0.05, 0.05, 0.05] * 3
        durations_file(self, "durations.txt", durations)
        start = time.monotonic()
        r = sh("taskpool --mode batch -j4 --joblog log.tsv sleep < durations.txt", cwd=self.tmp)
        wall = time.monotonic() - start
        self.assertExit(r, 0)
        self.assertGreaterEqual(wall, 1.75, "batch mode finished faster than its batches allow")
        # No job of a batch starts before every job of the previous batch has ended.
        rows = [line.split("\t") for line in self.path("log.tsv").read_text().splitlines()[1:]]
        self.assertEqual(len(rows), 12)
        jobs = {int(r[0]): (float(r[2]), float(r[2]) + float(r[3])) for r in rows}
        for batch in range(1, 3):
            previous_end = max(jobs[s][1] for s in range(4 * batch - 3, 4 * batch + 1))
            for seq in range(4 * batch + 1, 4 * batch + 5):
                self.assertGreaterEqual(jobs[seq][0], previous_end - 0.02,
                                        f"job {seq} started before batch {batch} had finished")

    def test_pool_mode_is_faster_than_batch_on_skewed_durations(self):
        durations_file(self, "durations.txt", [0.6, 0.05, 0.05, 0.05] * 3)
        start = time.monotonic()
        r = sh("taskpool -j4 sleep < durations.txt", cwd=self.tmp)
        wall = time.monotonic() - start
        self.assertExit(r, 0)
        # Pool mode needs about 0.75 s here; batch mode needs at least 1.8 s.
        self.assertLess(wall, 1.75, "pool mode took as long as batch mode")

    def test_compare_prints_both_modes_and_the_speedup(self):
        durations_file(self, "durations.txt", [0.8, 0.1, 0.1, 0.1] * 3)
        r = sh("taskpool --compare -j4 --summary-json compare.json sleep < durations.txt",
               cwd=self.tmp)
        self.assertExit(r, 0)
        out = r.out
        self.assertIn("batch", out)
        self.assertIn("pool", out)
        for row in ("wall time", "throughput", "utilization", "idle", "p50", "p95", "max"):
            self.assertIn(row, out, f"--compare output has no {row!r} row")
        m = re.search(r"speed-?up[^0-9]*([0-9]+(?:\.[0-9]+)?)", out, re.IGNORECASE)
        self.assertIsNotNone(m, f"no speed-up figure in --compare output:\n{out}")
        speedup = float(m.group(1))
        # Batch needs 3 x 0.8 = 2.4 s, pool about 1.0 s: expect ~2.4x, demand only >= 1.
        self.assertGreaterEqual(speedup, 1.0, f"pool slower than batch:\n{out}")
        jobs_row = re.search(r"^jobs\s+(\d+)\s+(\d+)\s*$", out, re.MULTILINE)
        self.assertIsNotNone(jobs_row, f"no jobs row in --compare output:\n{out}")
        self.assertEqual(jobs_row.groups(), ("12", "12"))

        data = json.loads(self.path("compare.json").read_text())
        batch, pool = data["batch"]["wall_seconds"], data["pool"]["wall_seconds"]
        self.assertGreaterEqual(batch, 2.3, "batch mode finished faster than its batches allow")
        self.assertLessEqual(pool, batch * 1.05, "pool mode was slower than batch mode")
        self.assertEqual(data["batch"]["jobs"]["total"], 12)
        self.assertEqual(data["pool"]["jobs"]["total"], 12)
        self.assertGreaterEqual(data["speedup"], 1.0)

if __name__ == "__main__":
    unittest.main()
