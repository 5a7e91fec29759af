"""taskpool's exit status, as GNU parallel's: 0 when all jobs succeed, the number of failed
jobs, 101 for more than 100, 255 for invalid usage; missing or non-executable programs make
their job fail (127, 126) and the run goes on."""

import os
import unittest

from helpers import TaskpoolTestCase, parallel, requires_gnu_parallel, taskpool, test_env

MISSING = "taskpool-no-such-program-xyz"


def joblog_rows(path):
    lines = path.read_text().splitlines()
    return {int(f[0]): f for f in (line.split("\t") for line in lines[1:])}


class ExitStatusTest(TaskpoolTestCase):

    def test_all_succeed(self):
        r = taskpool("-j2", "true", ":::", "1", "2", "3")
        self.assertExit(r, 0)

    def test_number_of_failed_jobs(self):
        r = taskpool("-j2", "exit", "{}", ":::", "0", "1", "2", "0", "3")
        self.assertExit(r, 3)

    def test_failures_through_a_shell_script(self):
        r = taskpool("-j2", "sh -c 'exit $1' sh {}", ":::", "0", "5", "0", "7")
        self.assertExit(r, 2)

    def test_one_failure_of_a_program(self):
        r = taskpool("-j2", "test", "{}", "=", "b", ":::", "a", "b", "c")
        self.assertExit(r, 2)

    def test_exactly_100_failures(self):
        r = taskpool("-j4", "false", ":::", *map(str, range(100)))
        self.assertExit(r, 100)

    def test_more_than_100_failures(self):
        r = taskpool("-j4", "false", ":::", *map(str, range(150)))
        self.assertExit(r, 101)

    def test_job_killed_by_a_signal_counts_as_failed(self):
        r = taskpool("-k", "--joblog", self.path("log"), "kill -{} $$", ":::", "TERM", "0")
        self.assertExit(r, 1)
        rows = joblog_rows(self.path("log"))
        self.assertEqual(rows[1][7], "15", "Signal column of the killed job")
        self.assertEqual(rows[2][7], "0")

    @requires_gnu_parallel
    def test_failure_count_matches_gnu_parallel(self):
        args = ["-j3", "exit {}", ":::", "0", "1", "2", "3", "0", "250"]
        self.assertEqual(taskpool(*args).code, parallel(*args).code)


class MissingProgramTest(TaskpoolTestCase):

    def test_missing_program_fails_with_127_and_names_it(self):
        log = self.path("log")
        r = taskpool("-j1", "--joblog", log, MISSING, ":::", "a")
        self.assertExit(r, 1)
        self.assertIn(MISSING, r.err, "stderr does not name the missing program")
        self.assertEqual(joblog_rows(log)[1][6], "127")

    def test_missing_program_with_arguments_from_stdin(self):
        log = self.path("log")
        r = taskpool("-j2", "--joblog", log, MISSING, "--flag", input=b"a\nb\nc\n")
        self.assertExit(r, 3)
        self.assertIn(MISSING, r.err)
        rows = joblog_rows(log)
        self.assertEqual(sorted(rows), [1, 2, 3])
        self.assertEqual({row[6] for row in rows.values()}, {"127"})

    def test_run_goes_on_after_a_missing_program(self):
        log = self.path("log")
        r = taskpool("-k", "-j1", "--joblog", log, "{1}", "{2}", ":::",
                     "echo", MISSING, "printf", ":::", "x")
        self.assertExit(r, 1)
        self.assertEqual(r.out, "x\nx")
        self.assertIn(MISSING, r.err)
        rows = joblog_rows(log)
        self.assertEqual([rows[s][6] for s in (1, 2, 3)], ["0", "127", "0"])

    def test_missing_program_among_command_lines(self):
        r = taskpool("-k", "-j2", input=f"echo one\n{MISSING} arg\necho two\n".encode())
        self.assertExit(r, 1)
        self.assertEqual(r.out, "one\ntwo\n")
        self.assertIn(MISSING, r.err)

    def test_missing_program_given_by_path(self):
        missing = self.path("bin/nothing-here")
        log = self.path("log")
        r = taskpool("--joblog", log, missing, ":::", "a")
        self.assertExit(r, 1)
        self.assertIn("nothing-here", r.err)
        self.assertEqual(joblog_rows(log)[1][6], "127")

    def test_non_executable_file_fails_with_126(self):
        script = self.write("not-executable", "#!/bin/sh\necho should not run\n")
        script.chmod(0o644)
        log = self.path("log")
        r = taskpool("-k", "-j1", "--joblog", log, "{}", "x", ":::",
                     "./not-executable", "echo", "./not-executable", cwd=self.tmp)
        self.assertExit(r, 2)
        self.assertEqual(r.out, "x\n")
        self.assertIn("not-executable", r.err)
        rows = joblog_rows(log)
        self.assertEqual([rows[s][6] for s in (1, 2, 3)], ["126", "0", "126"])

    def test_non_executable_program_on_path_fails_with_126(self):
        bindir = self.path("bin")
        script = self.write("bin/taskpool-not-executable", "#!/bin/sh\necho should not run\n")
        script.chmod(0o644)
        env = test_env({"PATH": f"{bindir}:{os.environ['PATH']}"})
        log = self.path("log")
        r = taskpool("--joblog", log, "taskpool-not-executable", ":::", "a", env=env)
        self.assertExit(r, 1)
        self.assertNotIn("should not run", r.out)
        self.assertIn("taskpool-not-executable", r.err)
        self.assertIn(joblog_rows(log)[1][6], {"126", "127"})

    def test_directory_as_program_fails(self):
        self.path("adir").mkdir()
        log = self.path("log")
        r = taskpool("--joblog", log, "./adir", ":::", "a", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertEqual(joblog_rows(log)[1][6], "126")

    @requires_gnu_parallel
    def test_joblog_exit_values_match_gnu_parallel(self):
        script = self.write("not-executable", "#!/bin/sh\necho should not run\n")
        script.chmod(0o644)
        args = ["-k", "-j1", "{}", "x", ":::", "./not-executable", MISSING, "echo", "false"]
        mine = taskpool("--joblog", self.path("mine"), *args, cwd=self.tmp)
        ref = parallel("--joblog", self.path("ref"), *args, cwd=self.tmp)
        self.assertEqual(mine.code, ref.code)
        self.assertEqual(mine.stdout, ref.stdout)
        exitvals = lambda p: [row[6] for _, row in sorted(joblog_rows(p).items())]
        self.assertEqual(exitvals(self.path("mine")), exitvals(self.path("ref")))


class UsageErrorTest(TaskpoolTestCase):
    """Invalid usage: exit status 255 and a message naming the flag or the value."""

    def usage_error(self, *args, names, input=None):
        r = taskpool(*args, input=input if input is not None else b"", cwd=self.tmp)
        self.assertExit(r, 255, f"taskpool {' '.join(args)}")
        for n in names:
            self.assertIn(n, r.err, f"the message does not name {n!r}")
        self.assertEqual(r.stdout, b"", "no job may run after a usage error")
        self.assertNoPwned()
        return r

    def test_bad_jobs_value(self):
        self.usage_error("-j", "lots", "touch", "pwned", ":::", "x", names=["-j", "lots"])

    def test_negative_jobs_value(self):
        self.usage_error("--jobs", "-999", "echo", ":::", "x", names=["-999"])

    def test_jobs_value_with_trailing_garbage(self):
        self.usage_error("-j", "4x", "echo", ":::", "x", names=["4x"])

    def test_unknown_flag(self):
        self.usage_error("--frobnicate", "echo", ":::", "x", names=["--frobnicate"])

    def test_unknown_flag_after_a_valid_one(self):
        self.usage_error("-j2", "--no-such-flag", "touch", "pwned", ":::", "x",
                         names=["--no-such-flag"])

    def test_bad_mode(self):
        self.usage_error("--mode", "fast", "echo", ":::", "x", names=["fast"])

    def test_bad_colsep_regex(self):
        self.usage_error("--colsep", "[", "touch", "pwned", input=b"a b\n", names=["colsep"])

    def test_durations_past_their_bounds(self):
        duration = "0 or a duration from 1ms to 3650d (ten years)"
        for flag in ("--timeout", "--kill-after", "--deadline", "--grace", "--backoff",
                     "--backoff-max"):
            for value in ("3651d", "36500d", "99999999999999999999", "0.0005", "1e3", "inf",
                          "nan", "-1s"):
                self.usage_error(flag, value, "touch", "pwned", ":::", "x",
                                 names=[f"{flag}: '{value}' is not", duration])
        for value in ("3651d", "0.0005s", "inf"):
            self.usage_error("--fetch", "--connect-timeout", value, ":::", "http://127.0.0.1:9/",
                             names=[f"--connect-timeout: '{value}'", duration])
        self.usage_error("--progress", "--progress-interval", "3651d", "touch", "pwned",
                         ":::", "x", names=["--progress-interval: '3651d'", duration])

    def test_rates_past_their_bounds(self):
        for value in ("0.000000000001", "0.99/d", "1000001", "60000001/m", "1e6", "inf", "nan",
                      "-1"):
            self.usage_error("--rate", value, "touch", "pwned", ":::", "x",
                             names=[f"--rate: '{value}' is not a rate",
                                    "from 1/d (one a day) to 1000000/s"])
        for value in ("1025G", "1099511627777", "18446744073709551615k", "0", "-1", "1.5M"):
            self.usage_error("--fetch", "--limit-rate", value, ":::", "http://127.0.0.1:9/",
                             names=[f"--limit-rate: '{value}'", "from 1 to 1024G"])

    def test_the_bounds_themselves_run(self):
        r = taskpool("--deadline", "3650d", "--grace", "3650d", "--timeout", "3650d",
                     "--kill-after", "3650d", "--backoff", "3650d", "--backoff-max", "3650d",
                     "--rate", "1000000/s", "echo", ":::", "a")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "a\n")

    def test_the_slowest_rate_waits_without_spinning(self):
        # The first job starts at once, the second would wait a day: the deadline ends the run.
        # 0.000000000001/s (one every 31 700 years) overflowed the timer and spun the CPU.
        start = os.times()
        r = taskpool("-j1", "--rate", "1/d", "--deadline", "1s", "echo", ":::", "a", "b")
        used = os.times()
        self.assertExit(r, 1)
        self.assertEqual(r.out, "a\n")
        self.assertLess(r.seconds, 20)
        cpu = (used.children_user - start.children_user) + \
              (used.children_system - start.children_system)
        self.assertLess(cpu, 0.5, "taskpool used the CPU while it waited for the rate")

    def test_missing_arg_file(self):
        missing = str(self.path("no-such-input.txt"))
        self.usage_error("-a", missing, "touch", "pwned", names=["no-such-input.txt"])

    def test_bad_delimiter(self):
        # Several characters are a delimiter too (-d '\r\n'); a \x without two hex digits is not.
        self.usage_error("-d", "a\\xZ", "echo", input=b"x", names=["-d", "a\\xZ"])

    def test_joblog_in_missing_directory(self):
        self.usage_error("--joblog", str(self.path("nodir/log")), "touch", "pwned", ":::", "x",
                         names=["nodir/log"])

    def test_option_without_value(self):
        self.usage_error("-j", names=["-j"])

    def test_help_and_version_exit_0(self):
        r = taskpool("--help")
        self.assertExit(r, 0)
        for flag in ("--jobs", "--mode", "--compare", "--keep-order", "--line-buffer", "--tag",
                     "--dry-run", "--joblog", "--summary-json", "--colsep", "--null"):
            self.assertIn(flag, r.out, f"--help does not mention {flag}")
        self.assertIn("memory", r.out, "--help does not say --compare holds the input in memory")
        r = taskpool("--version")
        self.assertExit(r, 0)
        self.assertIn("taskpool", r.out)


if __name__ == "__main__":
    unittest.main()
