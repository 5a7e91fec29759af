"""Kill -9 trials for `taskpool --fetch --continue`: a run downloading large and small files is
killed with SIGKILL at a random moment (sometimes twice), then run again to completion, half of
the time with its input in another order, with URLs of the same name from different paths among
it. Counted at the end: lost jobs (a URL without its file) and corrupt files (a file whose sha256
is not its URL's content, or whose origin is unknown); both must be zero, and no .part or record
may be left.

Which file holds which URL is read from the file's user.xdg.origin.url attribute, which taskpool
sets when it begins the file: a splice shows as a file whose bytes are not its origin's, a file
taken for another URL's as a URL without a file. Sizes and rates are chosen so that kills land in
the middle of transfers: the default run (3 trials of files of 2-6 MB) takes seconds; with
TASKPOOL_STRESS_LONG=1 it is 50 trials of files of 20-100 MB (5-20 MB in a sanitizer build). TASKPOOL_STRESS_SEED picks the
random choices (printed with the figures)."""

import os
import random
import sys
import time
import unittest
from pathlib import Path
from typing import Dict, List, Tuple

from helpers import REPO, kill_group, sized, taskpool
from process_support import Background, wait_until

sys.path.insert(0, str(REPO / "tests"))
from fetch_server import generated_sha256  # noqa: E402
from fetch_test import FetchCase, fetch_env, file_sha256, files_under  # noqa: E402

LONG = os.environ.get("TASKPOOL_STRESS_LONG") == "1"
SEED = int(os.environ.get("TASKPOOL_STRESS_SEED", "20240611"))
TRIALS = 50 if LONG else 3
MB = 1_000_000
# Sizes of the large files; a sanitizer build, slower, gets smaller ones in the long run.
LARGE = (sized(20, 5) * MB, sized(100, 20) * MB) if LONG else (2 * MB, 6 * MB)
RATE = (8, 30) if LONG else (2, 4)                          # --limit-rate, MB/s per transfer
KILL_AFTER = (0.2, 4.0) if LONG else (0.1, 1.0)             # seconds from start to SIGKILL
FINAL_TIMEOUT = 300 if LONG else 60


class KillTrialTest(FetchCase):

    def urls(self, rng: random.Random, trial: int) -> Dict[str, Tuple[int, int]]:
        """The trial's URLs (paths on the server) with their (size, seed): three large files
        named data.bin and two small ones named s.bin, from different paths, and a few small
        files of their own names."""
        files: Dict[str, Tuple[int, int]] = {}
        seed = trial * 100
        for k in range(3):
            seed += 1
            size = rng.randrange(*LARGE)
            files[f"/gens/{seed}/{size}/d{k}/data.bin"] = (size, seed)
        for k in range(2):
            seed += 1
            size = rng.randrange(1000, 300_000)
            files[f"/gens/{seed}/{size}/e{k}/s.bin"] = (size, seed)
        for k in range(4):
            seed += 1
            size = rng.randrange(0, 200_000)
            files[f"/gens/{seed}/{size}/f{k}.bin"] = (size, seed)
        return files

    def write_input(self, name: str, paths: List[str]) -> Path:
        return self.write(name, "".join(self.url(p) + "\n" for p in paths))

    def killed_run(self, rng: random.Random, out: Path, listing: Path) -> bool:
        """Runs taskpool on `listing` and kills it with SIGKILL at a random moment; False when
        it had already ended by then."""
        rate = rng.randrange(*RATE)
        run = Background(self.tmp, "--fetch", "--continue", "-j", str(rng.randrange(2, 7)),
                         "--limit-rate", f"{rate}M", "-o", out, "-a", listing, env=fetch_env())
        self.addCleanup(run.kill)
        deadline = time.monotonic() + rng.uniform(*KILL_AFTER)
        wait_until(lambda: not run.running() or time.monotonic() >= deadline, 30)
        ended = not run.running()
        kill_group(run.proc)
        run.wait(10)
        return not ended

    def check(self, out: Path, files: Dict[str, Tuple[int, int]]) -> Tuple[int, int, List[str]]:
        """(lost jobs, corrupt files, what went wrong) for the output directory `out`."""
        problems: List[str] = []
        found: Dict[str, Path] = {}
        corrupt = 0
        for relative in files_under(out):
            path = out / relative
            if path.name.endswith((".part", ".part.meta")):
                problems.append(f"{relative} left after the run completed")
                continue
            try:
                origin = os.getxattr(path, "user.xdg.origin.url").decode()
            except OSError:
                origin = None
            url_path = origin[len(self.server.base_url):] if origin else None
            if url_path not in files or url_path in found:
                corrupt += 1
                problems.append(f"{relative}: origin {origin!r} is not one URL's own")
                continue
            found[url_path] = relative
            size, seed = files[url_path]
            if file_sha256(path) != generated_sha256(size, seed):
                corrupt += 1
                problems.append(f"{relative}: {path.stat().st_size} bytes, not the {size} of "
                                f"{url_path}")
        lost = [p for p in files if p not in found]
        problems += [f"{p}: no file" for p in lost]
        return len(lost), corrupt, problems

    def test_sigkill_then_continue_loses_and_corrupts_nothing(self):
        rng = random.Random(SEED)
        lost = corrupt = kills = reordered = 0
        problems: List[str] = []
        for trial in range(TRIALS):
            out = self.path(f"out{trial}")
            files = self.urls(rng, trial)
            order = list(files)
            rng.shuffle(order)
            kills += self.killed_run(rng, out, self.write_input(f"urls{trial}.a", order))
            if rng.random() < 0.5:
                rng.shuffle(order)
                reordered += 1
            if rng.random() < 0.3:  # killed again while it resumes
                kills += self.killed_run(rng, out, self.write_input(f"urls{trial}.b", order))
            r = taskpool("--fetch", "--continue", "-j", "4", "-o", out,
                         "-a", self.write_input(f"urls{trial}.c", order),
                         timeout=FINAL_TIMEOUT, env=fetch_env())
            if r.code != 0:
                problems.append(f"trial {trial}: the last run exited {r.code}: {r.err[-1000:]}")
            trial_lost, trial_corrupt, trial_problems = self.check(out, files)
            lost += trial_lost
            corrupt += trial_corrupt
            problems += [f"trial {trial}: {p}" for p in trial_problems]
            for path in sorted(out.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
        figures = (f"kill -9 trials: {TRIALS} (seed {SEED}), {kills} runs killed mid-way, "
                   f"{reordered} reruns reordered: {lost} lost jobs, {corrupt} corrupt files")
        print(figures, file=sys.stderr)
        self.assertEqual(problems, [], figures)
        self.assertGreater(kills, 0, "no run was killed before it ended: the trials prove nothing")


if __name__ == "__main__":
    unittest.main()
