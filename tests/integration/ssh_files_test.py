"""taskpool -S with what goes around a remote job: --env, --transferfile/--transfer, --return,
--cleanup, --trc and --basefile, against real sshd hosts (sshd_hosts.py), compared with GNU
parallel where it can run the same line (its transfers need rsync).

Each host's login directory is a directory of the test machine (the host's `home`), so the test
sees what arrived there; the hosts share the rest of the file system, so the tests use relative
paths only (an absolute path would be the same file here and there)."""

import os
import shutil
import sys
import unittest

from helpers import TaskpoolTestCase, gnu_parallel, parallel, taskpool, test_env
from sshd_hosts import SshdHosts, sshd_unavailable

_hosts = None


def setUpModule():
    global _hosts
    reason = sshd_unavailable()
    if reason:
        print(f"\nssh_files_test: SKIPPED, this machine cannot run sshd: {reason}", file=sys.stderr)
        return
    _hosts = SshdHosts(2)


def tearDownModule():
    if _hosts:
        _hosts.close()


class FilesCase(TaskpoolTestCase):

    def setUp(self):
        if _hosts is None:
            self.skipTest(f"this machine cannot run sshd: {sshd_unavailable()}")
        super().setUp()
        self.hosts = _hosts
        for host in self.hosts.hosts:  # each test starts with empty login directories
            for entry in host.home.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        self.sockets = self.path("sockets")
        self.sockets.mkdir()
        self.work = self.path("work")
        self.work.mkdir()

    def env(self, extra=None):
        return test_env({"TMPDIR": str(self.sockets), **(extra or {})})

    def run_taskpool(self, *args, env=None, input=None):
        return taskpool("--ssh", self.hosts.ssh_command, *args, env=env or self.env(),
                        cwd=self.work, input=input)

    def home_files(self, host):
        return sorted(str(p.relative_to(host.home)) for p in host.home.rglob("*"))

    def gnu_login(self, host):
        """GNU parallel's -S for a host: the whole ssh command."""
        return f"{self.hosts.ssh_command} -p {host.port} root@{host.address}"


HOSTILE = "it's a \"value\" with $HOME, `id`, $(touch pwned); and\nnew lines\\"


class EnvTest(FilesCase):

    def test_variables_arrive_unchanged_and_unset_ones_stay_unset(self):
        a = self.hosts.hosts[0]
        line = 'printf "[%s] [%s] [%s]\\n" "$TP_ONE" "$TP_TWO" "${TP_UNSET-unset}"; : {}'
        env = self.env({"TP_ONE": HOSTILE, "TP_TWO": ""})
        env.pop("TP_UNSET", None)
        r = self.run_taskpool("-S", a.login, "--env", "TP_ONE", "--env", "TP_TWO", "--env",
                              "TP_UNSET", line, ":::", "x", env=env)
        self.assertExit(r, 0)
        self.assertEqual(r.out, f"[{HOSTILE}] [] [unset]\n")
        self.assertNoPwned(a.home)
        self.assertNoPwned(self.work)
        if gnu_parallel():
            ref = parallel("-S", self.gnu_login(a), "--env", "TP_ONE", "--env", "TP_TWO",
                           "--env", "TP_UNSET", line, ":::", "x", env=env)
            self.assertEqual(r.out, ref.out, "as GNU parallel")

    def test_without_env_the_variable_does_not_travel(self):
        a = self.hosts.hosts[0]
        r = self.run_taskpool("-S", a.login, 'echo "[${TP_ONE-unset}]"; : {}', ":::", "x",
                              env=self.env({"TP_ONE": "here"}))
        self.assertExit(r, 0)
        self.assertEqual(r.out, "[unset]\n")

    def test_underscore_copies_all_but_the_ignored_variables(self):
        a = self.hosts.hosts[0]
        home = self.path("home")
        (home / ".parallel").mkdir(parents=True)
        env = self.env({"HOME": str(home), "TP_NEW": "fresh", "TP_OLD": "stale"})
        ignored = [name for name in env if name != "TP_NEW"]
        (home / ".parallel" / "ignored_vars").write_text("\n".join(ignored) + "\n")
        line = 'echo "[$TP_NEW] [${TP_OLD-unset}]"; : {}'
        r = self.run_taskpool("-S", a.login, "--env", "_", line, ":::", "x", env=env)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "[fresh] [unset]\n")

    def test_underscore_without_the_ignored_list_is_a_usage_error(self):
        home = self.path("home")
        home.mkdir()
        r = taskpool("--env", "_", "-S", "host", "true", ":::", "1",
                     env=self.env({"HOME": str(home)}))
        self.assertExit(r, 255)
        self.assertIn(f"--env _: cannot read '{home}/.parallel/ignored_vars'", r.err)

    def test_a_bad_name_is_a_usage_error(self):
        r = taskpool("--env", "A-B", "-S", "host", "true", ":::", "1")
        self.assertExit(r, 255)
        self.assertIn("--env: 'A-B' is not a variable name", r.err)


class TransferTest(FilesCase):

    NAMES = ["plain.txt", "two words.txt", "it's.txt", "$HOME.txt"]

    def test_trc_sends_runs_brings_back_and_cleans_up(self):
        a = self.hosts.hosts[0]
        for i, name in enumerate(self.NAMES):
            (self.work / "in").mkdir(exist_ok=True)
            (self.work / "in" / name).write_text("x" * (i + 1))
        r = self.run_taskpool("-S", a.login, "--trc", "{}.out", "wc -c < {} > {}.out",
                              ":::", *[f"in/{n}" for n in self.NAMES])
        self.assertExit(r, 0)
        for i, name in enumerate(self.NAMES):
            self.assertEqual((self.work / "in" / f"{name}.out").read_text().strip(), str(i + 1))
        self.assertEqual(self.home_files(a), [], "--cleanup left files on the host")

    def test_without_cleanup_the_files_stay_where_gnu_parallel_puts_them(self):
        a = self.hosts.hosts[0]
        self.write("work/top/sub/f.txt", "data")
        self.write("work/plain/g.txt", "more")
        r = self.run_taskpool("-S", a.login, "--transferfile", "{}", "cat {}", ":::",
                              "top/./sub/f.txt", "plain/g.txt")
        self.assertExit(r, 1, "top/./sub/f.txt lands in sub/f.txt: the command's path is not there")
        self.assertEqual(r.out, "more")
        self.assertEqual(sorted(self.home_files(a)),
                         ["plain", "plain/g.txt", "sub", "sub/f.txt"])
        self.assertEqual((a.home / "sub" / "f.txt").read_text(), "data")

    def test_return_with_a_dot_dir_puts_the_file_under_the_local_part(self):
        a = self.hosts.hosts[0]
        r = self.run_taskpool("-S", a.login, "--return", "out/./{}.res", "--cleanup",
                              "mkdir -p $(dirname {}); echo made > {}.res", ":::", "in/one")
        self.assertExit(r, 0)
        self.assertEqual((self.work / "out" / "in" / "one.res").read_text(), "made\n")
        self.assertEqual(self.home_files(a), [])

    def test_a_mode_is_kept(self):
        a = self.hosts.hosts[0]
        tool = self.write("work/tool.sh", "#!/bin/sh\necho tool $1\n")
        tool.chmod(0o750)
        r = self.run_taskpool("-S", a.login, "--tf", "tool.sh", "./tool.sh {}", ":::", "1")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "tool 1\n")
        self.assertEqual((a.home / "tool.sh").stat().st_mode & 0o777, 0o750)

    def test_a_file_that_cannot_be_sent_fails_the_job_and_names_file_and_host(self):
        a = self.hosts.hosts[0]
        self.write("work/here.txt", "ok")
        r = self.run_taskpool("-S", a.login, "--transfer", "-k", "echo ran {}", ":::",
                              "missing.txt", "here.txt")
        self.assertExit(r, 1)
        self.assertEqual(r.out, "ran here.txt\n", "the job whose file is missing did not run")
        self.assertIn(f"--transferfile: cannot send 'missing.txt' to {a.login}: "
                      "No such file or directory", r.err)

    def test_a_file_that_cannot_be_brought_back_fails_the_job(self):
        a = self.hosts.hosts[0]
        r = self.run_taskpool("-S", a.login, "--return", "{}.none", "echo ran {}", ":::", "x")
        self.assertExit(r, 1)
        self.assertEqual(r.out, "ran x\n")
        self.assertIn(f"--return: cannot bring 'x.none' back from {a.login} to 'x.none'", r.err)
        self.assertFalse((self.work / "x.none").exists())
        self.assertFalse((self.work / "x.none.taskpool-part").exists())

    def test_this_machine_ignores_the_transfers(self):
        self.write("work/f.txt", "local")
        r = self.run_taskpool("-S", ":", "--trc", "{}.out", "cat {} > {}.out", ":::", "f.txt")
        self.assertExit(r, 0)
        self.assertEqual((self.work / "f.txt.out").read_text(), "local")
        self.assertTrue((self.work / "f.txt").exists(), "--cleanup is for other machines")

    @unittest.skipUnless(shutil.which("rsync") and gnu_parallel(), "GNU parallel's --trc needs rsync")
    def test_trc_as_gnu_parallel(self):
        a = self.hosts.hosts[0]
        for name in self.NAMES:
            self.write(f"work/{name}", name)
        line = "tr a-z A-Z < {} > {}.out"
        mine = self.run_taskpool("-S", a.login, "--trc", "{}.out", line, ":::", *self.NAMES)
        got = {n: (self.work / f"{n}.out").read_text() for n in self.NAMES}
        for n in self.NAMES:
            (self.work / f"{n}.out").unlink()
        ref = parallel("-S", self.gnu_login(a), "--trc", "{}.out", line, ":::", *self.NAMES,
                       cwd=self.work, env=self.env())
        theirs = {n: (self.work / f"{n}.out").read_text() for n in self.NAMES}
        self.assertEqual((mine.code, got), (ref.code, theirs))


class BasefileTest(FilesCase):

    def test_each_host_gets_the_basefile_before_its_first_job(self):
        a, b = self.hosts.hosts
        tool = self.write("work/tool.sh", "#!/bin/sh\necho tool $1 $(cat host-name 2>/dev/null)\n")
        tool.chmod(0o755)
        r = self.run_taskpool("-S", f"2/{a.login},2/{b.login}", "--bf", "tool.sh", "-k",
                              "./tool.sh {}", ":::", *map(str, range(1, 9)))
        self.assertExit(r, 0)
        self.assertEqual(r.out, "".join(f"tool {i}\n" for i in range(1, 9)))
        for host in (a, b):
            self.assertEqual(self.home_files(host), ["tool.sh"])

    def test_cleanup_removes_the_basefile_at_the_end(self):
        a, b = self.hosts.hosts
        self.write("work/data/base.txt", "shared\n")
        r = self.run_taskpool("-S", f"{a.login},{b.login}", "--bf", "data/base.txt",
                              "--cleanup", "cat data/base.txt; : {}", ":::", "1", "2", "3")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "shared\n" * 3)
        self.assertEqual((self.home_files(a), self.home_files(b)), ([], []))

    def test_a_basefile_that_cannot_be_sent_takes_the_host_down(self):
        a = self.hosts.hosts[0]
        r = self.run_taskpool("-S", a.login, "--bf", "missing.sh", "echo {}", ":::", "1")
        self.assertExit(r, 1)
        self.assertIn(f"--basefile: cannot send 'missing.sh' to {a.login}", r.err)
        self.assertEqual(r.out, "")


class OnAllTest(FilesCase):

    def setUp(self):
        super().setUp()
        for host in self.hosts.hosts:
            (host.home / "host-name").write_text(host.name + "\n")

    def logins(self):
        return ",".join(h.login for h in self.hosts.hosts)

    def test_onall_runs_every_job_on_every_host_grouped_by_host(self):
        line = 'echo {} $(cat host-name)'
        r = self.run_taskpool("-S", self.logins(), "--onall", line, ":::", "a", "b c")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "a h1\nb c h1\na h2\nb c h2\n")
        if gnu_parallel():
            gnu_s = [arg for h in self.hosts.hosts for arg in ("-S", self.gnu_login(h))]
            ref = parallel(*gnu_s, "-j1", "--onall", line, ":::", "a", "b c", env=self.env())
            self.assertEqual((r.out, r.code), (ref.out, ref.code), "as GNU parallel")

    def test_onall_reads_standard_input_once_for_all_hosts(self):
        r = self.run_taskpool("-S", self.logins(), "--onall", "echo {} $(cat host-name)",
                              input=b"x\ny\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "x h1\ny h1\nx h2\ny h2\n")

    def test_nonall_runs_the_command_once_per_host_without_argument(self):
        line = 'echo "[$#]" $(cat host-name)'
        r = self.run_taskpool("-S", self.logins(), "--nonall", line)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "[0] h1\n[0] h2\n")
        if gnu_parallel():
            gnu_s = [arg for h in self.hosts.hosts for arg in ("-S", self.gnu_login(h))]
            ref = parallel(*gnu_s, "-j1", "--nonall", line, env=self.env())
            self.assertEqual(r.out, ref.out, "as GNU parallel")

    def test_tag_names_the_host_and_failures_add_up(self):
        a, b = self.hosts.hosts
        joblog = self.path("joblog")
        r = self.run_taskpool("-S", self.logins(), "--onall", "--tag", "--joblog", joblog,
                              'echo {}; [ {} = ok ]', ":::", "ok", "bad")
        self.assertExit(r, 2, "one failed job per host")
        self.assertEqual(r.out, f"{a.login}\tok\n{a.login}\tbad\n{b.login}\tok\n{b.login}\tbad\n")
        rows = [line.split("\t") for line in joblog.read_text().splitlines()[1:]]
        self.assertEqual([(row[0], row[1], row[6]) for row in rows],
                         [("1", a.login, "0"), ("2", a.login, "1"), ("1", b.login, "0"),
                          ("2", b.login, "1")])

    def test_usage_errors(self):
        r = taskpool("--onall", "echo", ":::", "1")
        self.assertExit(r, 255)
        self.assertIn("--onall and --nonall run on the hosts of -S/--sshlogin", r.err)
        r = self.run_taskpool("-S", self.hosts.hosts[0].login, "--nonall", "echo", ":::", "1")
        self.assertExit(r, 255)
        self.assertIn("--nonall runs the command with no argument", r.err)


if __name__ == "__main__":
    unittest.main()
