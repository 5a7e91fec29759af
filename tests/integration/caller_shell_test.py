"""The caller's shell: run from bash, jobs see bash (export -f, brace expansion, [[ ]]) as under
GNU parallel; run from dash, /bin/sh as before; $PARALLEL_SHELL chooses. Compared with GNU
parallel run the same way (skipped, with a notice, when it is not installed)."""

import shutil
import unittest

from helpers import TASKPOOL, gnu_parallel, requires_gnu_parallel, run, test_env
from xargs_habits_test import XargsHabitsCase

BASH_SCRIPT = """
fn() {{ echo "fn got $1"; }}
export -f fn
{tool} -k fn ::: 1 2
{tool} -k 'echo {{a,b}}{{}}' ::: 1 2
{tool} -k '[[ {{}} == 1 ]] && echo one || echo other' ::: 1 2
{tool} -k "printf '%s|' {{}}; echo" ::: "it's" 'a b' '$x' 'back\\slash' $'tab\\there'
true
"""


def without_parallel_shell(extra=None):
    env = test_env()
    env.pop("PARALLEL_SHELL", None)
    env.update(extra or {})
    return env


@requires_gnu_parallel
class CallerShellSameAsGnuParallelTest(XargsHabitsCase):

    def from_shell(self, shell, script, tool, env=None):
        return run([shell, "-c", script.format(tool=tool)], cwd=self.tmp,
                   env=env or without_parallel_shell())

    def test_from_bash_functions_braces_and_brackets_work(self):
        mine = self.from_shell("bash", BASH_SCRIPT, TASKPOOL)
        ref = self.from_shell("bash", BASH_SCRIPT, gnu_parallel() + " --will-cite")
        self.assertExit(ref, 0, "GNU parallel itself")
        self.assertExit(mine, 0)
        self.assertEqual(mine.out, ref.out)
        self.assertIn("fn got 1\nfn got 2\na1 b1\na2 b2\none\nother\n", mine.out)

    def test_from_dash_jobs_run_in_sh(self):
        script = "{tool} -k 'echo {{a,b}}{{}}' ::: 1; true"
        mine = self.from_shell("dash", script, TASKPOOL, without_parallel_shell({"SHELL": "/bin/bash"}))
        ref = self.from_shell("dash", script, gnu_parallel() + " --will-cite",
                              without_parallel_shell({"SHELL": "/bin/bash"}))
        self.assertEqual(mine.out, ref.out)
        self.assertEqual(mine.out, "{a,b}1\n")

    def test_parallel_shell_forces_sh(self):
        script = "{tool} -k 'echo {{a,b}}{{}}' ::: 1; true"
        env = without_parallel_shell({"PARALLEL_SHELL": "/bin/sh"})
        mine = self.from_shell("bash", script, TASKPOOL, env)
        ref = self.from_shell("bash", script, gnu_parallel() + " --will-cite", env)
        self.assertEqual(mine.out, ref.out)
        self.assertEqual(mine.out, "{a,b}1\n")


class CallerShellTest(XargsHabitsCase):

    def test_a_command_without_shell_syntax_is_still_run_directly(self):
        # Under bash, a plain command does not start bash: its parent is taskpool itself.
        r = run(["bash", "-c", f"{TASKPOOL} cat /proc/self/stat ::: /dev/null & wait; echo $!"],
                cwd=self.tmp, env=without_parallel_shell())
        self.assertExit(r, 0)
        stat, taskpool_pid = r.out.splitlines()
        self.assertIn("(cat)", stat)
        self.assertEqual(stat.split(") ")[1].split()[1], taskpool_pid)

    def test_an_exported_function_shadows_a_program_as_in_bash(self):
        r = run(["bash", "-c", f"true() {{ echo shadowed; }}; export -f true; "
                               f"{TASKPOOL} true ::: 1; exit"],
                cwd=self.tmp, env=without_parallel_shell())
        self.assertExit(r, 0)
        self.assertEqual(r.out, "shadowed\n")

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_from_zsh(self):
        r = run(["zsh", "-c", f"{TASKPOOL} -k 'echo $ZSH_NAME {{}}' ::: 'it'\"'\"'s'; true"],
                cwd=self.tmp, env=without_parallel_shell())
        self.assertEqual(r.out, "zsh it's\n")


if __name__ == "__main__":
    unittest.main()
