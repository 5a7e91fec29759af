"""--progress, --eta and --timeline: what the user sees while a run goes and after it."""

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import termios
import time
import unittest
import xml.dom.minidom

from helpers import TASKPOOL, TaskpoolTestCase, taskpool, test_env


def run_on_a_terminal(args, timeout=30.0, columns=0):
    """Runs taskpool with stdout and stderr on a pseudo-terminal (`columns` wide, when given);
    returns everything it wrote."""
    leader, follower = pty.openpty()
    if columns:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = test_env({"TERM": "xterm", "NO_COLOR": ""})
    env.pop("NO_COLOR")
    proc = subprocess.Popen([TASKPOOL, *args], stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower, env=env, start_new_session=True)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: taskpool has exited
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    proc.wait(timeout=10)
    return proc.returncode, output


class ProgressTest(TaskpoolTestCase):
    def test_progress_in_a_log_is_plain_lines_without_escape_codes(self):
        r = taskpool("--progress", "--progress-interval", "0.2", "-j2", "sleep", ":::",
                     "0.3", "0.3", "0.3", "0.3")
        self.assertExit(r, 0)
        self.assertNotIn(b"\x1b", r.stderr)
        self.assertNotIn(b"\r", r.stderr)
        lines = [l for l in r.err.splitlines() if "done" in l]
        self.assertGreaterEqual(len(lines), 2, r.err)
        self.assertIn("taskpool: 4/4 done (100%), 0 failed, 0 running", lines[-1])

    def test_eta_says_it_is_a_bound_while_the_input_streams(self):
        # A slow writer: the input is not complete while the first jobs end.
        r = self.run_streaming()
        self.assertExit(r, 0)
        self.assertRegex(r.err, r"\d+ done, .*ETA >= ")

    def run_streaming(self):
        script = (f"(echo 0.2; echo 0.2; sleep 1.5; echo 0.1) | "
                  f"'{TASKPOOL}' --eta --progress-interval 0.3 -j1 sleep")
        from helpers import sh
        return sh(script)

    def test_terminal_bar_is_redrawn_in_place_and_job_output_stays_whole(self):
        code, out = run_on_a_terminal(
            ["--progress", "-j2", "sh", "-c", "sleep 0.15; echo line-{}-end", ":::",
             *[str(i) for i in range(1, 9)]])
        self.assertEqual(code, 0, out)
        self.assertIn(b"\r", out)
        self.assertIn(b"\x1b[K", out)  # the bar is erased before output
        text = out.decode()
        for i in range(1, 9):
            # Each job's line arrives whole, never broken by the bar.
            self.assertIn(f"line-{i}-end\r\n", text)
        self.assertIn("8/8 done (100%)", text)

    def test_the_status_line_is_drawn_again_after_each_jobs_output(self):
        # Quick jobs that print: the line is cleared for each job's output and comes back right
        # after it, not only at the next redraw (then it would be missing most of the time).
        code, out = run_on_a_terminal(
            ["--progress", "-j2", "echo", "line-{}-end", ":::", *[str(i) for i in range(1, 31)]])
        self.assertEqual(code, 0, out)
        text = out.decode()
        for i in range(1, 31):
            at = text.index(f"line-{i}-end\r\n") + len(f"line-{i}-end\r\n")
            self.assertRegex(text[at:at + 200], r"^(line-\d+-end\r\n)*\rtaskpool: \d+",
                             f"no status line after job {i}'s output")

    def test_failures_stand_out_on_a_terminal_unless_no_color(self):
        code, out = run_on_a_terminal(["--progress", "-j1", "false", ":::", "1", "2"])
        self.assertEqual(code, 2)
        self.assertIn(b"\x1b[31m2 failed\x1b[0m", out)

    def test_bad_progress_interval_is_refused(self):
        for value in ("0", "x", "50ms"):
            r = taskpool("--progress-interval", value, "true", ":::", "1")
            self.assertExit(r, 255)
            self.assertIn("--progress-interval", r.err)


class TimelineTest(TaskpoolTestCase):
    def parse(self, path):
        return xml.dom.minidom.parse(str(path))

    def test_timeline_has_one_row_per_worker_and_one_bar_per_attempt(self):
        svg = self.path("run.svg")
        r = taskpool("-j3", "--timeline", svg, "--retries", "1", "--backoff", "0", "exit {}", ":::", "0", "0", "1", "0", "0")
        self.assertExit(r, 1)
        doc = self.parse(svg)
        rects = doc.getElementsByTagName("rect")
        workers = [g for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "worker"]
        attempts = [e for e in rects if e.getAttribute("class") == "attempt"]
        self.assertEqual(len(workers), 3)
        self.assertEqual(len(attempts), 6)  # 5 jobs, one of them tried twice
        outcomes = sorted(a.getAttribute("data-outcome") for a in attempts)
        self.assertEqual(outcomes, ["failed", "ok", "ok", "ok", "ok", "retried"])
        for a in attempts:
            self.assertIn(int(a.getAttribute("data-worker")), (1, 2, 3))
        titles = sorted(a.getElementsByTagName("title")[0].firstChild.data for a in attempts)
        self.assertTrue(titles[0].startswith("job 1: exit 0, worker "), titles[0])

    def test_compare_draws_batch_above_pool_on_one_scale(self):
        svg = self.path("compare.svg")
        durations = "\n".join(["0.4", "0.1", "0.1", "0.1"] * 2) + "\n"
        r = taskpool("--compare", "-j4", "--timeline", svg, "sleep", input=durations.encode())
        self.assertExit(r, 0)
        doc = self.parse(svg)
        runs = [g.getAttribute("data-title") for g in doc.getElementsByTagName("g")
                if g.getAttribute("class") == "run"]
        self.assertEqual(runs, ["batch mode", "pool mode"])
        attempts = [e for e in doc.getElementsByTagName("rect")
                    if e.getAttribute("class") == "attempt"]
        self.assertEqual(len(attempts), 16)

    @unittest.skipUnless(shutil.which("chromium"),
                         "Debian's chromium is not installed (apt-get install chromium); "
                         "the timeline was not rendered")
    def test_timeline_renders_in_a_browser(self):
        svg = self.path("render.svg")
        r = taskpool("-j2", "--timeline", svg, "sleep", ":::", "0.2", "0.1", "0.1")
        self.assertExit(r, 0)
        png = self.path("render.png")
        shot = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             f"--screenshot={png}", "--window-size=1100,300", svg.as_uri()],
            capture_output=True, timeout=90, env=test_env({"HOME": str(self.path("home"))}))
        self.assertEqual(shot.returncode, 0, shot.stderr.decode(errors="replace"))
        data = png.read_bytes()
        self.assertTrue(data.startswith(b"\x89PNG\r\n\x1a\n"))
        # A blank page compresses to almost nothing; bars, labels and ticks do not.
        self.assertGreater(len(data), 5000)

    def test_many_attempts_are_drawn_as_density_in_a_small_file(self):
        # 2000 short jobs on 4 workers: 500 bars a row would be thinner than a pixel, their
        # white edges making a busy pool look idle. The rows are shaded by how busy they were.
        svg = self.path("many.svg")
        r = taskpool("-j4", "--timeline", svg, "true", ":::", *map(str, range(2000)),
                     timeout=120)
        self.assertExit(r, 0)
        self.assertLess(svg.stat().st_size, 200_000)
        doc = self.parse(svg)
        run = [g for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "run"][0]
        self.assertEqual(run.getAttribute("data-drawn"), "density")
        self.assertEqual(run.getAttribute("data-attempts"), "2000")
        busy = [e for e in doc.getElementsByTagName("rect") if e.getAttribute("class") == "busy"]
        self.assertEqual({int(e.getAttribute("data-worker")) for e in busy}, {1, 2, 3, 4})
        self.assertGreater(max(int(e.getAttribute("data-busy")) for e in busy), 0)
        ended = 0
        for e in busy:
            title = e.getElementsByTagName("title")[0].firstChild.data
            ended += int(title.split(" attempts ended")[0].rsplit(" ", 1)[1])
        self.assertEqual(ended, 2000, "every attempt is counted in one stretch")

    def test_timeline_named_as_a_picture_is_refused_before_anything_runs(self):
        for name in ("run.png", "RUN.JPG", "chart.pdf"):
            with self.subTest(name=name):
                r = taskpool("--timeline", self.path(name), "touch", self.path("ran"), ":::", "1")
                self.assertExit(r, 255)
                self.assertIn("--timeline", r.err)
                self.assertIn("the chart is written as SVG", r.err)
                self.assertFalse(self.path(name).exists())
                self.assertFalse(self.path("ran").exists(), "a job ran")

    def test_timeline_file_that_cannot_be_written_is_an_error(self):
        r = taskpool("--timeline", "/nonexistent-dir/t.svg", "true", ":::", "1")
        self.assertExit(r, 255)
        self.assertIn("/nonexistent-dir/t.svg", r.err)


if __name__ == "__main__":
    unittest.main()
