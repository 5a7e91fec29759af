"""taskpool --fetch against a real HTTP server on 127.0.0.1 (tests/fetch_server.py, started on an
ephemeral port for each test): downloads land complete and correct (sha256 checked), failures are
retried or not as documented, nothing half-done looks done (a failed transfer leaves at most
NAME.part), names from hostile URLs stay inside the output directory, and the joblog and JSON
summary describe the downloads. Times are bounded generously: the machine may be loaded."""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path
from typing import Dict, List, Optional

import json_schema
from helpers import REPO, TaskpoolTestCase, kill_group, taskpool, test_env
from process_support import Background, joblog_rows, read_json, wait_until
from progress_test import run_on_a_terminal

sys.path.insert(0, str(REPO / "tests"))
from fetch_server import (ConnectProxy, FetchServer, generated_bytes,  # noqa: E402
                          generated_sha256)

RUN_TIMEOUT = 30  # seconds, for one taskpool run
BIG = 104857600   # bytes: the large download that gets interrupted and resumed


def fetch_env() -> dict:
    """The environment for taskpool, without proxy settings: the server is on 127.0.0.1."""
    env = test_env()
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        env.pop(name, None)
    env["no_proxy"] = env["NO_PROXY"] = "*"
    return env


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_under(root: Path) -> List[Path]:
    """Every file, link and empty directory under root, relative to it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        found += [(d / n).relative_to(root) for n in filenames]
        found += [(d / n).relative_to(root) for n in dirnames if (d / n).is_symlink()]
        if not dirnames and not filenames and d != root:
            found.append(d.relative_to(root))
    return sorted(found)


class FetchCase(TaskpoolTestCase):
    """Each test gets a server whose root is `served/`, and `out/` as the output directory."""

    def setUp(self):
        super().setUp()
        self.root = self.path("served")
        self.root.mkdir()
        self.out = self.path("out")
        self.server = FetchServer(self.root).start()
        self.addCleanup(self.server.stop)

    def serve(self, name: str, data: bytes) -> bytes:
        """Puts a file under the server's root; returns its content."""
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return data

    def serve_random(self, name: str, size: int, seed: Optional[int] = None) -> bytes:
        rng = random.Random(seed if seed is not None else name)
        return self.serve(name, rng.randbytes(size))

    def url(self, path: str) -> str:
        return self.server.url(path)

    def fetch(self, *args, urls: Optional[List[str]] = None, out: Optional[Path] = None,
              timeout: float = RUN_TIMEOUT, **kwargs):
        """Runs `taskpool --fetch -o OUT ARGS` with the URLs as standard input lines."""
        if urls is not None:
            kwargs["input"] = "".join(u + "\n" for u in urls).encode()
        kwargs.setdefault("env", fetch_env())
        return taskpool("--fetch", "-o", out or self.out, *args, timeout=timeout, **kwargs)

    # -- assertions ------------------------------------------------------------------------

    def assertDownloaded(self, name: str, data: bytes, where: Optional[Path] = None):
        where = where or self.out
        path = where / name
        self.assertTrue(path.is_file(), f"{name} was not downloaded; {where} has "
                        f"{files_under(where) if where.exists() else 'nothing'}")
        got = path.read_bytes()
        self.assertEqual(sha256(got), sha256(data),
                         f"{name}: {len(got)} bytes differ from the {len(data)} served")
        self.assertFalse(Path(str(path) + ".part").exists(), f"{name}.part left after success")

    def assertNotDone(self, name: str, where: Optional[Path] = None):
        """The download failed: no NAME, and nothing in the directory but .part files and their
        records (NAME.part.meta), each record with its .part."""
        where = where or self.out
        self.assertFalse((where / name).exists(),
                         f"a failed download left {name}, which looks complete")
        if where.exists():
            files = files_under(where)
            others = [p for p in files if not p.name.endswith((".part", ".part.meta"))]
            self.assertEqual(others, [], "a failed download left files that are not .part")
            records = [p for p in files if p.name.endswith(".part.meta")]
            for record in records:
                self.assertIn(Path(str(record)[:-len(".meta")]), files,
                              f"{record} was left without its .part")

    def joblog(self, log: Path) -> Dict[str, List[str]]:
        """The joblog's rows by URL: a download's Command column is "URL -> FILE" (FILE under
        the output directory), or the URL alone when it had no file name."""
        return {row[8].split(" -> ", 1)[0]: row for row in joblog_rows(log)}

    def assertJoblog(self, log: Path, url: str, exitval: int, received: Optional[int] = None,
                     file: Optional[str] = None):
        rows = self.joblog(log)
        self.assertIn(url, rows, f"no joblog line with the URL as its command: {list(rows)}")
        row = rows[url]
        if file is not None:
            self.assertEqual(row[8], f"{url} -> {file}", "the Command column says where it went")
        self.assertEqual(int(row[6]), exitval, f"Exitval for {url}: {row}")
        if received is not None:
            self.assertEqual(int(row[5]), received, f"Receive for {url}: {row}")

    def requests(self, path: str):
        return self.server.requests(path)

    def interrupted(self, path: str, *args, name: Optional[str] = None) -> int:
        """Downloads `path`, a /short-once/ URL, once: the transfer is cut half-way (curl's 18),
        which leaves NAME.part as taskpool keeps it for --continue. Returns its size."""
        self.assertIn("/short-once/", path)
        r = self.fetch(*args, urls=[self.url(path)])
        self.assertExit(r, 1)
        part = self.out / ((name or path.rsplit("/", 1)[1]) + ".part")
        self.assertTrue(part.exists() and part.stat().st_size > 0, f"no {part.name} after {r.err}")
        return part.stat().st_size

    def stop_twice(self, run: Background):
        """Ctrl-C twice, as an impatient user: the transfers end at once, and the run fails."""
        run.signal(signal.SIGINT)
        time.sleep(0.5)
        if run.running():
            run.signal(signal.SIGINT)
        sent = time.monotonic()
        r = run.wait(15)
        self.assertLess(time.monotonic() - sent, 5, "taskpool did not end its transfers promptly")
        self.assertNotEqual(r.code, 0)

    def gets(self, path: str):
        """The GET requests for `path` (a HEAD request first would be fine)."""
        return [q for q in self.server.requests(path) if q.method == "GET"]


class DownloadTest(FetchCase):

    def test_many_small_files_at_j8_are_all_correct(self):
        sizes = [0, 1, 2, 100, 1023, 1024, 1025, 65535, 65536, 65537, 300000]
        sizes += [random.Random(i).randrange(1, 20000) for i in range(40)]
        files = {f"f{i:02d}.bin": self.serve_random(f"f{i:02d}.bin", n)
                 for i, n in enumerate(sizes)}
        urls = [self.url("/" + name) for name in files]
        log = self.path("joblog")
        r = self.fetch("-j", "8", "--joblog", log, urls=urls)
        self.assertExit(r, 0)
        for name, data in files.items():
            self.assertDownloaded(name, data)
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), sorted(files))
        rows = joblog_rows(log)
        self.assertEqual(len(rows), len(urls), "one joblog line per URL")
        for name, data in files.items():
            self.assertJoblog(log, self.url("/" + name), 0, len(data), file=f"{self.out}/{name}")

    def test_urls_from_an_arg_file_and_from_a_command_line_list(self):
        a = self.serve_random("a.bin", 5000)
        b = self.serve_random("b.bin", 7000)
        c = self.serve_random("c.bin", 9000)
        listing = self.write("urls.txt", self.url("/a.bin") + "\n" + self.url("/b.bin") + "\n")
        r = self.fetch("-a", listing)
        self.assertExit(r, 0)
        r = self.fetch(":::", self.url("/c.bin"))
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", a)
        self.assertDownloaded("b.bin", b)
        self.assertDownloaded("c.bin", c)

    def test_output_directory_is_created_when_missing(self):
        data = self.serve_random("a.bin", 3000)
        where = self.path("new/nested/dir")
        r = self.fetch(urls=[self.url("/a.bin")], out=where)
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", data, where)

    def test_default_output_directory_is_the_current_directory(self):
        data = self.serve_random("a.bin", 3000)
        cwd = self.path("cwd")
        cwd.mkdir()
        r = taskpool("--fetch", ":::", self.url("/a.bin"), cwd=cwd, timeout=RUN_TIMEOUT,
                     env=fetch_env())
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", data, cwd)

    def test_query_string_is_not_part_of_the_file_name(self):
        a = self.serve_random("a.txt", 500)
        b = self.serve_random("b.txt", 600)
        r = self.fetch(urls=[self.url("/a.txt?v=2&x=y"), self.url("/query?file=b.txt")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.txt", a)
        self.assertDownloaded("query", b)
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), ["a.txt", "query"])

    def test_url_with_an_empty_last_segment_is_saved_as_index_html(self):
        top = self.serve("index.html", b"<p>top</p>\n")
        sub = self.serve("d/index.html", b"<p>sub</p>\n")
        r = self.fetch("-j", "1", urls=[self.url("/"), self.url("/d/")])
        self.assertExit(r, 0)
        self.assertDownloaded("index.html", top)
        self.assertDownloaded("index.html.1", sub)

    def test_user_agent_names_taskpool_and_its_version(self):
        self.serve_random("a.bin", 100)
        version = taskpool("--version").out.split()[-1]
        r = self.fetch(urls=[self.url("/a.bin"), self.url("/redirect/1/a.bin")])
        self.assertExit(r, 0)
        agents = {req.user_agent for req in self.server.requests()}
        self.assertEqual(agents, {f"taskpool/{version}"})

    def test_connections_are_reused_between_transfers(self):
        names = [f"r{i}.bin" for i in range(10)]
        for name in names:
            self.serve_random(name, 2000)
        r = self.fetch("-j", "1", urls=[self.url("/" + n) for n in names])
        self.assertExit(r, 0)
        reqs = self.server.requests()
        connections = {req.client for req in reqs}
        self.assertLess(len(connections), len(reqs),
                        f"{len(reqs)} requests over {len(connections)} connections")

    def test_j_runs_transfers_at_the_same_time(self):
        for i in range(8):
            self.serve(f"d{i}.txt", b"x" * 100)
        urls = [self.url(f"/delay/500/d{i}.txt") for i in range(8)]
        r = self.fetch("-j", "8", urls=urls)
        self.assertExit(r, 0)
        self.assertGreaterEqual(self.server.max_in_flight, 4,
                                "-j 8 did not run transfers at the same time")

    def test_max_per_host_bounds_transfers_to_one_host(self):
        for i in range(8):
            self.serve(f"d{i}.txt", b"x" * 100)
        urls = [self.url(f"/delay/300/d{i}.txt") for i in range(8)]
        r = self.fetch("-j", "8", "--max-per-host", "2", urls=urls)
        self.assertExit(r, 0)
        self.assertLessEqual(self.server.max_in_flight, 2)
        for i in range(8):
            self.assertDownloaded(f"d{i}.txt", b"x" * 100)

    def test_limit_rate_slows_each_transfer(self):
        # The limit is an average over seconds, and several MB fit in the socket buffers at
        # once, so the transfer is long and the bound far below the 5 s expected.
        size = 20000000
        r = self.fetch("--limit-rate", "4M", urls=[self.url(f"/gen/{size}/r.bin")])
        self.assertExit(r, 0)
        self.assertEqual(file_sha256(self.out / "r.bin"), generated_sha256(size))
        self.assertGreaterEqual(r.seconds, 2, "20 MB at 4 MB/s took less than 2 s")

    def test_no_urls_is_success(self):
        r = self.fetch(urls=[])
        self.assertExit(r, 0)

    def test_fetch_with_a_command_is_a_usage_error(self):
        r = taskpool("--fetch", "echo", ":::", self.url("/a"), cwd=self.tmp, timeout=RUN_TIMEOUT)
        self.assertExit(r, 255)
        self.assertNotEqual(r.err.strip(), "", "no message for the usage error")
        r = taskpool("--fetch", "echo", input=b"", cwd=self.tmp, timeout=RUN_TIMEOUT)
        self.assertExit(r, 255)
        self.assertEqual(self.server.requests(), [])


class FetchMessagesTest(FetchCase):
    """What a download run says: retries with the HTTP status and the URL, where each URL went
    (joblog, JSON) with normalised paths, and byte counts in IEC units."""

    def test_retry_lines_name_the_http_status_and_the_url(self):
        url = self.url("/status/503/busy.bin")
        r = self.fetch("--retries", "2", "--backoff", "0", urls=[url])
        self.assertExit(r, 1)
        for n in (1, 2):
            self.assertRegex(r.err, rf"taskpool: retry {n}/2 in \d+ ms: HTTP 503 from "
                             + re.escape(url) + "\n")
        self.assertIn(f"taskpool: HTTP 503 from {url}\n", r.err)
        self.assertNotIn("exited with status", r.err)

    def test_joblog_and_json_say_where_each_url_went_in_normalised_paths(self):
        self.serve_random("a.bin", 1000)
        log, summary = self.path("joblog"), self.path("summary.json")
        out = f"{self.out}/./sub//"
        urls = [self.url("/a.bin"), self.url("/a.bin") + "\tx//y/b.bin", self.url("/404/c.bin")]
        r = self.fetch("--joblog", log, "--summary-json", summary, urls=urls, out=out)
        self.assertExit(r, 1)
        rows = [row[8] for row in joblog_rows(log)]
        sub = f"{self.out}/sub"
        self.assertEqual(sorted(rows), sorted([f"{self.url('/a.bin')} -> {sub}/a.bin",
                                               f"{self.url('/a.bin')} -> {sub}/x/y/b.bin",
                                               f"{self.url('/404/c.bin')} -> {sub}/c.bin"]))
        self.assertTrue(Path(f"{sub}/x/y/b.bin").is_file())
        failed = read_json(summary)["fetch"]["failed"]
        self.assertEqual([(f["url"], f["path"]) for f in failed],
                         [(self.url("/404/c.bin"), f"{sub}/c.bin")])
        # A message that names a file names it normalised too.
        r = self.fetch(urls=[self.url("/a.bin")], out=out)
        self.assertIn(f"{sub}/a.bin exists", r.err)
        self.assertNotIn("//", r.err.replace("http://", ""))

    def test_the_summary_counts_bytes_in_iec_units(self):
        self.serve_random("big.bin", 3 * 1024 * 1024)
        r = self.fetch("--summary", urls=[self.url("/big.bin")])
        self.assertExit(r, 0)
        self.assertIn("  fetched   3.00 MiB (", r.err)
        self.assertRegex(r.err, r"fetched   3\.00 MiB \(\d+(\.\d+)? (KiB|MiB|GiB)/s\)")
        self.assertNotRegex(r.err, r"\d (MB|KB|kB)\b")


class FetchProgressTest(FetchCase):
    """--progress for downloads: bytes and their rate beside the files; --fetch's default -j."""

    def test_progress_on_a_terminal_counts_bytes_and_their_rate(self):
        for name in ("a.bin", "b.bin", "c.bin"):
            self.serve_random(name, 300 * 1024)
        code, out = run_on_a_terminal(
            ["--fetch", "--progress", "--limit-rate", "200k", "-o", self.out,
             ":::", *[self.url(f"/{n}") for n in ("a.bin", "b.bin", "c.bin")]], columns=160)
        self.assertEqual(code, 0, out)
        lines = [line for line in out.decode().replace("\x1b[K", "").split("\r") if line]
        # While it runs: bytes of the sizes known so far, and a rate in bytes.
        during = [line for line in lines if "running" in line and "0 running" not in line]
        self.assertTrue(any(re.search(r", \d+(\.\d+)? (B|KiB)/\d+(\.\d+)? KiB, "
                                      r"\d+(\.\d+)? (B|KiB|MiB)/s, ", line) for line in during),
                        lines)
        last = next(line for line in reversed(lines) if line.startswith("taskpool: 3/3"))
        self.assertIn("3/3 done (100%), 0 failed, 0 running", last)
        self.assertIn(", 900 KiB/900 KiB, ", last)

    def test_fetch_without_j_runs_16_downloads_at_once(self):
        urls = [self.url(f"/delay/1000/gen/10/f{i}") for i in range(16)]
        r = self.fetch("--summary-json", "-", urls=urls)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["workers"], 16)
        self.assertLess(r.seconds, 8, "16 downloads of a second each did not run at once")
        r = self.fetch("-j", "3", "--summary-json", "-", urls=urls[:3])
        self.assertEqual(json.loads(r.out)["workers"], 3, "-j still sets it")


class FetchLanesTest(FetchCase):
    """With CPUs to spare and -j 8 or more, downloads run on a thread a CPU ("fetch lane"), each
    with its own connections: every file still comes once and whole, and --progress adds them."""

    def lane_threads(self, pid: int) -> List[str]:
        names = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                names.append((task / "comm").read_text().strip())
            except OSError:
                pass  # the thread ended meanwhile
        return [n for n in names if n == "fetch lane"]

    def test_j64_over_many_files_runs_on_two_lanes_and_gets_every_file(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU: the downloads run on one thread")
        files = {f"s{i:03d}": self.serve_random(f"s{i:03d}", random.Random(i).randrange(0, 9000))
                 for i in range(400)}
        # Slow ones first, one a lane at least: they keep the run going while its threads are
        # looked at.
        urls = [self.url(f"/delay/1500/s{i:03d}") for i in range(8)]
        urls += [self.url("/" + name) for name in list(files)[8:]]
        listing = self.write("urls", "".join(u + "\n" for u in urls))
        log = self.path("joblog")
        run = Background(self.tmp, "--fetch", "-j", "64", "-o", self.out, "-a", listing,
                         "--joblog", log, env=fetch_env())
        self.addCleanup(kill_group, run.proc)
        self.assertTrue(wait_until(lambda: len(self.lane_threads(run.pid)) >= 2
                                   or not run.running(), RUN_TIMEOUT))
        lanes = self.lane_threads(run.pid)
        r = run.wait(RUN_TIMEOUT)
        self.assertExit(r, 0)
        self.assertEqual(len(lanes), 2, "-j 64 on two CPUs: two fetch lanes")
        for name, data in files.items():
            self.assertDownloaded(name, data)
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), sorted(files))
        self.assertEqual(len(joblog_rows(log)), len(urls), "one joblog line per URL")
        gets = [q.path for q in self.server.requests() if q.method == "GET"]
        self.assertEqual(sorted(gets), sorted(u[len(self.url("")):] for u in urls),
                         "each file asked for once")

    def test_a_stop_ends_the_transfers_of_every_lane_and_keeps_their_part_files(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU: the downloads run on one thread")
        names = [f"s{i}.bin" for i in range(12)]
        for name in names:
            self.serve_random(name, 64 * 1024)  # 32 s each, at /slow/'s 1 KiB every 0.5 s
        run = Background(self.tmp, "--fetch", "-j", "16", "-o", self.out, ":::",
                         *[self.url(f"/slow/{n}") for n in names], env=fetch_env())
        self.addCleanup(run.kill)
        parts = [self.out / (n + ".part") for n in names]
        self.assertTrue(wait_until(lambda: all(p.exists() and p.stat().st_size > 0
                                               for p in parts), 15),
                        "no data arrived in every .part")
        self.assertEqual(len(self.lane_threads(run.pid)), 2)
        self.stop_twice(run)
        for name, part in zip(names, parts):
            self.assertNotDone(name)
            self.assertTrue(part.exists(), f"{part.name} was not kept")

    def test_progress_adds_up_the_lanes(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU: the downloads run on one thread")
        urls = [self.url(f"/gen/{1000 * (i + 1)}/g{i}") for i in range(40)]
        last = {}
        for jobs in ("16", "4"):  # two lanes, one
            out_dir = self.path(f"out{jobs}")
            code, out = run_on_a_terminal(["--fetch", "--progress", "-j", jobs, "-o", out_dir,
                                           ":::", *urls], columns=160)
            self.assertEqual(code, 0, out)
            lines = [line for line in out.decode().replace("\x1b[K", "").split("\r") if line]
            last[jobs] = next(line for line in reversed(lines)
                              if line.startswith("taskpool: 40/40"))
        self.assertIn("40/40 done (100%), 0 failed, 0 running", last["16"])
        sizes = [re.search(r", ([^,]+ KiB/[^,]+ KiB), ", line) for line in last.values()]
        self.assertTrue(all(sizes), last)
        self.assertEqual(sizes[0].group(1), sizes[1].group(1), last)


class HttpFailureTest(FetchCase):

    def setUp(self):
        super().setUp()
        self.data = self.serve_random("a.bin", 200000)
        self.log = self.path("joblog")

    def test_500_then_200_succeeds_with_retries(self):
        url = self.url("/fail-then-ok/1/a.bin")
        r = self.fetch("--retries", "2", "--backoff", "0", "--joblog", self.log, urls=[url])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertEqual([q.status for q in self.requests("/fail-then-ok/1/a.bin")], [500, 200])
        self.assertJoblog(self.log, url, 0, len(self.data))

    def test_500_fails_without_retries_and_leaves_no_file(self):
        url = self.url("/fail-then-ok/1/a.bin")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("a.bin")
        self.assertEqual(len(self.requests("/fail-then-ok/1/a.bin")), 1)
        self.assertJoblog(self.log, url, 22)

    def test_retries_run_out_on_a_server_that_keeps_failing(self):
        url = self.url("/fail-then-ok/5/a.bin")
        r = self.fetch("--retries", "2", "--backoff", "0", "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("a.bin")
        self.assertEqual(len(self.requests("/fail-then-ok/5/a.bin")), 3)
        self.assertJoblog(self.log, url, 22)

    def test_transient_statuses_are_retried_and_other_client_errors_are_not(self):
        retried = [408, 429, 500, 502, 503, 504]
        final = [400, 401, 403, 404, 410]
        paths = {code: f"/status/{code}/s{code}" for code in retried + final}
        r = self.fetch("-j", "4", "--retries", "2", "--backoff", "0", "--joblog", self.log,
                       urls=[self.url(p) for p in paths.values()])
        self.assertExit(r, len(paths))
        for code, path in paths.items():
            want = 3 if code in retried else 1
            self.assertEqual(len(self.requests(path)), want,
                             f"HTTP {code}: {len(self.requests(path))} requests, expected {want}")
            self.assertJoblog(self.log, self.url(path), 22)
            self.assertNotDone(f"s{code}")

    def test_404_is_not_retried_and_fails_with_exitval_22(self):
        url = self.url("/404/missing.bin")
        r = self.fetch("--retries", "3", "--backoff", "0", "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertEqual(len(self.requests("/404/missing.bin")), 1, "a 404 was retried")
        self.assertJoblog(self.log, url, 22)
        self.assertNotDone("missing.bin")

    def test_429_waits_for_retry_after_before_the_retry(self):
        r = self.fetch("--retries", "1", "--backoff", "0", urls=[self.url("/429/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        reqs = self.requests("/429/a.bin")
        self.assertEqual([q.status for q in reqs], [429, 200])
        self.assertGreaterEqual(reqs[1].time - reqs[0].time, 0.9,
                                "the retry came before Retry-After: 1 had passed")

    def test_retry_after_is_capped_by_backoff_max(self):
        path = "/429-after/30/a.bin"
        r = self.fetch("--retries", "1", "--backoff", "0", "--backoff-max", "1s",
                       urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        reqs = self.requests(path)
        self.assertEqual([q.status for q in reqs], [429, 200])
        self.assertLess(reqs[1].time - reqs[0].time, 10,
                        "Retry-After: 30 was not capped by --backoff-max 1s")

    def test_503_with_retry_after_as_a_date_waits_until_then(self):
        r = self.fetch("--retries", "1", "--backoff", "0", urls=[self.url("/503-date/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        reqs = self.requests("/503-date/a.bin")
        self.assertEqual([q.status for q in reqs], [503, 200])
        # The date is 1 to 2 s ahead, with a resolution of one second.
        self.assertGreaterEqual(reqs[1].time - reqs[0].time, 0.5,
                                "the retry did not wait for the Retry-After date")

    def test_redirect_chain_is_followed(self):
        url = self.url("/redirect/3/a.bin")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertEqual(len(self.server.requests_under("/redirect/")), 4)
        self.assertJoblog(self.log, url, 0, len(self.data))

    def test_redirect_loop_fails_with_exitval_47(self):
        url = self.url("/redirect-loop")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("redirect-loop")
        n = len(self.server.requests_under("/redirect-loop"))
        self.assertGreater(n, 1, "no redirect was followed")
        self.assertLessEqual(n, 12, "more than 10 redirects were followed")
        self.assertJoblog(self.log, url, 47)

    def test_204_and_a_redirect_without_location_are_not_saved_and_not_retried(self):
        paths = {"/status/204/n.bin": 204, "/status/302/r.bin": 302, "/status/304/m.bin": 304}
        self.out.mkdir()
        (self.out / "n.bin.part").write_bytes(b"an earlier run's")
        r = self.fetch("--retries", "2", "--backoff", "0", "--continue", "--joblog", self.log,
                       urls=[self.url(p) for p in paths])
        self.assertExit(r, 3)
        for path, status in paths.items():
            self.assertEqual([q.status for q in self.requests(path)], [status], "retried")
            self.assertJoblog(self.log, self.url(path), 8)
            self.assertIn(f"{self.url(path)}: the server answered {status}", r.err)
        self.assertEqual(files_under(self.out), [], "a .part or its record was left")

    def test_the_body_of_a_redirect_is_not_part_of_the_file(self):
        r = self.fetch(urls=[self.url("/redirect/2/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)

    def test_failed_url_does_not_affect_the_others(self):
        b = self.serve_random("b.bin", 3000)
        r = self.fetch("-j", "2", urls=[self.url("/a.bin"), self.url("/404/x"),
                                        self.url("/b.bin")])
        self.assertExit(r, 1)
        self.assertDownloaded("a.bin", self.data)
        self.assertDownloaded("b.bin", b)
        self.assertFalse((self.out / "x").exists())


class TransferFailureTest(FetchCase):

    def setUp(self):
        super().setUp()
        self.data = self.serve_random("a.bin", 200000)
        self.small = self.serve_random("s.bin", 64 * 1024)
        self.log = self.path("joblog")

    def test_unreachable_server_fails_with_exitval_7(self):
        closed = FetchServer(self.root)
        port = closed.port
        closed.stop()  # never started: the port is free again and nothing listens on it
        url = f"http://127.0.0.1:{port}/a.bin"
        r = self.fetch("--retries", "1", "--backoff", "0", "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("a.bin")
        self.assertJoblog(self.log, url, 7)

    def test_slow_body_is_ended_by_timeout_with_exitval_28(self):
        url = self.url("/slow/s.bin")
        r = self.fetch("--timeout", "1", "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 10, "--timeout 1 did not end a transfer of 32 s")
        self.assertNotDone("s.bin")
        self.assertEqual(len(self.requests("/slow/s.bin")), 1)
        self.assertJoblog(self.log, url, 28)

    def test_timed_out_transfer_is_retried(self):
        url = self.url("/slow/s.bin")
        r = self.fetch("--timeout", "1", "--retries", "1", "--backoff", "0",
                       "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertLess(r.seconds, 15)
        self.assertEqual(len(self.requests("/slow/s.bin")), 2, "the timed-out transfer was "
                         "not retried")
        self.assertNotDone("s.bin")
        self.assertJoblog(self.log, url, 28)

    def test_timed_out_transfer_succeeds_on_a_fast_retry(self):
        r = self.fetch("--timeout", "1", "--retries", "1", "--backoff", "0",
                       urls=[self.url("/slow-once/s.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("s.bin", self.small)
        self.assertEqual(len(self.requests("/slow-once/s.bin")), 2)

    def test_a_stalled_transfer_fails_as_a_timeout_and_is_retried(self):
        # libcurl averages the speed over its last 5 s: a stall after a burst of data is seen
        # after about 5 s more than the limit.
        url = self.url("/stall-once/a.bin")
        r = self.fetch("--stall-timeout", "1s", "--retries", "1", "--backoff", "0",
                       "--joblog", self.log, urls=[url])
        self.assertExit(r, 0)
        self.assertLess(r.seconds, 20, "--stall-timeout 1s did not end a stalled transfer")
        self.assertIn(f"taskpool: retry 1/1 in 0 ms: {url}: Operation too slow", r.err)
        self.assertEqual(len(self.requests("/stall-once/a.bin")), 2, "not retried")
        self.assertDownloaded("a.bin", self.data)

    def test_a_stalled_transfer_fails_with_exitval_28(self):
        url = self.url("/stall/s.bin")
        r = self.fetch("--stall-timeout", "1s", "--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertJoblog(self.log, url, 28)
        self.assertNotDone("s.bin")

    def test_stall_timeout_is_checked_and_is_for_fetch(self):
        for bad in ("-1s", "soon", ""):
            r = self.fetch("--stall-timeout", bad, urls=[])
            self.assertExit(r, 255)
            self.assertIn("--stall-timeout", r.err)
        r = taskpool("--stall-timeout", "5s", "echo", ":::", "x", timeout=RUN_TIMEOUT)
        self.assertExit(r, 255)
        self.assertIn("--stall-timeout", r.err)
        r = taskpool("--help", timeout=RUN_TIMEOUT)
        # The entry and the lines it wraps onto, up to the next flag.
        self.assertRegex(r.out, r"--stall-timeout DUR +[^-]*default\s+60s")

    def test_connection_reset_half_way_fails_with_exitval_56(self):
        url = self.url("/reset/a.bin")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("a.bin")
        self.assertJoblog(self.log, url, 56)

    def test_connection_reset_is_retried_and_then_completes(self):
        r = self.fetch("--retries", "2", "--backoff", "0", urls=[self.url("/reset-once/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertGreaterEqual(len(self.requests("/reset-once/a.bin")), 2)

    def test_body_shorter_than_content_length_fails_with_exitval_18(self):
        url = self.url("/short/a.bin")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertNotDone("a.bin")
        self.assertJoblog(self.log, url, 18)

    def test_short_body_is_retried_and_then_completes(self):
        r = self.fetch("--retries", "2", "--backoff", "0", urls=[self.url("/short-once/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertGreaterEqual(len(self.requests("/short-once/a.bin")), 2)

    def test_deadline_ends_transfers_and_keeps_their_part_files(self):
        r = self.fetch("--deadline", "1s", urls=[self.url("/slow/s.bin")])
        self.assertNotEqual(r.code, 0, "an unfinished download counted as done")
        self.assertLess(r.seconds, 10, "--deadline 1s did not end a transfer of 32 s")
        self.assertNotDone("s.bin")
        self.assertTrue((self.out / "s.bin.part").exists(), "the .part file was not kept")

    def test_second_sigint_ends_transfers_and_keeps_their_part_files(self):
        run = Background(self.tmp, "--fetch", "-o", self.out, ":::", self.url("/slow/s.bin"),
                         env=fetch_env())
        self.addCleanup(run.kill)
        part = self.out / "s.bin.part"
        self.assertTrue(wait_until(lambda: part.exists() and part.stat().st_size > 0, 15),
                        "no data arrived in s.bin.part")
        self.stop_twice(run)
        self.assertNotDone("s.bin")
        self.assertTrue(part.exists(), "the .part file was not kept")


class ExistingFileTest(FetchCase):

    def setUp(self):
        super().setUp()
        self.data = self.serve_random("a.bin", 50000)
        self.out.mkdir()
        self.log = self.path("joblog")

    def test_existing_file_is_not_overwritten_without_flags(self):
        old = b"the user's own file\n"
        (self.out / "a.bin").write_bytes(old)
        url = self.url("/a.bin")
        r = self.fetch("--joblog", self.log, urls=[url])
        self.assertExit(r, 1)
        self.assertEqual((self.out / "a.bin").read_bytes(), old, "an existing file was replaced")
        self.assertIn("exist", r.err.lower(), "the message does not say that the file exists")
        self.assertJoblog(self.log, url, 23)

    def test_existing_file_is_replaced_with_overwrite(self):
        (self.out / "a.bin").write_bytes(b"old content\n")
        r = self.fetch("--overwrite", urls=[self.url("/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), ["a.bin"])

    def test_a_directory_in_the_way_fails_the_download_with_overwrite(self):
        # A small file (written whole in one piece, by the executor's writer where there are
        # two CPUs) and a larger one: the same error, and the directory is left as it was.
        small = self.serve_random("s.bin", 4096)
        self.assertEqual(len(small), 4096)
        for name in ("s.bin", "a.bin"):
            (self.out / name).mkdir()
            (self.out / name / "kept").write_text("the user's\n")
        urls = [self.url("/s.bin"), self.url("/a.bin")]
        r = self.fetch("--overwrite", "--joblog", self.log, urls=urls)
        self.assertExit(r, 2)  # two downloads failed
        for name, url in zip(("s.bin", "a.bin"), urls):
            self.assertIn(f"cannot rename {self.out / name}.part to {self.out / name}", r.err)
            self.assertEqual((self.out / name / "kept").read_text(), "the user's\n")
            self.assertJoblog(self.log, url, 23)

    def test_existing_complete_file_counts_as_done_with_continue(self):
        (self.out / "a.bin").write_bytes(self.data)
        before = (self.out / "a.bin").stat().st_mtime_ns
        url = self.url("/a.bin")
        r = self.fetch("--continue", "--joblog", self.log, urls=[url])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)
        self.assertEqual((self.out / "a.bin").stat().st_mtime_ns, before, "the file was rewritten")
        sent = sum(q.body_bytes for q in self.requests("/a.bin"))
        self.assertEqual(sent, 0, "the body of a file already there was downloaded again")
        self.assertJoblog(self.log, url, 0)

    def appearing_file_run(self, *flags, path="/slow/b.bin", directory=False):
        """A download into a directory that held nothing when the run began, during which
        another program puts a file (or a directory) of its name there. /slow/ streams the body
        into the .part; /delay/ sends it whole after a while, which the executor's writer thread
        writes where there are two CPUs and -j is small. Returns the run and that file's bytes."""
        shutil.rmtree(self.out)
        self.serve_random("b.bin", 3000)  # 3 pieces, half a second apart, through /slow/
        run = Background(self.tmp, "--fetch", *flags, "--joblog", self.log, "-o", self.out,
                         ":::", self.url(path), env=fetch_env())
        self.addCleanup(run.kill)
        part = self.out / "b.bin.part"
        if path.startswith("/slow/"):
            self.assertTrue(wait_until(lambda: part.exists() and part.stat().st_size > 0, 15),
                            "no data arrived in b.bin.part")
        else:  # made (by the run, after it looked) before the request goes
            self.assertTrue(wait_until(self.out.exists, 15), "the output directory was not made")
        theirs = b"another program's file\n"
        if directory:
            (self.out / "b.bin").mkdir()
        else:
            (self.out / "b.bin").write_bytes(theirs)
        return run.wait(), theirs

    def test_a_file_that_appears_while_its_download_runs_is_not_replaced(self):
        r, theirs = self.appearing_file_run()
        self.assertExit(r, 1)
        self.assertEqual((self.out / "b.bin").read_bytes(), theirs, "the file was replaced")
        self.assertIn(f"{self.out / 'b.bin'} exists", r.err)
        self.assertEqual(files_under(self.out), [Path("b.bin")], "the .part was left")
        self.assertJoblog(self.log, self.url("/slow/b.bin"), 23)

    def test_a_file_that_appears_while_its_download_runs_counts_as_done_with_continue(self):
        for path in ("/slow/b.bin", "/delay/2000/b.bin"):
            with self.subTest(path=path):
                r, theirs = self.appearing_file_run("--continue", "-j1", path=path)
                self.assertExit(r, 0)
                self.assertEqual((self.out / "b.bin").read_bytes(), theirs,
                                 "the file was replaced")
                self.assertEqual(files_under(self.out), [Path("b.bin")], "the .part was left")

    def test_a_directory_that_appears_at_the_name_fails_the_download_and_keeps_its_part(self):
        for flags in ([], ["--continue"]):
            with self.subTest(flags=flags):
                r, _ = self.appearing_file_run(*flags, "-j1", path="/delay/2000/b.bin",
                                               directory=True)
                self.assertExit(r, 1)
                self.assertIn(f"cannot rename {self.out / 'b.bin'}.part to {self.out / 'b.bin'}: "
                              "Is a directory", r.err)
                self.assertTrue((self.out / "b.bin").is_dir())
                self.assertEqual((self.out / "b.bin.part").stat().st_size, 3000)

    def test_a_directory_at_the_name_is_not_a_download_done_with_continue(self):
        (self.out / "a.bin").mkdir()
        r = self.fetch("--continue", "--joblog", self.log, urls=[self.url("/a.bin")])
        self.assertExit(r, 1)
        self.assertIn(f"{self.out / 'a.bin'} is a directory", r.err)
        self.assertJoblog(self.log, self.url("/a.bin"), 23)

    def test_part_file_that_is_a_symbolic_link_is_not_written_through(self):
        victim = self.write("victim", b"a file outside the output directory\n")
        part = self.out / "a.bin.part"
        for flags in ([], ["--continue"]):
            part.symlink_to(victim)
            self.fetch(*flags, urls=[self.url("/a.bin")])
            self.assertTrue(victim.read_bytes() == b"a file outside the output directory\n",
                            f"{' '.join(['taskpool --fetch', *flags])} wrote through a.bin.part, "
                            "a link to a file outside the output directory")
            final = self.out / "a.bin"
            if final.exists() or final.is_symlink():
                self.assertFalse(final.is_symlink(), "a.bin is a link out of the directory")
                self.assertDownloaded("a.bin", self.data)
                final.unlink()
            if part.is_symlink():
                part.unlink()

    def test_part_file_without_continue_is_started_over(self):
        (self.out / "a.bin.part").write_bytes(b"garbage from an older run" * 100)
        r = self.fetch(urls=[self.url("/a.bin")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", self.data)


class ContinueTest(FetchCase):

    def test_continue_resumes_a_part_file_with_a_range_request(self):
        size = 300000
        path = f"/short-once/gen/{size}/c.bin"
        have = self.interrupted(path)
        self.assertEqual(have, size // 2)
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("c.bin", generated_bytes(size))
        reqs = self.gets(path)
        self.assertEqual([(q.range, q.status) for q in reqs[1:]], [(f"bytes={have}-", 206)])
        self.assertEqual(reqs[1].body_bytes, size - have)
        self.assertEqual(files_under(self.out), [Path("c.bin")], "the .part's record was left")

    def test_a_range_request_does_not_carry_over_to_the_next_file(self):
        # One transfer at a time, so the second file's transfer reuses the first one's libcurl
        # handle: it must ask for the whole file, not from where the first one resumed.
        size = 300000
        first, second = f"/short-once/gen/{size}/c.bin", f"/gen/{size}/d.bin"
        have = self.interrupted(first)
        r = self.fetch("--continue", "-j1", urls=[self.url(first), self.url(second)])
        self.assertExit(r, 0)
        self.assertDownloaded("c.bin", generated_bytes(size))
        self.assertDownloaded("d.bin", generated_bytes(size))
        self.assertEqual([(q.range, q.status) for q in self.gets(first)[1:]],
                         [(f"bytes={have}-", 206)])
        self.assertEqual([(q.range, q.if_range, q.status) for q in self.gets(second)],
                         [(None, None, 200)])

    def test_continue_starts_over_when_the_server_ignores_ranges(self):
        data = self.serve_random("n.bin", 100000)
        path = "/short-once/no-range/n.bin"
        have = self.interrupted(path)
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("n.bin", data)
        self.assertEqual([(q.range, q.status) for q in self.gets(path)[1:]],
                         [(f"bytes={have}-", 200)])

    def test_continue_after_an_interrupted_download_of_100_mb(self):
        path = f"/gen/{BIG}/big.bin"
        run = Background(self.tmp, "--fetch", "--limit-rate", "2M", "-o", self.out,
                         ":::", self.url(path), env=fetch_env())
        self.addCleanup(run.kill)
        part, final = self.out / "big.bin.part", self.out / "big.bin"
        arrived = wait_until(lambda: (part.exists() and part.stat().st_size >= 1 << 20)
                             or not run.running(), 20)
        running = run.running()
        kill_group(run.proc)
        run.wait(10)
        self.assertTrue(arrived and running,
                        f"taskpool ended or got no data within 20 s: {run.stderr_text()[-2000:]}")
        self.assertFalse(final.exists(), "an interrupted download left big.bin")
        self.assertTrue(part.exists(), "an interrupted download left no big.bin.part")
        have = part.stat().st_size
        self.assertLess(have, BIG, "--limit-rate 2M let 100 MB through at once")

        self.server.reset()
        r = self.fetch("--continue", urls=[self.url(path)], timeout=60)
        self.assertExit(r, 0)
        self.assertFalse(part.exists(), "big.bin.part left after the download completed")
        self.assertEqual(final.stat().st_size, BIG)
        self.assertEqual(file_sha256(final), generated_sha256(BIG))
        reqs = self.gets(path)
        self.assertEqual(reqs[0].range, f"bytes={have}-", "the download was not resumed")
        self.assertEqual(reqs[0].status, 206)
        self.assertEqual(sum(q.body_bytes for q in reqs), BIG - have,
                         "more than the missing part was downloaded")


class RangeAnswerTest(FetchCase):
    """A 206 is appended only when it holds what was asked for; anything else starts over or
    fails the attempt, never splices."""

    def test_a_206_that_does_not_start_where_the_part_ends_is_not_appended(self):
        size = 300000
        path = f"/short-once/bad-range/gen/{size}/c.bin"
        have = self.interrupted(path)
        log = self.path("joblog")
        r = self.fetch("--continue", "--joblog", log, urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("c.bin", generated_bytes(size))
        # The answer to the Range request said "bytes 0-299999/300000": the download started
        # over with a request for the whole file.
        self.assertEqual([(q.range, q.status) for q in self.gets(path)[1:]],
                         [(f"bytes={have}-", 206), (None, 200)])
        self.assertJoblog(log, self.url(path), 0)

    def test_a_206_for_a_file_of_another_size_is_not_appended(self):
        self.serve_random("a.bin", 300000, seed=1)
        path = "/short-once/no-if-range/a.bin"
        have = self.interrupted(path)
        # The file changes on the server, and the server ignores If-Range: the 206 that comes
        # back starts at the right byte, but of a file of 400 000 bytes, not 300 000.
        new = self.serve_random("a.bin", 400000, seed=2)
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", new)
        self.assertEqual([(q.range, q.status) for q in self.gets(path)[1:]],
                         [(f"bytes={have}-", 206), (None, 200)])

    def test_a_206_to_a_request_for_the_whole_file_fails_and_is_retried(self):
        path = "/partial/gen/300000/p.bin"
        log = self.path("joblog")
        r = self.fetch("--retries", "1", "--backoff", "0", "--joblog", log, urls=[self.url(path)])
        self.assertExit(r, 1)
        self.assertNotDone("p.bin")
        self.assertEqual(files_under(self.out) if self.out.exists() else [], [])
        self.assertEqual([q.status for q in self.gets(path)], [206, 206], "not retried")
        self.assertJoblog(log, self.url(path), 33)
        self.assertIn("bytes 0-149999/300000", r.err)

    def test_a_206_that_covers_the_whole_file_is_the_file(self):
        path = "/206-whole/gen/300000/w.bin"
        r = self.fetch(urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("w.bin", generated_bytes(300000))


class PartRecordTest(FetchCase):
    """--continue resumes a .part only for the URL that made it, and only while the file on the
    server is the same one (If-Range)."""

    def test_same_named_urls_in_another_order_do_not_splice(self):
        one = self.serve_random("d1/a.bin", 300000, seed=1)
        two = self.serve_random("d2/a.bin", 300000, seed=2)
        first, second = "/short-once/d1/a.bin", "/short-once/d2/a.bin"
        r = self.fetch("-j", "2", urls=[self.url(first), self.url(second)])
        self.assertExit(r, 2)
        self.assertTrue((self.out / "a.bin.part").exists() and
                        (self.out / "a.bin.1.part").exists(), files_under(self.out))
        have = {path: (self.out / name).stat().st_size
                for path, name in ((first, "a.bin.part"), (second, "a.bin.1.part"))}
        r = self.fetch("--continue", "-j", "2", urls=[self.url(second), self.url(first)])
        self.assertExit(r, 0)
        # Each URL found its own .part, whatever the order, and continued it.
        self.assertDownloaded("a.bin", one)
        self.assertDownloaded("a.bin.1", two)
        for path in (first, second):
            self.assertEqual([q.range for q in self.gets(path)[1:]], [f"bytes={have[path]}-"])

    def test_another_urls_part_file_is_started_over(self):
        self.serve_random("d1/a.bin", 300000, seed=1)
        two = self.serve_random("d2/a.bin", 300000, seed=2)
        self.interrupted("/short-once/d1/a.bin")
        # Without --continue the .part is started over; with it, the claim for d2 looks for its
        # own file further on, finds nothing, and starts d1's .part over all the same.
        for flags in ([], ["--continue"]):
            shutil.copy(self.out / "a.bin.part", self.path("part"))
            shutil.copy(self.out / "a.bin.part.meta", self.path("meta"))
            r = self.fetch(*flags, urls=[self.url("/d2/a.bin")])
            self.assertExit(r, 0)
            self.assertDownloaded("a.bin", two)
            self.assertEqual([q.range for q in self.gets("/d2/a.bin")], [None])
            self.server.reset()
            (self.out / "a.bin").unlink()
            shutil.copy(self.path("part"), self.out / "a.bin.part")
            shutil.copy(self.path("meta"), self.out / "a.bin.part.meta")

    def test_a_file_changed_on_the_server_comes_back_whole(self):
        self.serve_random("a.bin", 300000, seed=1)
        path = "/short-once/a.bin"
        have = self.interrupted(path)
        new = self.serve_random("a.bin", 300000, seed=2)
        os.utime(self.root / "a.bin", ns=(10**18, 10**18))  # another ETag, whatever the clock
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", new)
        reqs = self.gets(path)
        self.assertEqual([(q.range, q.status) for q in reqs[1:]], [(f"bytes={have}-", 200)])
        self.assertTrue(reqs[1].if_range and reqs[1].if_range.startswith('"'),
                        f"If-Range was {reqs[1].if_range!r}, not the ETag")

    def test_last_modified_is_the_validator_without_an_etag(self):
        self.serve_random("a.bin", 300000, seed=1)
        os.utime(self.root / "a.bin", (1_500_000_000, 1_500_000_000))
        path = "/short-once/no-etag/a.bin"
        have = self.interrupted(path)
        new = self.serve_random("a.bin", 300000, seed=2)
        os.utime(self.root / "a.bin", (1_600_000_000, 1_600_000_000))
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", new)
        reqs = self.gets(path)
        self.assertEqual([(q.range, q.status) for q in reqs[1:]], [(f"bytes={have}-", 200)])
        self.assertEqual(reqs[1].if_range, "Fri, 14 Jul 2017 02:40:00 GMT")

    def test_an_unchanged_file_is_continued_with_if_range(self):
        data = self.serve_random("a.bin", 300000, seed=1)
        path = "/short-once/a.bin"
        have = self.interrupted(path)
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("a.bin", data)
        reqs = self.gets(path)
        self.assertEqual([(q.range, q.status) for q in reqs[1:]], [(f"bytes={have}-", 206)])
        self.assertIsNotNone(reqs[1].if_range)

    def test_without_validators_the_url_alone_ties_the_part(self):
        size = 300000
        path = f"/short-once/no-validator/gen/{size}/v.bin"
        have = self.interrupted(path)
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("v.bin", generated_bytes(size))
        self.assertEqual([(q.range, q.if_range) for q in self.gets(path)[1:]],
                         [(f"bytes={have}-", None)])

    def test_a_part_file_without_a_record_is_started_over(self):
        size = 300000
        self.out.mkdir()
        (self.out / "c.bin.part").write_bytes(b"made by another program" * 100)
        path = f"/gen/{size}/c.bin"
        r = self.fetch("--continue", urls=[self.url(path)])
        self.assertExit(r, 0)
        self.assertDownloaded("c.bin", generated_bytes(size))
        self.assertEqual([q.range for q in self.gets(path)], [None])

    def test_reordered_same_named_urls_find_their_own_files_and_part_files(self):
        data = {d: self.serve_random(f"{d}/a.bin", 200000, seed=seed)
                for seed, d in enumerate(("d1", "d2"))}
        for cut in data:  # the download of d1 or of d2 is cut short in the first run
            with self.subTest(cut=cut):
                shutil.rmtree(self.out, ignore_errors=True)
                self.server.reset()
                paths = {d: f"/short-once/{d}/a.bin" if d == cut else f"/{d}/a.bin" for d in data}
                names = {"d1": "a.bin", "d2": "a.bin.1"}
                r = self.fetch("-j", "1", urls=[self.url(paths["d1"]), self.url(paths["d2"])])
                self.assertExit(r, 1)
                have = (self.out / (names[cut] + ".part")).stat().st_size
                r = self.fetch("--continue", "-j", "1",
                               urls=[self.url(paths["d2"]), self.url(paths["d1"])])
                self.assertExit(r, 0)
                for d, name in names.items():
                    self.assertDownloaded(name, data[d])
                self.assertEqual(sorted(p.name for p in self.out.iterdir()), ["a.bin", "a.bin.1"])
                done = "d2" if cut == "d1" else "d1"
                self.assertEqual(len(self.gets(paths[done])), 1, "a finished file was fetched again")
                self.assertEqual([q.range for q in self.gets(paths[cut])[1:]], [f"bytes={have}-"])


def make_certificate(directory: Path) -> Optional[tuple]:
    """A throwaway self-signed certificate for 127.0.0.1: (cert file, key file), or None when
    openssl is missing."""
    if shutil.which("openssl") is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


class TlsProxyTest(FetchCase):
    """HTTPS with a private CA (--cacert) and through a proxy (https_proxy, CONNECT)."""

    def setUp(self):
        super().setUp()
        pair = make_certificate(self.tmp)
        if pair is None:
            self.skipTest("openssl is not installed")
        self.cert = pair[0]
        self.tls = FetchServer(self.root, tls=pair).start()
        self.addCleanup(self.tls.stop)
        self.proxy = ConnectProxy().start()
        self.addCleanup(self.proxy.stop)

    def proxy_env(self) -> dict:
        env = fetch_env()
        for name in ("no_proxy", "NO_PROXY"):
            env.pop(name)
        env["https_proxy"] = self.proxy.url
        return env

    def test_cacert_trusts_a_private_certificate(self):
        url = self.tls.url("/gen/5000/t.bin")
        log = self.path("joblog")
        r = self.fetch("--joblog", log, urls=[url])
        self.assertExit(r, 1)
        self.assertJoblog(log, url, 60)  # curl's "peer certificate cannot be authenticated"
        r = self.fetch("--cacert", self.cert, urls=[url])
        self.assertExit(r, 0)
        self.assertDownloaded("t.bin", generated_bytes(5000))

    def test_cacert_that_cannot_be_read_is_a_usage_error(self):
        r = self.fetch("--cacert", self.path("missing.pem"), urls=[self.tls.url("/gen/5/t")])
        self.assertExit(r, 255)
        self.assertIn("--cacert", r.err)
        self.assertIn("missing.pem", r.err)
        r = taskpool("--cacert", self.cert, "echo", ":::", "x", timeout=RUN_TIMEOUT)
        self.assertExit(r, 255)
        self.assertIn("--cacert", r.err)

    def test_continue_through_a_proxy_resumes_the_right_bytes(self):
        size = 2_000_000
        path = f"/short-once/gen/{size}/big.bin"
        url = self.tls.url(path)
        r = self.fetch("--cacert", self.cert, urls=[url], env=self.proxy_env())
        self.assertExit(r, 1)
        have = (self.out / "big.bin.part").stat().st_size
        self.assertEqual(have, size // 2)
        r = self.fetch("--cacert", self.cert, "--continue", urls=[url], env=self.proxy_env())
        self.assertExit(r, 0)
        self.assertEqual(file_sha256(self.out / "big.bin"), generated_sha256(size))
        self.assertEqual([(q.range, q.status) for q in self.tls.requests(path)],
                         [(None, 200), (f"bytes={have}-", 206)])
        self.assertEqual(self.proxy.targets, [f"127.0.0.1:{self.tls.port}"] * 2,
                         "the transfers did not go through the proxy")


class NameTest(FetchCase):

    def test_urls_with_the_same_name_get_numbered_suffixes(self):
        first = self.serve_random("a.txt", 1000)
        second = self.serve_random("d1/a.txt", 2000)
        third = self.serve_random("d2/a.txt", 3000)
        r = self.fetch("-j", "3", urls=[self.url("/a.txt"), self.url("/d1/a.txt"),
                                        self.url("/d2/a.txt")])
        self.assertExit(r, 0)
        self.assertDownloaded("a.txt", first)
        self.assertDownloaded("a.txt.1", second)
        self.assertDownloaded("a.txt.2", third)

    def test_hostile_names_land_inside_the_output_directory(self):
        x = self.serve("x", b"the file x\n")
        index = self.serve("index.html", b"<p>index</p>\n")
        newline = self.serve("a\nb.txt", b"a name with a newline\n")
        long_name = "n" * 1000
        # What each URL serves: the server drops "..", "." and empty segments after decoding.
        cases = {
            "/../../x": x,
            "/%2e%2e%2fx": x,
            "/..": index,
            "/%2e%2e": index,
            "/": index,
            "/a%0ab.txt": newline,
            "/gen/2000/" + long_name: generated_bytes(2000),
        }
        parent = self.path("a/b/parent")
        parent.mkdir(parents=True)
        log = self.path("joblog")
        r = taskpool("--fetch", "-j", "4", "--joblog", log, "-o", "out",
                     input="".join(self.url(p) + "\n" for p in cases).encode(),
                     cwd=parent, timeout=RUN_TIMEOUT, env=fetch_env())
        self.assertExit(r, 0)

        out = parent / "out"
        allowed = {Path("joblog"), Path("served/x"), Path("served/index.html"),
                   Path("served/a\nb.txt")}
        escaped = [p for p in files_under(self.tmp)
                   if p not in allowed and not p.is_relative_to("a/b/parent/out")]
        self.assertEqual(escaped, [], "files were created outside the output directory")

        names = [p.name for p in out.iterdir()]
        self.assertEqual(len(names), len(cases), f"not one file per URL: {names!r}")
        for name in names:
            self.assertTrue((out / name).is_file(), f"{name!r} is not a file in the directory")
            self.assertNotIn(name, (".", ".."))
            self.assertFalse(any(ord(c) < 0x20 or ord(c) == 0x7f for c in name),
                             f"control character in {name!r}")
            self.assertLessEqual(len(os.fsencode(name)), 200, f"name too long: {name!r}")
            self.assertFalse(name.endswith(".part"), f"{name!r} left after success")
        self.assertTrue(any(n.startswith("nnnnnnnnnn") for n in names),
                        f"the long name was not kept, shortened: {names!r}")
        got = sorted(sha256((out / n).read_bytes()) for n in names)
        self.assertEqual(got, sorted(sha256(d) for d in cases.values()))

    def test_bidi_controls_in_names_become_underscores(self):
        # U+202E RIGHT-TO-LEFT OVERRIDE would show "a\u202egpj.exe" as "aexe.jpg".
        r = self.fetch(urls=[self.url("/gen/100/a%E2%80%AEgpj.exe"),
                             self.url("/gen/100/b%E2%81%A6c%D8%9Cd%E2%80%8F.txt")])
        self.assertExit(r, 0)
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), ["a_gpj.exe", "b_c_d_.txt"])

    def test_resume_keeps_the_names_of_the_skipped_jobs(self):
        data = {d: self.serve_random(f"{d}/a.txt", 1000 * d) for d in (1, 2, 3)}
        urls = [self.url(f"/{d}/a.txt") for d in data]
        for flag in ("--continue", "--overwrite"):
            with self.subTest(flag):
                shutil.rmtree(self.out, ignore_errors=True)
                log = self.path(f"joblog{flag}")
                # Only the first job runs; the joblog lists it.
                self.fetch("--max-records", "1", "--joblog", log, urls=urls)
                self.assertDownloaded("a.txt", data[1])
                self.assertEqual([row[0] for row in joblog_rows(log)], ["1"])
                r = self.fetch("--resume", "--joblog", log, flag, urls=urls)
                self.assertExit(r, 0)
                self.assertDownloaded("a.txt", data[1])
                self.assertDownloaded("a.txt.1", data[2])
                self.assertDownloaded("a.txt.2", data[3])

    def test_resume_failed_keeps_the_names_of_the_jobs_that_succeeded(self):
        one = self.serve_random("1/a.txt", 1000)
        two = self.serve_random("2/a.txt", 2000)
        log = self.path("joblog")
        urls = [self.url("/1/a.txt"), self.url("/fail-then-ok/1/2/a.txt")]
        r = self.fetch("--joblog", log, urls=urls)
        self.assertExit(r, 1)
        r = self.fetch("--resume-failed", "--joblog", log, "--continue", urls=urls)
        self.assertExit(r, 0)
        self.assertDownloaded("a.txt", one)
        self.assertDownloaded("a.txt.1", two)

    def test_a_url_named_like_another_urls_part_file_gets_a_name_of_its_own(self):
        x = self.serve("x", b"the file x\n" * 1000)
        x_part = self.serve("x.part", b"the file x.part\n" * 1000)
        x_meta = self.serve("x.part.meta", b"the file x.part.meta\n" * 1000)
        cases = [
            # (flags, URLs in input order, the names they get)
            (["-j1", "--overwrite"], ["/x.part", "/x"], {"x.part": x_part, "x.1": x}),
            (["-j1", "--continue"], ["/x.part", "/x"], {"x.part": x_part, "x.1": x}),
            (["-j2", "--continue"], ["/delay/500/x", "/x.part"], {"x": x, "x.part.1": x_part}),
            (["-j2", "--overwrite"], ["/delay/500/x", "/x.part", "/x.part.meta"],
             {"x": x, "x.part.1": x_part, "x.part.meta.1": x_meta}),
        ]
        for flags, paths, names in cases:
            with self.subTest(flags=flags, paths=paths):
                shutil.rmtree(self.out, ignore_errors=True)
                r = self.fetch(*flags, urls=[self.url(p) for p in paths])
                self.assertExit(r, 0)
                for name, data in names.items():
                    self.assertDownloaded(name, data)
                self.assertEqual(sorted(p.name for p in self.out.iterdir()), sorted(names))

    def test_explicit_path_creates_subdirectories(self):
        data = self.serve_random("f.bin", 4000)
        r = self.fetch(urls=[self.url("/f.bin") + "\tsub/dir/f.txt"])
        self.assertExit(r, 0)
        self.assertDownloaded("sub/dir/f.txt", data)
        self.assertEqual(files_under(self.out), [Path("sub/dir/f.txt")])

    def test_explicit_path_outside_the_output_directory_fails_that_job_only(self):
        good = self.serve_random("g.bin", 4000)
        self.serve_random("e1.bin", 100)
        self.serve_random("e2.bin", 100)
        absolute = self.path("abs-evil")
        out = self.path("deep/out")
        log = self.path("joblog")
        r = self.fetch("--joblog", log, out=out, urls=[
            self.url("/e1.bin") + "\t../evil",
            self.url("/e2.bin") + f"\t{absolute}",
            self.url("/g.bin") + "\tgood.bin",
        ])
        self.assertExit(r, 2)
        self.assertDownloaded("good.bin", good, out)
        self.assertFalse(absolute.exists(), "an absolute PATH was written")
        evil = [p for p in files_under(self.tmp) if "evil" in str(p)]
        self.assertEqual(evil, [], "a PATH with '..' was written")
        self.assertEqual(files_under(out), [Path("good.bin")])
        self.assertJoblog(log, self.url("/e1.bin"), 23)
        self.assertJoblog(log, self.url("/e2.bin"), 23)
        self.assertJoblog(log, self.url("/g.bin"), 0, len(good))


class ReportTest(FetchCase):

    def test_json_summary_is_valid_utf8_whatever_the_url_bytes(self):
        url = self.url("/404/").encode() + bytes(range(0x80, 0x100)) + b"\xe2\x82\xac"
        summary = self.path("summary.json")
        r = self.fetch("--summary-json", summary, input=url + b"\n")
        self.assertExit(r, 1)
        report = json.loads(summary.read_bytes().decode("utf-8"))  # strict: no invalid bytes
        failed = report["fetch"]["failed"]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["url"],
                         self.url("/404/") + "\ufffd" * 0x80 + "\u20ac")

    def test_joblog_and_json_summary_describe_the_downloads(self):
        files = {n: self.serve_random(n, size)
                 for n, size in (("a.bin", 10), ("b.bin", 2000), ("c.bin", 70000))}
        urls = [self.url("/" + n) for n in files] + [self.url("/404/gone.bin")]
        log, summary = self.path("joblog"), self.path("summary.json")
        r = self.fetch("-j", "2", "--joblog", log, "--summary-json", summary, urls=urls)
        self.assertExit(r, 1)
        for name, data in files.items():
            self.assertDownloaded(name, data)
            self.assertJoblog(log, self.url("/" + name), 0, len(data))
        self.assertJoblog(log, self.url("/404/gone.bin"), 22)
        self.assertEqual(sorted(int(row[0]) for row in joblog_rows(log)), [1, 2, 3, 4])

        report = read_json(summary)
        schema = json.loads((REPO / "doc" / "summary.schema.json").read_text())
        self.assertEqual(json_schema.problems(schema, report), [])
        self.assertIsNone(report["command"])
        self.assertEqual([f["command"] for f in report["failed_jobs"]["listed"]],
                         [self.url("/404/gone.bin")])
        self.assertIn("fetch", report)
        fetch = report["fetch"]
        self.assertEqual(fetch["bytes"], sum(len(d) for d in files.values()))
        self.assertIsInstance(fetch["bytes_per_second"], (int, float))
        self.assertGreaterEqual(fetch["bytes_per_second"], 0)
        self.assertEqual(fetch["http_statuses"], {"200": 3, "404": 1})
        self.assertEqual(len(fetch["failed"]), 1)
        failed = fetch["failed"][0]
        self.assertEqual(failed["url"], self.url("/404/gone.bin"))
        self.assertEqual(failed["path"], f"{self.out}/gone.bin")
        self.assertEqual(failed["reason"], "HTTP 404")
        self.assertEqual(failed["http_status"], 404)
        self.assertIsInstance(failed["reason"], str)
        self.assertNotEqual(failed["reason"], "")


if __name__ == "__main__":
    unittest.main()
