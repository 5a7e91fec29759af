"""GNU parallel's tutorial side by side: every example of `man parallel_tutorial` that taskpool
matches (tests/tutorial/examples.txt, less the slow, the timing-dependent and the known
differences) must still give what GNU parallel gives: the same output, exit status and files.
Runs scripts/tutorial_compare --check; skipped, with a notice, when GNU parallel is not
installed."""

import subprocess
import sys
import unittest

from helpers import REPO, TASKPOOL, TaskpoolTestCase, requires_gnu_parallel


@requires_gnu_parallel
class TutorialTest(TaskpoolTestCase):
    def test_the_tutorial_examples_that_match_still_match(self):
        r = subprocess.run([sys.executable, str(REPO / "scripts" / "tutorial_compare"), "--check",
                            "-j2", "--taskpool", str(TASKPOOL)],
                           capture_output=True, timeout=900, stdin=subprocess.DEVNULL)
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0,
                         f"{out[-20000:]}\nstderr: {r.stderr.decode(errors='replace')[-2000:]}")
        self.assertRegex(out, r"\n(\d{2,}) of \1 examples match")


if __name__ == "__main__":
    unittest.main()
