"""GNU parallel habits, round two: --results (a directory tree, a name with replacement strings,
.csv, .tsv and .json tables), --files, -u, --plus's replacement strings, {-N}, --header. Each is compared with GNU parallel itself on the
same input; the comparisons are skipped, with a notice, when it is not installed. Where taskpool
differs on purpose (README.md says where), the test says so."""

import csv
import io
import json
import os
import subprocess
import time
import unittest
from pathlib import Path

from helpers import TASKPOOL, kill_group, requires_gnu_parallel, test_env
from xargs_habits_test import XargsHabitsCase

# Values a directory name must hold safely: a slash, a backslash, a tab, blanks, quotes.
AWKWARD = ["a", "b/c", "x\\y", "tab\there", "it's \"q\"", "sp ace"]

# The columns of a results table that differ from one run to the next.
TIMES = {"Starttime", "JobRuntime"}


def tree(root: Path) -> dict:
    """Every file under root (relative path) with its content."""
    files = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            full = Path(dirpath) / name
            files[os.fsdecode(full.relative_to(root))] = full.read_bytes()
    return files


def table(text: str, sep: str) -> list:
    """A CSV or TSV table's rows as dicts, without the columns that hold times."""
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=sep))
    return [{k: v for k, v in row.items() if k not in TIMES} for row in rows]


def json_rows(text: str) -> list:
    rows = [json.loads(line) for line in text.splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMES} for row in rows]


@requires_gnu_parallel
class SameAsGnuParallelTest(XargsHabitsCase):
    """The same files, tables and output as `parallel --will-cite` on the same input."""

    def both(self, *args, input=None, code=0):
        """Runs each in a directory of its own (tp/, gnu/): returns both results and dirs."""
        mine_dir, ref_dir = self.path("tp"), self.path("gnu")
        mine_dir.mkdir()
        ref_dir.mkdir()
        ref = self.gnu(*args, input=input, cwd=ref_dir)
        mine = self.tp(*args, input=input, cwd=mine_dir)
        self.assertExit(ref, code, f"GNU parallel itself, args: {args!r}")
        self.assertExit(mine, code, f"args: {args!r}")
        return mine, ref, mine_dir, ref_dir

    # -- --results DIR

    def test_results_tree_holds_what_gnu_parallel_writes(self):
        mine, ref, mine_dir, ref_dir = self.both(
            "--results", "out", "echo {1} {2}; echo err {1} >&2", ":::", *AWKWARD, ":::", "x", "")
        self.assertEqual(mine.stdout, ref.stdout)  # nothing: the output is in the files
        self.assertEqual(mine.stdout, b"")
        mine_files = tree(mine_dir / "out")
        self.assertEqual(mine_files, tree(ref_dir / "out"))
        self.assertEqual(mine_files["1/b\\_c/2/x/stdout"], b"b/c x\n")
        self.assertEqual(mine_files["1/x\\\\y/2/x/stderr"], b"err x\\y\n")

    def test_results_tree_of_one_source_and_a_trailing_slash(self):
        _, _, mine_dir, ref_dir = self.both("-k", "--results", "o/", "printf", "%s", ":::", "p",
                                            "q")
        self.assertEqual(tree(mine_dir / "o"), tree(ref_dir / "o"))

    def test_results_tree_with_colsep_columns(self):
        _, _, mine_dir, ref_dir = self.both("--colsep", ",", "--results", "c", "echo", "{2}",
                                            input=b"a,b\nc,d\n")
        self.assertEqual(tree(mine_dir / "c"), tree(ref_dir / "c"))

    def test_results_name_with_replacement_strings(self):
        for name in ("my_{}", "d_{}/", "sub/{#}.out"):
            with self.subTest(name=name):
                _, _, mine_dir, ref_dir = self.both("--results", name, "echo", ":::", "foo",
                                                    "bar")
                self.assertEqual(tree(mine_dir), tree(ref_dir))
                self.assertNotEqual(tree(mine_dir), {})
                for d in (mine_dir, ref_dir):
                    subprocess.run(["rm", "-rf", d], check=True)

    def test_results_of_a_failing_job_keep_its_status(self):
        mine, ref, mine_dir, ref_dir = self.both("--results", "f", "exit {}", ":::", "0",
                                                 "3", code=1)
        self.assertEqual(tree(mine_dir / "f"), tree(ref_dir / "f"))

    # -- --results NAME.csv / .tsv / .json

    def test_results_csv_table(self):
        _, _, mine_dir, ref_dir = self.both(
            "-j1", "--results", "r.csv", "echo {1}; echo e >&2", ":::", "a", "b,c", 'd"e',
            "sp ace", ":::", "1")
        mine = table((mine_dir / "r.csv").read_text(), ",")
        self.assertEqual(mine, table((ref_dir / "r.csv").read_text(), ","))
        self.assertEqual(mine[1]["V1"], "b,c")
        self.assertEqual(mine[2]["Stdout"], 'd"e\n')

    def test_results_tsv_table(self):
        _, _, mine_dir, ref_dir = self.both("-j1", "--results", "r.tsv", "printf", "%s",
                                            ":::", "a", "tab\there", "sp ace")
        mine = (mine_dir / "r.tsv").read_text()
        self.assertEqual(table(mine, "\t"), table((ref_dir / "r.tsv").read_text(), "\t"))
        self.assertEqual(mine.splitlines()[0].split("\t")[-3:], ["V1", "Stdout", "Stderr"])

    def test_results_json_lines(self):
        _, _, mine_dir, ref_dir = self.both("-j1", "--results", "r.json", "echo", ":::", "a",
                                            'q"\\', ":::", "1", "2")
        mine = json_rows((mine_dir / "r.json").read_text())
        self.assertEqual(mine, json_rows((ref_dir / "r.json").read_text()))
        self.assertEqual(mine[2]["V"], ['q"\\', "1"])

    def test_results_table_on_stdout_alone(self):
        for name, parse in (("-.csv", lambda t: table(t, ",")), ("-.tsv", lambda t: table(t, "\t")),
                            ("-.json", json_rows)):
            with self.subTest(name=name):
                mine, ref, _, _ = self.both("-j1", "--results", name, "echo {}; echo x >&2",
                                            ":::", "a", "b")
                self.assertEqual(parse(mine.out), parse(ref.out))
                self.assertEqual(mine.stderr, b"")
                for d in ("tp", "gnu"):
                    subprocess.run(["rm", "-rf", self.path(d)], check=True)

    # -- --files

    def test_files_print_names_of_files_that_hold_the_output(self):
        env_dir = self.path("tmpdir")
        env_dir.mkdir()
        args = ("-k", "--files", "echo", ":::", "a", "b b", "")
        mine = subprocess.run([TASKPOOL, *args], capture_output=True, cwd=self.tmp,
                              env=test_env({"TMPDIR": str(env_dir)}), check=False)
        ref = self.gnu(*args, env=test_env({"TMPDIR": str(env_dir)}))
        self.assertEqual(mine.returncode, 0)
        self.assertEqual(ref.code, 0)
        mine_names = mine.stdout.decode().splitlines()
        ref_names = ref.out.splitlines()
        self.assertEqual(len(mine_names), 3)
        for name in mine_names:
            self.assertEqual(Path(name).parent, env_dir)
            self.assertRegex(Path(name).name, r"^par.+\.par$")
        self.assertEqual([Path(n).read_bytes() for n in mine_names],
                         [Path(n).read_bytes() for n in ref_names])

    # -- -u

    def test_ungroup_prints_the_same(self):
        r = self.same("-j1", "-u", "echo {}; echo err{} >&2", ":::", "a", "b")
        self.assertEqual(r.out, "a\nb\n")

    def test_ungroup_output_comes_before_the_job_ends(self):
        proc = subprocess.Popen([TASKPOOL, "-u", "echo started; sleep 60", ":::", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                start_new_session=True, env=test_env())
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(kill_group, proc)
        began = time.monotonic()
        line = proc.stdout.readline()
        self.assertEqual(line, b"started\n")
        self.assertLess(time.monotonic() - began, 30)  # the job sleeps 60 s after it
        self.assertIsNone(proc.poll())

    # -- --plus, {-N}

    def test_plus_replacement_strings(self):
        strings = ["{}", "{..}", "{...}", "{/..}", "{/...}", "{+/}", "{+.}", "{+..}", "{+...}",
                   "{:-DEF}", "{:2}", "{:1:3}", "{:20}", "{:3:40}"]
        values = ["a.tar.gz", "dir.d/file", "x/y.b.c.d", "noext", ".hidden", "a..b", "/abs", "d/",
                  "ab", "", "0", "sp ace.t x"]
        r = self.same("--plus", "-k", "printf", "%s_", *strings, "\\n", ":::", *values)
        self.assertIn("a.tar.gz_a_a.tar.gz_a_a.tar.gz__gz_tar.gz__", r.out)

    def test_plus_bash_like_strings(self):
        # GNU parallel's tutorial's values, and values with slashes, spaces and quotes.
        strings = ["{#bc}", "{#abc}", "{##ab}", "{%de}", "{%def}", "{%%def}", "{/def/ghi}",
                   "{/a/}", "{//a/X}", "{/#a/X}", "{/%f/X}", "{/a/b/c}", "{^a}", "{^^a}", "{,A}",
                   "{,,A}", "{1#a}", "{-1%.gz}"]
        values = ["abcAaAdef", "AbcAaAdef", "a/b c.tar.gz", "it's \"a\"", "", "aaa"]
        r = self.same("--plus", "-k", "printf", "%s_", *strings, "\\n", ":::", *values)
        self.assertIn("abcAaAdef_AaAdef_cAaAdef_abcAaAdef_abcAaA_abcAaA_abcAaAghi_", r.out)

    def test_plus_strings_on_numbered_fields(self):
        self.same("--plus", "-k", "echo", "{2..}", "{-1+.}", "{1:-z}", "{2/..}", ":::", "a.b.c",
                  "", ":::", "d.e.f", "g/h.i.j")

    def test_without_plus_its_strings_are_text(self):
        r = self.same("-k", "echo", "{..}", "{+.}", "{:-x}", ":::", "a.b")
        self.assertEqual(r.out, "{..} {+.} {:-x} a.b\n")

    def test_negative_positions(self):
        r = self.same("-k", "echo", "{-1}", "{-2.}", "{-1/}", "{-1//}", "{-1/.}", "{-3}", "{-4}", "{-5}", ":::",
                      "a.x", "p", ":::", "b/c.y", "d")
        self.assertEqual(r.out.splitlines()[0], "b/c.y a c.y b c b/c.y a.x")

    def test_negative_positions_of_columns(self):
        self.same("-k", "--colsep", ",", "echo", "{-1}", "{-2}", input=b"a,b,c\nd,e\nf\n")

    # -- --header

    def test_header_names_the_lists(self):
        r = self.same("-k", "--header", ":", "echo", "{b}", "{a}", "{a.}", "{a/}", ":::", "a",
                      "x.1", "y/z", ":::", "b", "1", "2")
        self.assertEqual(r.out.splitlines()[0], "1 x.1 x x.1")

    def test_header_names_the_columns_of_a_file(self):
        self.write("f.tsv", "n\tm\n1\t2\n3\t4\n")
        r = self.same("-k", "--header", ":", "--colsep", "\\t", "echo", "{m}-{n}", "::::",
                      "f.tsv")
        self.assertEqual(r.out, "2-1\n4-3\n")
        self.same("-k", "--header", ":", "--colsep", "\\t", "-a", "f.tsv", "echo", "{m}")

    def test_header_of_stdin(self):
        r = self.same("-k", "--header", ":", "echo", "{h}", "{1}", input=b"h\nv1\nv2\n")
        self.assertEqual(r.out, "v1 v1\nv2 v2\n")
        self.same("-k", "--header", ":", "--colsep", ",", "echo", "{y}{x}",
                  input=b"x,y\n1,2\n")

    def test_header_names_in_tagstring(self):
        self.same("-k", "--header", ":", "--tagstring", "{a}:", "echo", "{b}", ":::", "a", "1",
                  ":::", "b", "2")

    def test_header_names_the_results_directories(self):
        _, _, mine_dir, ref_dir = self.both("--header", ":", "--results", "r", "echo", "{b}",
                                            ":::", "b", "I", "II", ":::", "a", "1")
        self.assertEqual(tree(mine_dir / "r"), tree(ref_dir / "r"))
        self.assertIn("a/1/b/II/stdout", tree(mine_dir / "r"))

    def test_header_names_the_table_columns(self):
        _, _, mine_dir, ref_dir = self.both("-j1", "--header", ":", "--results", "r.csv", "echo",
                                            ":::", "b", "I", ":::", "a", "1")
        mine = table((mine_dir / "r.csv").read_text(), ",")
        self.assertEqual(mine, table((ref_dir / "r.csv").read_text(), ","))
        self.assertEqual(mine[0]["b"], "I")

    # -- the jobs' environment, $PARALLEL

    def test_job_environment(self):
        r = self.same("-k", "-j1", "echo $PARALLEL_SEQ $PARALLEL_JOBSLOT {}", ":::", "a", "b", "c")
        self.assertEqual(r.out, "1 1 a\n2 1 b\n3 1 c\n")

    def test_job_slots_are_the_workers(self):
        r = self.same("-k", "-j3", "echo $PARALLEL_JOBSLOT; sleep 0.{}", ":::", "3", "2", "1")
        self.assertEqual(sorted(r.out.split()), ["1", "2", "3"])

    def test_default_options_from_parallel_variable(self):
        env = test_env({"PARALLEL": "-k --tagstring 'x y'"})
        mine = self.tp("echo", ":::", "b", "a", env=env)
        ref = self.gnu("echo", ":::", "b", "a", env=env)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)
        self.assertEqual(mine.out, "x y\tb\nx y\ta\n")

    # -- --nice, --shuf, --delay

    def test_nice_runs_jobs_niced(self):
        base = int(subprocess.run(["nice"], capture_output=True, check=True).stdout)
        r = self.same("--nice", "7", "nice; true", ":::", "a")
        self.assertEqual(int(r.out), min(base + 7, 19))

    def test_shuf_runs_every_job_once(self):
        values = [str(i) for i in range(1, 61)]
        r = self.same("--shuf", "-k", "echo", "{#}", ":::", *values)  # {#}: in the run's order
        self.assertEqual(r.out.split(), values)
        mine = self.tp("--shuf", "-k", "-j1", "echo", ":::", *values)
        self.assertExit(mine, 0)
        self.assertEqual(sorted(mine.out.split(), key=int), values)
        self.assertNotEqual(mine.out.split(), values)  # 60! orders: never the same by chance


class PacingTest(XargsHabitsCase):
    """Ours: --delay spaces the starts (GNU parallel's meaning, checked by time here)."""

    def test_delay_spaces_job_starts(self):
        log = self.path("log")
        r = self.tp("-j3", "--delay", "0.4", "--joblog", log, "true", ":::", "a", "b", "c")
        self.assertExit(r, 0)
        starts = sorted(float(line.split("\t")[2]) for line in log.read_text().splitlines()[1:])
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        self.assertEqual(len(gaps), 2)
        for gap in gaps:
            self.assertGreaterEqual(gap, 0.35)


class JobEnvironmentTest(XargsHabitsCase):
    """Ours: $PARALLEL_PID, an inherited $PARALLEL_SEQ, and $PARALLEL's errors."""

    def test_parallel_pid_is_taskpool(self):
        proc = subprocess.Popen([TASKPOOL, "-N0", "echo $PARALLEL_PID", ":::", "a"], env=test_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = proc.communicate(timeout=60)
        self.assertEqual(out.decode().strip(), str(proc.pid))

    def test_job_numbers_replace_those_inherited(self):
        r = self.tp("-N0", "env | grep -c ^PARALLEL_SEQ=; echo $PARALLEL_SEQ", ":::",
                    "a", env=test_env({"PARALLEL_SEQ": "99"}))
        self.assertEqual(r.out, "1\n1\n")

    def test_bad_parallel_variable_is_named(self):
        for value, words in (("--jbos 3", "unknown option"), ("-j 'four", "left open")):
            with self.subTest(value=value):
                r = self.tp("echo", ":::", "a", env=test_env({"PARALLEL": value}))
                self.assertExit(r, 255)
                self.assertIn(f"$PARALLEL ('{value}')", r.err)
                self.assertIn(words, r.err)
        r = self.tp("--jbos", "3", "echo", ":::", "a", env=test_env({"PARALLEL": "-k"}))
        self.assertNotIn("$PARALLEL", r.err)  # the command line's own error


class ResultsRulesTest(XargsHabitsCase):
    """Ours: what --results and -u refuse."""

    def test_refusals(self):
        for args, words in ((["-u", "-k"], "-u passes output"),
                            (["--results", "o", "--files"], "exclude each other"),
                            (["--results", ""], "--results: the name is empty"),
                            (["--results", "o", "--line-buffer"], "--results keeps")):
            with self.subTest(args=args):
                r = self.tp(*args, "echo", ":::", "a")
                self.assertExit(r, 255)
                self.assertIn(words, r.err)

    def test_results_directory_that_cannot_be_made_is_an_error_before_any_job(self):
        self.write("file", "")
        r = self.tp("--results", "file/out", "touch", "ran", ":::", "a")
        self.assertNotEqual(r.code, 0)
        self.assertIn("file/out", r.err)
        self.assertFalse(self.path("ran").exists())

    def test_dot_values_stay_inside_the_results_directory(self):
        r = self.tp("--results", "out", "echo", ":::", ".", "..")
        self.assertExit(r, 0)
        self.assertEqual(sorted(tree(self.path("out"))),
                         sorted(["1/\\./seq", "1/\\./stderr", "1/\\./stdout", "1/\\../seq",
                          "1/\\../stderr", "1/\\../stdout"]))


if __name__ == "__main__":
    unittest.main()
