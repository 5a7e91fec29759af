"""taskpool linked statically, and taskpool-net beside it: a run of commands loads no shared
library, and what needs libcurl (--fetch, the job server's client verbs) runs in taskpool-net,
which taskpool executes before it reads anything, so that nothing is read twice or lost when
taskpool-net cannot be run. A build with a sanitizer links taskpool dynamically, without
taskpool-net: these tests are skipped there."""

import os
import shutil
import unittest

from helpers import TASKPOOL, TaskpoolTestCase, run, sh, taskpool

NET = TASKPOOL.parent / "taskpool-net"


@unittest.skipUnless(NET.exists(), "taskpool is linked dynamically in this build")
class StaticProgramTest(TaskpoolTestCase):

    def alone(self):
        """A copy of taskpool in a directory of its own, without taskpool-net beside it."""
        where = self.path("alone")
        where.mkdir()
        copy = where / "taskpool"
        shutil.copy2(TASKPOOL, copy)
        return copy

    def test_a_run_of_commands_maps_no_shared_library(self):
        # The job's shell is taskpool's child: taskpool's memory map, read while it runs.
        r = taskpool("cat /proc/$PPID/maps; : {}", ":::", "1")
        self.assertExit(r, 0)
        self.assertIn(str(TASKPOOL.resolve()), r.out, "the map read is not taskpool's")
        libraries = [line for line in r.out.splitlines() if ".so" in line]
        self.assertEqual(libraries, [], "taskpool loaded shared libraries")

    def test_fetch_without_taskpool_net_fails_before_reading_input(self):
        copy = self.alone()
        out = self.path("out")
        r = sh(f"printf 'http://127.0.0.1:9/a\\nhttp://127.0.0.1:9/b\\n' | "
               f"{{ '{copy}' --fetch -o '{out}'; echo \"status $?\"; cat; }}")
        self.assertIn(f"taskpool: --fetch: cannot run {copy.parent}/taskpool-net: "
                      "No such file or directory", r.err)
        self.assertEqual(r.out, "status 255\nhttp://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n",
                         "taskpool read its input, or ended with another status")
        self.assertFalse(out.exists(), "the failed run made its output directory")

    def test_client_verb_without_taskpool_net_fails(self):
        copy = self.alone()
        r = run([copy, "status", "--server", "http://127.0.0.1:9"])
        self.assertExit(r, 255)
        self.assertIn(f"taskpool: status: cannot run {copy.parent}/taskpool-net: "
                      "No such file or directory", r.err)

    def test_a_run_of_commands_needs_no_taskpool_net(self):
        r = run([self.alone(), "echo", ":::", "a", "b"])
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split()), ["a", "b"])

    def test_fetch_runs_taskpool_net_with_the_same_arguments(self):
        # echo in taskpool-net's place prints the arguments it was given.
        copy = self.alone()
        os.symlink("/bin/echo", copy.parent / "taskpool-net")
        log = self.path("x.tsv")
        r = run([copy, "--fetch", "-o", self.path("o"), "--joblog", log])
        self.assertExit(r, 0)
        self.assertEqual(r.out, f"--fetch -o {self.path('o')} --joblog {log}\n",
                         "taskpool-net did not get taskpool's arguments as they were")
        self.assertFalse(log.exists(), "taskpool started the run before passing it on")


if __name__ == "__main__":
    unittest.main()
