"""Where records come from: -a FILE, stdin, ::: lists; newline, NUL and custom delimiters."""

import unittest

from helpers import (TaskpoolTestCase, parallel, requires_gnu_parallel, show_args_output,
                     taskpool)


class InputTest(TaskpoolTestCase):

    def setUp(self):
        super().setUp()
        self.write("numbers.txt", "1\n2\n")
        self.write("letters.txt", "a\nb\n")

    def tp(self, *args, **kwargs):
        kwargs.setdefault("cwd", self.tmp)
        return taskpool(*args, **kwargs)

    def test_arg_file_followed_by_the_command(self):
        r = self.tp("-k", "-a", "numbers.txt", "echo", "n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "n 1\nn 2\n")

    def test_long_arg_file_followed_by_the_command(self):
        r = self.tp("-k", "--arg-file", "numbers.txt", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_with_equals_followed_by_the_command(self):
        r = self.tp("-k", "--arg-file=numbers.txt", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_then_double_dash(self):
        r = self.tp("-k", "-a", "numbers.txt", "--", "echo")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_arg_file_ignores_stdin(self):
        r = self.tp("-k", "-j1", "-a", "numbers.txt", "--", "echo", input=b"from stdin\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n2\n")

    def test_lists_ignore_stdin(self):
        r = self.tp("-k", "echo", ":::", "x", input=b"from stdin\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "x\n")

    def test_empty_input_runs_no_job(self):
        r = self.tp("touch", "made", input=b"")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, b"")
        self.assertFalse(self.path("made").exists())

    def test_empty_lines_are_records(self):
        r = self.tp("-k", "show-args", input=b"a\n\nb\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a"], [""], ["b"]))

    def test_missing_final_newline(self):
        r = self.tp("-k", "show-args", input=b"a\nlast")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a"], ["last"]))

    def test_crlf_is_kept_as_data(self):
        r = self.tp("-k", "show-args", input=b"a\r\nb\n")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a\r"], ["b"]))

    def test_null_delimiter(self):
        r = self.tp("-k", "-0", "show-args", input=b"a\nb\0c\0")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, show_args_output(["a\nb"], ["c"]))

    def test_a_nul_byte_in_a_line_fails_that_job_rather_than_cutting_the_argument(self):
        # GNU parallel passes the two characters \0 instead; taskpool refuses to run the job, so
        # no command ever sees a shortened argument.
        for template in (["show-args"], ["show-args {} | cat"]):
            r = self.tp("-k", *template, input=b"a\0b\nc\n")
            self.assertExit(r, 1, template)
            self.assertEqual(r.stdout, show_args_output(["c"]), template)
            self.assertIn("show-args: the command line holds a NUL byte", r.err, template)
            self.assertIn("use -0", r.err, template)

    def test_custom_delimiters(self):
        for flag, data in ((",", b"a b,c\n,d"), ("\\t", b"a b\tc\n\td"), ("\\x2c", b"a b,c\n,d")):
            r = self.tp("-k", "-d", flag, "show-args", input=data)
            self.assertExit(r, 0, f"-d {flag}")
            self.assertEqual(r.stdout, show_args_output(["a b"], ["c\n"], ["d"]), f"-d {flag}")

    def test_long_record(self):
        # Long, but within the kernel's limit for one argument (128 KiB).
        record = "x" * 100_000
        r = self.tp("sh -c 'printf %s \"$1\" | wc -c' sh", input=(record + "\n").encode())
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip(), str(len(record)))

    def test_sequence_numbers_follow_input_order(self):
        r = self.tp("-k", "-j3", "echo", "{#}", "{}", input=b"a\nb\nc\nd\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1 a\n2 b\n3 c\n4 d\n")

    @requires_gnu_parallel
    def test_two_arg_files_as_gnu_parallel(self):
        args = ["-k", "-a", "numbers.txt", "-a", "letters.txt", "--", "echo"]
        mine = self.tp(*args)
        ref = parallel(*args, cwd=self.tmp)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)

    @requires_gnu_parallel
    def test_arg_file_and_list_as_gnu_parallel(self):
        args = ["-k", "-a", "numbers.txt", "--", "echo", "{1}-{2}", ":::", "x", "y"]
        mine = self.tp(*args)
        ref = parallel(*args, cwd=self.tmp)
        self.assertExit(mine, 0)
        self.assertEqual(mine.stdout, ref.stdout)


if __name__ == "__main__":
    unittest.main()
