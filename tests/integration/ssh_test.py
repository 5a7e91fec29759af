"""taskpool -S: jobs on other machines through OpenSSH, against real sshd hosts (sshd_hosts.py).

Each test host is an sshd of its own (in a network namespace of its own where the machine allows
it) with its own home directory, where a file `host-name` says which host a job ran on. The
hosts share this machine's file system otherwise, so jobs can write to the test's directory, and
the processes they start are visible here (and through ssh, which is how the tests look)."""

import os
import signal
import sys
import time
import unittest

from helpers import TaskpoolTestCase, bin_dir, show_args_output, taskpool
from process_support import (Background, joblog_by_seq, kill_all, read_json, read_pids,
                             unique_seconds, wait_until)
from sshd_hosts import SshdHosts, sshd_unavailable

PATIENCE = 30
_hosts = None


def setUpModule():
    global _hosts
    reason = sshd_unavailable()
    if reason:
        print(f"\nssh_test: SKIPPED, this machine cannot run sshd: {reason}", file=sys.stderr)
        return
    _hosts = start_hosts(2)


def tearDownModule():
    if _hosts:
        _hosts.close()


def start_hosts(n):
    hosts = SshdHosts(n)
    for host in hosts.hosts:
        (host.home / "host-name").write_text(host.name + "\n")
    return hosts


class SshCase(TaskpoolTestCase):

    def setUp(self):
        if _hosts is None:
            self.skipTest(f"this machine cannot run sshd: {sshd_unavailable()}")
        super().setUp()
        self.hosts = _hosts
        # Control sockets go to $TMPDIR: the test checks that they are gone afterwards.
        self.sockets = self.path("sockets")
        self.sockets.mkdir()
        self.addCleanup(self.assertNoSocketsLeft)

    def assertNoSocketsLeft(self):
        self.assertEqual(list(self.sockets.iterdir()), [], "control sockets left behind")

    def env(self):
        from helpers import test_env
        return test_env({"TMPDIR": str(self.sockets)})

    def run_taskpool(self, *args, hosts=None, **kwargs):
        hosts = hosts or self.hosts
        return taskpool("--ssh", hosts.ssh_command, *args, env=self.env(), **kwargs)

    def background(self, *args, hosts=None):
        hosts = hosts or self.hosts
        run = Background(self.tmp, "--ssh", hosts.ssh_command, *args, env=self.env())
        self.addCleanup(run.kill)
        return run

    def remote_processes(self, host, word):
        """PIDs of the processes on `host` with `word` in their command line, seen through ssh."""
        r = self.hosts.ssh(host, "ps -eo pid=,args=")
        self.assertEqual(r.returncode, 0, r.stderr)
        pids = []
        for line in r.stdout.decode().splitlines():
            pid, _, args = line.strip().partition(" ")
            if word in args.split():
                pids.append(int(pid))
        return pids

    def assertNoRemoteSurvivors(self, host, word):
        ok = wait_until(lambda: not self.remote_processes(host, word), 5, 0.1)
        left = self.remote_processes(host, word)
        kill_all(left)
        self.assertTrue(ok, f"processes still running on {host.name}: {left}")


class SpreadTest(SshCase):

    def test_jobs_spread_over_hosts_and_the_joblog_names_them(self):
        a, b = self.hosts.hosts
        joblog = self.path("joblog")
        r = self.run_taskpool("-S", f"2/{a.login},2/{b.login}", "--joblog", joblog,
                              "--summary-json", self.path("s.json"),
                              "echo {} $(cat host-name) {%}", ":::", *map(str, range(1, 9)))
        self.assertExit(r, 0)
        ran_on = {}
        for line in r.out.splitlines():
            seq, host, worker = line.split()
            ran_on[int(seq)] = (host, int(worker))
        self.assertEqual(sorted(ran_on), list(range(1, 9)))
        self.assertEqual({h for h, _ in ran_on.values()}, {"h1", "h2"}, "both hosts ran jobs")
        logins = {"h1": a.login, "h2": b.login}
        rows = joblog_by_seq(joblog)
        for seq, (host, worker) in ran_on.items():
            self.assertEqual(rows[seq][1], logins[host], f"joblog Host of job {seq}")
            self.assertIn(worker, range(1, 5))
        report = read_json(self.path("s.json"))
        self.assertEqual(report["workers"], 4)
        self.assertEqual([(h["host"], h["workers"], h["down"]) for h in report["hosts"]],
                         [(a.login, 2, False), (b.login, 2, False)])
        self.assertEqual(sum(h["jobs"] for h in report["hosts"]), 8)

    def test_per_host_worker_limits_hold(self):
        a, b = self.hosts.hosts
        events = self.path("events")
        events.mkdir()
        line = (f'echo start >> {events}/$(cat host-name); sleep 0.3; '
                f'echo end >> {events}/$(cat host-name)')
        r = self.run_taskpool("-S", f"1/{a.login},3/{b.login}", line, ":::", *map(str, range(12)))
        self.assertExit(r, 0)
        for host, limit in (("h1", 1), ("h2", 3)):
            running = most = 0
            for event in (events / host).read_text().split():
                running += 1 if event == "start" else -1
                most = max(most, running)
            self.assertLessEqual(most, limit, f"{host} ran more than {limit} jobs at once")
            self.assertGreaterEqual(most, 1)

    def test_j_applies_per_host_and_colon_is_this_machine(self):
        a = self.hosts.hosts[0]
        joblog = self.path("joblog")
        r = self.run_taskpool("-j1", "-S", f":,{a.login}", "--joblog", joblog,
                              "--summary-json", self.path("s.json"),
                              "sleep 0.2; echo {}", ":::", "1", "2", "3", "4")
        self.assertExit(r, 0)
        self.assertEqual(read_json(self.path("s.json"))["workers"], 2)
        self.assertEqual({row[1] for row in joblog_by_seq(joblog).values()}, {":", a.login})

    def test_sshloginfile(self):
        a, b = self.hosts.hosts
        hosts = self.write("hosts.txt", f"# the test hosts\n{a.login}\n\n1/{b.login}  # second\n")
        r = self.run_taskpool("--sshloginfile", hosts, "-j1", "cat host-name; : {}", ":::", "1", "2")
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split()), ["h1", "h2"])


class QuotingTest(SshCase):

    RECORDS = ["plain", "two words", "it's", 'say "hi"', "$HOME", "`id`", "$(touch pwned)",
               "a;touch pwned", "x|y&z", "*", "~", "-n", "back\\slash", "tab\there", "", "é ü",
               "new\nline", "{}", "'", '"', "!"]

    def test_hostile_records_arrive_unchanged_on_the_remote_side(self):
        a = self.hosts.hosts[0]
        show_args = bin_dir() / "show-args"
        records = self.write("records", "\0".join(self.RECORDS) + "\0")
        r = self.run_taskpool("-0", "-k", "-a", records, "-S", a.login, f"{show_args} {{}} x{{}}y")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(*[[rec, f"x{rec}y"] for rec in self.RECORDS]))
        self.assertNoPwned(a.home)

    def test_a_command_line_with_shell_syntax_runs_as_it_would_here(self):
        a = self.hosts.hosts[0]
        line = "printf '%s\\n' {} | tr a-z A-Z; echo \"$((1 + 2))\" >&2"
        local = taskpool("-k", line, ":::", "it's", "a b")
        remote = self.run_taskpool("-k", "-S", a.login, line, ":::", "it's", "a b")
        self.assertExit(remote, 0)
        self.assertEqual(remote.stdout, local.stdout)
        self.assertEqual(remote.stderr, local.stderr)

    def test_a_jobs_own_exit_status_255_does_not_take_the_host_down(self):
        a = self.hosts.hosts[0]
        joblog = self.path("joblog")
        r = self.run_taskpool("-j1", "-S", a.login, "--joblog", joblog, "exit {}", ":::", "255",
                              "0", "3")
        self.assertExit(r, 2)
        self.assertNotIn("down", r.err)
        rows = joblog_by_seq(joblog)
        self.assertEqual([rows[s][6] for s in (1, 2, 3)], ["255", "0", "3"])


class StopTest(SshCase):
    """Timeouts, the deadline, --halt and signals end the remote process group."""

    def test_timeout_leaves_no_remote_process(self):
        a = self.hosts.hosts[0]
        seconds = unique_seconds(60)
        joblog = self.path("joblog")
        r = self.run_taskpool("-S", a.login, "--timeout", "1", "--joblog", joblog,
                              f"sleep {seconds} & sleep {seconds}; echo not reached", ":::", "x")
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 15)
        row = joblog_by_seq(joblog)[1]
        self.assertEqual((row[6], row[7]), ("-1", "15"), "Exitval and Signal of a timed-out job")
        self.assertNoRemoteSurvivors(a, seconds)

    def test_a_job_ignoring_sigterm_is_killed_after_kill_after(self):
        a = self.hosts.hosts[0]
        seconds = unique_seconds(60)
        joblog = self.path("joblog")
        # A timeout long enough for the remote shell to have set its trap, even on a loaded host.
        r = self.run_taskpool("-S", a.login, "--timeout", "4", "--kill-after", "0.5",
                              "--joblog", joblog, f'trap "" TERM; sleep {seconds}; : {{}}', ":::", "x")
        self.assertExit(r, 1)
        self.assertEqual(joblog_by_seq(joblog)[1][7], "9")
        self.assertNoRemoteSurvivors(a, seconds)

    def test_deadline_leaves_no_remote_process(self):
        a, b = self.hosts.hosts
        seconds = unique_seconds(60)
        r = self.run_taskpool("-S", f"1/{a.login},1/{b.login}", "--deadline", "1.5",
                              "--grace", "0.5", "--summary-json", self.path("s.json"),
                              f'(trap "" TERM; sleep {seconds}) & sleep {seconds}', ":::",
                              "1", "2", "3")
        self.assertExit(r, 3)
        report = read_json(self.path("s.json"))
        self.assertEqual(report["stopped"], "deadline")
        self.assertEqual((report["jobs"]["killed"], report["jobs"]["not_started"]), (2, 1))
        self.assertNoRemoteSurvivors(a, seconds)
        self.assertNoRemoteSurvivors(b, seconds)

    def test_halt_now_ends_remote_jobs(self):
        a = self.hosts.hosts[0]
        seconds = unique_seconds(60)
        r = self.run_taskpool("-S", a.login, "-j2", "--halt", "now,fail=1",
                              "if [ {} = fail ]; then sleep 1; exit 4; fi; sleep " + seconds,
                              ":::", "slow", "fail")
        self.assertExit(r, 4)
        self.assertNoRemoteSurvivors(a, seconds)

    def test_second_sigint_ends_remote_jobs(self):
        a = self.hosts.hosts[0]
        seconds = unique_seconds(60)
        marks = self.path("marks")
        marks.mkdir()
        run = self.background("-S", a.login, "-j2",
                              f"touch {marks}/{{}}; sleep {seconds}", ":::", "1", "2", "3")
        ok = wait_until(lambda: len(list(marks.iterdir())) == 2 or not run.running(), PATIENCE)
        self.assertTrue(ok and run.running(), run.stderr_text())
        run.signal(signal.SIGINT)
        time.sleep(0.3)
        run.signal(signal.SIGINT)
        r = run.wait(PATIENCE)
        self.assertExit(r, 3)
        self.assertNoRemoteSurvivors(a, seconds)


class HostFailureTest(SshCase):

    def test_a_host_whose_sshd_dies_is_marked_down_and_its_jobs_finish_elsewhere(self):
        hosts = start_hosts(2)
        self.addCleanup(hosts.close)
        a, b = hosts.hosts
        marks = self.path("marks")
        marks.mkdir()
        joblog = self.path("joblog")
        # Each job leaves its PID and host behind once it runs, then takes a while.
        line = (f'echo $$ > {marks}/{{}}-$(cat host-name).tmp && '
                f'mv {marks}/{{}}-$(cat host-name).tmp {marks}/{{}}-$(cat host-name); '
                f'sleep 2; echo {{}} done on $(cat host-name)')
        run = self.background("-S", f"1/{a.login},1/{b.login}", "--retries", "1",
                              "--backoff", "0", "--joblog", joblog,
                              "--summary-json", self.path("s.json"), line, ":::",
                              *map(str, range(1, 7)), hosts=hosts)
        on_a = lambda: [p for p in marks.iterdir() if p.name.endswith("-h1")]
        ok = wait_until(lambda: on_a() or not run.running(), PATIENCE)
        self.assertTrue(ok and run.running(), run.stderr_text())
        self.addCleanup(lambda: kill_all(pid for p in marks.glob("*-h1")
                                         for pid in read_pids(p)))
        lost = on_a()[0].name.split("-")[0]
        a.kill_sshd()
        r = run.wait(PATIENCE)
        self.assertExit(r, 0, "every job ended well, the lost one on the other host")
        self.assertIn(f"{a.login} is down", r.err)
        done = sorted(r.out.splitlines(), key=lambda l: int(l.split()[0]))
        self.assertEqual(len(done), 6, r.out)
        self.assertIn(f"{lost} done on h2", done)
        rows = joblog_by_seq(joblog)
        self.assertEqual(rows[int(lost)][1], b.login)
        report = read_json(self.path("s.json"))
        self.assertEqual(report["jobs"]["succeeded"], 6)
        self.assertEqual(report["jobs"]["retried"], 1)
        self.assertEqual([(h["host"], h["down"]) for h in report["hosts"]],
                         [(a.login, True), (b.login, False)])

    def test_an_unreachable_host_is_down_and_the_others_run_everything(self):
        a = self.hosts.hosts[0]
        nobody = "root@127.0.0.1:1"  # nothing listens there
        r = self.run_taskpool("-S", f"{nobody},{a.login}", "-j1", "--summary",
                              "cat host-name; : {}", ":::", "1", "2", "3")
        self.assertExit(r, 0, "jobs handed to the unreachable host ran on the other one")
        self.assertEqual(r.out.split(), ["h1", "h1", "h1"])
        self.assertIn(f"{nobody} is down", r.err)
        self.assertIn("Connection refused", r.err)

    def test_every_host_down_is_a_clear_error(self):
        r = self.run_taskpool("-S", "root@127.0.0.1:1,root@127.0.0.1:2",
                              "--summary-json", self.path("s.json"), "true", ":::", "1", "2",
                              "3", "4")
        self.assertExit(r, 4, "the jobs that could not run count as failed")
        self.assertIn("every host is down; 4 jobs were not run", r.err)
        self.assertIn("root@127.0.0.1:1 is down", r.err)
        self.assertIn("root@127.0.0.1:2 is down", r.err)
        report = read_json(self.path("s.json"))
        self.assertEqual(report["stopped"], "hosts_down")
        self.assertEqual(report["jobs"]["not_started"], 4)


class UsageTest(TaskpoolTestCase):
    """Bad -S input is refused before anything runs; no sshd needed."""

    def check_usage_error(self, message, *args):
        r = taskpool(*args)
        self.assertExit(r, 255)
        self.assertIn(message, r.err)

    def test_malformed_sshlogin(self):
        self.check_usage_error("-S/--sshlogin: 'x/host': 'x' before '/' is not a number of workers",
                               "-S", "x/host", "true", ":::", "1")
        self.check_usage_error("no leading '-'", "-S", "-oProxyCommand=touch", "true", ":::", "1")
        self.check_usage_error("'99999' is not a port", "-S", "host:99999", "true", ":::", "1")
        self.check_usage_error("-S/--sshlogin: an empty sshlogin", "-S", "a,,b", "true", ":::", "1")

    def test_unreadable_sshloginfile(self):
        missing = self.path("missing.txt")
        self.check_usage_error(f"--sshloginfile: cannot read '{missing}'", "--sshloginfile",
                               missing, "true", ":::", "1")
        bad = self.write("hosts.txt", "good\nbad host\n")
        self.check_usage_error(f"--sshloginfile: '{bad}' line 2: 'bad host'", "--slf", bad,
                               "true", ":::", "1")

    def test_fetch_runs_locally(self):
        self.check_usage_error("--fetch downloads on this machine", "--fetch", "-S", "web1",
                               ":::", "http://127.0.0.1:1/a")

    def test_ssh_without_hosts(self):
        self.check_usage_error("--ssh is for -S/--sshlogin", "--ssh", "ssh -4", "true", ":::", "1")

    def test_ssh_program_missing(self):
        self.check_usage_error("--ssh: 'no-such-ssh': command not found", "--ssh", "no-such-ssh",
                               "-S", "host", "true", ":::", "1")

    def test_dry_run_prints_the_local_command_line(self):
        r = taskpool("--dry-run", "-S", "host1,host2", "-k", "echo {}", ":::", "a b", "c")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "echo 'a b'\necho c\n")


if __name__ == "__main__":
    unittest.main()
