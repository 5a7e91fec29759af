"""--header and --fifo with --pipe and --pipepart: the header's lines before every block, and each
block through a named pipe that {} names. Compared with GNU parallel on the same input; the named
pipe's removal and a command that never opens it are taskpool's own tests."""

import unittest

from helpers import requires_gnu_parallel, test_env
from xargs_habits_test import XargsHabitsCase, seq

SHOW_BLOCK = "echo ---; cat"
TABLE = b"name\tsize\n" + b"".join(b"f%d\t%d\n" % (i, i * 10) for i in range(1, 8))


@requires_gnu_parallel
class HeaderSameAsGnuParallelTest(XargsHabitsCase):
    """--header : and --header N before every block, and --fifo -N, as GNU parallel (--fifo
    with --block: pipe_test.py, beside --cat)."""

    def test_header_colon_goes_before_every_block(self):
        r = self.same("--pipe", "--header", ":", "-N2", "-k", SHOW_BLOCK, input=TABLE)
        self.assertEqual(r.out.count("name\tsize\n"), 4)
        self.assertEqual(r.out.count("---"), 4)

    def test_header_of_n_lines_with_a_block_size(self):
        data = b"# one\n# two\n" + seq(1, 40)
        r = self.same("--pipe", "--header", "2", "--block", "30", "-k", SHOW_BLOCK, input=data)
        self.assertEqual(r.out.count("# one\n# two\n"), r.out.count("---"))
        self.assertGreater(r.out.count("---"), 2)

    def test_only_a_header_runs_nothing(self):
        self.same("--pipe", "--header", ":", "-k", SHOW_BLOCK, input=b"name\tsize\n")

    def test_pipepart_header(self):
        data = self.write("table.tsv", b"name\tsize\n" + b"".join(b"f%d\t%d\n" % (i, i)
                                                                  for i in range(300)))
        r = self.same("--pipepart", "-a", data, "--header", ":", "--block", "100", "-k",
                      SHOW_BLOCK)
        blocks = r.out.split("---\n")[1:]
        self.assertGreater(len(blocks), 3)
        self.assertTrue(all(b.startswith("name\tsize\nf") for b in blocks))

    def test_fifo_with_records_per_block(self):
        r = self.same("--pipe", "--fifo", "-N3", "-k", "wc -l < {}", input=seq(1, 10))
        self.assertEqual(r.out.split(), ["3", "3", "3", "1"])


class FifoTest(XargsHabitsCase):
    """taskpool's own: the named pipe is one, it is removed, it cannot hang a job."""

    def test_fifo_is_a_named_pipe_removed_after_the_job(self):
        r = self.tp("--pipe", "--fifo", "-N2", "-k",
                    "test -p {} && echo pipe; wc -l {}", input=seq(1, 4),
                    env=test_env({"TMPDIR": str(self.tmp)}))
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "pipe")
        count, path = lines[1].split()
        self.assertEqual(count, "2")
        self.assertTrue(path.startswith(str(self.tmp) + "/taskpool-fifo-"))
        self.assertEqual([p.name for p in self.tmp.iterdir()], [])

    def test_a_command_that_never_opens_the_fifo_ends(self):
        r = self.tp("--pipe", "--fifo", "-k", "echo {} >/dev/null; exit 3", input=seq(1, 5),
                    env=test_env({"TMPDIR": str(self.tmp)}))
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 20)
        self.assertEqual([p.name for p in self.tmp.iterdir()], [])

    def test_bad_combinations(self):
        for args, message in ((["--fifo"], "--fifo needs --pipe"),
                              (["--pipe", "--fifo", "--cat"], "exclude each other"),
                              (["--pipe", "--header", "x.*"], "--header : (the first line)")):
            with self.subTest(args=args):
                r = self.tp(*args, "cat", input=b"1\n")
                self.assertExit(r, 255)
                self.assertIn(message, r.err)


if __name__ == "__main__":
    unittest.main()
