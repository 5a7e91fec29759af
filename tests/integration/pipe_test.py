"""--pipe and --pipepart: blocks of whole records on each job's stdin. Compared with GNU
parallel's --pipe on the same input (exactly with -k, as multisets without it); --pipepart's
ranges against --pipe's blocks on the same file, and the errors of bad input."""

import unittest

from helpers import requires_gnu_parallel, test_env
from xargs_habits_test import XargsHabitsCase, seq

# Each block's output: a separator line, then the block itself.
SHOW_BLOCK = "echo ---; cat"


def lines_of(text: str) -> list:
    return sorted(text.splitlines())


@requires_gnu_parallel
class PipeSameAsGnuParallelTest(XargsHabitsCase):
    """The same blocks as `parallel --will-cite --pipe` on the same input."""

    def test_blocks_of_whole_lines_within_the_block_size(self):
        r = self.same("--pipe", "--block", "5", "-k", SHOW_BLOCK, input=seq(1, 10))
        self.assertEqual(r.out, "---\n1\n2\n---\n3\n4\n---\n5\n6\n---\n7\n8\n---\n9\n10\n")

    def test_larger_input_same_blocks_in_order(self):
        self.same("--pipe", "--block", "65536", "-k", "-j3", "wc", "-lc", input=seq(1, 200000))

    def test_records_per_block(self):
        r = self.same("--pipe", "-N3", "-k", SHOW_BLOCK, input=seq(1, 10))
        self.assertEqual(r.out.count("---"), 4)

    def test_last_record_without_newline_and_crlf(self):
        self.same("--pipe", "--block", "4", "-k", SHOW_BLOCK, input=b"a\nbb\nc")
        self.same("--pipe", "--block", "7", "-k", SHOW_BLOCK, input=b"ab\r\ncd\r\nef\r\ngh\r\n")

    def test_recstart_and_recend(self):
        fasta = b">a\nACGT>G\n>b\nTT\n>c\nGGGGGG\n>d\nA\n"
        self.same("--pipe", "--recstart", ">", "--recend", "\\n", "--block", "10", "-k",
                  SHOW_BLOCK, input=fasta)
        self.same("--pipe", "--recstart", ">", "--recend", "", "--block", "10", "-k", SHOW_BLOCK,
                  input=fasta)

    def test_recstart_alone_splits_before_each_start_wherever_it_is(self):
        # GNU parallel's tutorial: --recstart alone needs no newline before the start.
        r = self.same("-kN1", "--recstart", "/", "--pipe", "echo JOB{#};cat;echo END",
                      input=b"/foo, bar/, /baz, qux/,\n")
        self.assertEqual(r.out.count("JOB"), 4)
        self.same("--pipe", "--recstart", ">", "--block", "10", "-k", SHOW_BLOCK,
                  input=b">a>b\nAC>GT\n>c\nGG\n")

    def test_empty_input_runs_nothing(self):
        r = self.same("--pipe", "echo", "ran", input=b"")
        self.assertEqual(r.out, "")

    def test_without_keep_order_the_same_blocks(self):
        args = ("--pipe", "--block", "3000", "-j4", "cksum")
        mine = self.tp(*args, input=seq(1, 20000))
        ref = self.gnu(*args, input=seq(1, 20000))
        self.assertExit(mine, 0)
        self.assertEqual(lines_of(mine.out), lines_of(ref.out))

    def test_seq_and_slot_replacement_strings(self):
        self.same("--pipe", "-N2", "-k", "-j1", "cat >/dev/null; echo {#} {%}", input=seq(1, 6))

    def test_cat_and_fifo_give_each_block_as_a_file(self):
        data = self.write("data.txt", seq(1, 3000))
        for how in (["--pipe"], ["--pipepart", "-a", data]):
            for flag in ("--cat", "--fifo"):
                with self.subTest(how=how, flag=flag):
                    r = self.same(*how, flag, "--block", "5000", "-k", "wc -l < {}",
                                  input=seq(1, 3000))
                    self.assertGreater(len(r.out.split()), 2)
                    self.assertEqual(sum(int(n) for n in r.out.split()), 3000)

    def test_pipepart_blocks_join_to_the_file_as_gnu_parallel_s(self):
        data = self.write("data.txt", seq(1, 50000))
        mine = self.tp("--pipepart", "-a", data, "--block", "10000", "-k", "cat")
        ref = self.gnu("--pipepart", "-a", data, "--block", "10000", "-k", "cat")
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)
        self.assertEqual(mine.stdout, seq(1, 50000))


class PipeTest(XargsHabitsCase):
    """taskpool's own: --pipepart against --pipe, memory, early readers, errors."""

    def test_pipepart_ranges_union_is_pipe_blocks_union(self):
        data = self.write("data.txt", b"".join(b"%d %s\n" % (i, b"x" * (i % 97))
                                               for i in range(30000)))
        part = self.tp("--pipepart", "-a", data, "--block", "20000", "-j3", "wc", "-l")
        pipe = self.tp("--pipe", "-a", data, "--block", "20000", "-j3", "wc", "-l")
        self.assertExit(part, 0)
        self.assertExit(pipe, 0)
        self.assertEqual(sum(int(n) for n in part.out.split()), 30000)
        self.assertEqual(sum(int(n) for n in pipe.out.split()), 30000)
        self.assertGreater(len(part.out.split()), 10)
        whole = self.tp("--pipepart", "-a", data, "--block", "20000", "-k", "cat")
        self.assertEqual(whole.stdout, data.read_bytes())

    def test_pipepart_recstart_never_cuts_a_record(self):
        data = self.write("seqs.fa", b"".join(b">r%d\nACGT\nTTGA\n" % i for i in range(2000)))
        r = self.tp("--pipepart", "-a", data, "--recstart", ">", "--block", "1000", "-k",
                    "head -c1; cat >/dev/null; echo")
        self.assertExit(r, 0)
        self.assertEqual(set(r.out.split()), {">"})

    def test_a_record_longer_than_the_block_is_one_block_whole(self):
        long_line = b"y" * 10000
        data = b"a\n" + long_line + b"\nb\n"
        r = self.tp("--pipe", "--block", "1k", "-k", "wc", "-c", input=data)
        self.assertExit(r, 0)
        self.assertEqual(r.out.split(), ["2", "10001", "2"])

    def test_a_job_that_stops_reading_early_is_no_error(self):
        r = self.tp("--pipe", "--block", "100k", "-k", "head", "-1", input=seq(1, 200000))
        self.assertExit(r, 0)
        self.assertEqual(r.out.splitlines()[0], "1")

    def test_pipepart_on_a_pipe_is_refused(self):
        r = self.tp("--pipepart", "-a", "/dev/stdin", "cat", input=b"1\n2\n")
        self.assertExit(r, 255)
        self.assertIn("/dev/stdin: --pipepart needs a regular file", r.err)
        r = self.tp("--pipepart", "cat", input=b"1\n")
        self.assertExit(r, 255)
        self.assertIn("-a FILE", r.err)

    def test_bad_flags(self):
        for args, message in ((["--pipe", "--block", "0"], "--block: '0'"),
                              (["--block", "1M"], "--block needs --pipe"),
                              (["--pipe", "-X"], "blocks, not arguments"),
                              (["--pipe", "--recend", "", "--recstart", ""], "both empty"),
                              (["--pipepart", "-N2", "-a", "x"], "-N does not apply")):
            with self.subTest(args=args):
                r = self.tp(*args, "cat", input=b"1\n")
                self.assertExit(r, 255)
                self.assertIn(message, r.err)

    def test_cat_file_is_removed_after_the_job(self):
        r = self.tp("--pipe", "--cat", "-N2", "-k", "cat {}; echo {}", input=seq(1, 4),
                    env=test_env({"TMPDIR": str(self.tmp)}))
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0:2] + lines[3:5], ["1", "2", "3", "4"])
        self.assertTrue(lines[2].startswith(str(self.tmp) + "/taskpool-cat-"))
        self.assertEqual([p.name for p in self.tmp.iterdir()], [])

    def test_retried_job_gets_its_block_again(self):
        r = self.tp("--pipe", "-N2", "-k", "--retries", "1", "--backoff", "0",
                    "b=$(cat); test -e tried.{#} || { touch tried.{#}; exit 1; }; "
                    "printf '%s\\n' \"$b\"", input=seq(1, 4))
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n3\n4\n")


if __name__ == "__main__":
    unittest.main()
