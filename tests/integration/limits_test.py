"""Keyed limits (--limit, --max-per-host) against real servers and real commands: per-host
concurrency as the servers measure it, with three hosts on 127.0.0.1-3 (Linux routes all of
127/8 to the loopback); a Retry-After pausing its host while the others go on; no job timed out
while it waited for its key; and per-key limits for commands."""

import json
import sys
import time
import unittest

from fetch_test import FetchCase
from helpers import REPO, taskpool

sys.path.insert(0, str(REPO / "tests"))
from fetch_server import FetchServer  # noqa: E402

ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


class HostLimitTest(FetchCase):
    """--fetch with three hosts, each its own server (the first is FetchCase's)."""

    def setUp(self):
        super().setUp()
        self.servers = [self.server]
        for address in ADDRESSES[1:]:
            server = FetchServer(self.root, host=address).start()
            self.addCleanup(server.stop)
            self.servers.append(server)
        for i in range(12):
            self.serve(f"f{i}.txt", b"x" * 100)

    def urls(self, server, path, count, first=0):
        return [server.url(f"{path}/f{i}.txt?{server.host}") for i in range(first, first + count)]

    def test_per_host_concurrency_never_passes_the_limit(self):
        urls = []
        for i in range(12):  # interleaved: host 1, 2, 3, 1, 2, 3...
            urls += [s.url(f"/delay/300/f{i}.txt?{s.host}") for s in self.servers]
        r = self.fetch("-j", "12", "--limit", "{host}=2", "--overwrite", "--summary", urls=urls)
        self.assertExit(r, 0)
        for s in self.servers:
            self.assertLessEqual(s.max_in_flight, 2, s.host)
            self.assertEqual(s.max_in_flight, 2, f"{s.host} never had 2 at once")
            self.assertEqual(len(s.requests()), 12)
        for address in ADDRESSES:
            self.assertIn(f"{{host}}={address}: 12 started", r.err)

    def test_max_per_host_keeps_one_host_from_holding_back_the_others(self):
        # Host 1's jobs come first in the input; host 2's still start at once.
        urls = self.urls(self.servers[0], "/delay/500", 6) + self.urls(self.servers[1], "", 6)
        start = time.monotonic()
        r = self.fetch("-j", "4", "--max-per-host", "1", "--overwrite", urls=urls)
        self.assertExit(r, 0)
        self.assertLessEqual(self.servers[0].max_in_flight, 1)
        last_b = max(q.time for q in self.servers[1].requests())
        first_a_end = start + 0.5
        self.assertLess(last_b, first_a_end + 1.0, "host 2 waited behind host 1")

    def test_retry_after_pauses_its_host_not_the_others(self):
        paused = self.servers[0]
        urls = [paused.url("/429-after/2/f0.txt")]
        urls += self.urls(paused, "/delay/50", 3, first=1)
        urls += self.urls(self.servers[1], "/delay/200", 6)
        # One at a time per host, so that no request to the paused host is under way when the
        # 429 comes.
        r = self.fetch("-j", "4", "--limit", "{host}=1", "--retries", "2", "--overwrite",
                       "--summary-json", self.path("s.json"), urls=urls)
        self.assertExit(r, 0)
        refused = paused.requests("/429-after/2/f0.txt")[0]
        self.assertEqual(refused.status, 429)
        # Nothing more went to the paused host for its 2 s (a little less: clocks differ) ...
        after = [q.time - refused.time for q in paused.requests() if q.time > refused.time]
        self.assertTrue(after)
        self.assertGreaterEqual(min(after), 1.8, after)
        # ... while the other host's requests went on within them.
        other = [q.time - refused.time for q in self.servers[1].requests()]
        self.assertTrue(any(0 < t < 1.5 for t in other), other)
        keys = {k["key"]: k for k in json.loads(self.path("s.json").read_text())["limits"]["keys"]}
        self.assertEqual(keys["127.0.0.1"]["pauses"], 1)
        self.assertGreaterEqual(keys["127.0.0.1"]["paused_seconds"], 1.9)
        self.assertEqual(keys["127.0.0.2"]["pauses"], 0)

    def test_no_job_times_out_while_it_waits_for_its_key(self):
        # Four 600 ms downloads from one host, one at a time, each with a 1 s timeout: ~2.4 s
        # in all, longer than the timeout, yet none times out (libcurl's own per-host queue ran
        # the timeout of the transfers it held back).
        urls = self.urls(self.servers[0], "/delay/600", 4)
        r = self.fetch("-j", "4", "--limit", "{host}=1", "--timeout", "1s", "--overwrite",
                       "--summary", urls=urls)
        self.assertExit(r, 0)
        self.assertEqual(self.servers[0].max_in_flight, 1)
        self.assertNotIn("timed out", r.err)
        self.assertIn("4 succeeded, 0 failed", r.err)


class CommandLimitTest(FetchCase):
    """--limit for commands: the key from a column, and {host} of a record that is a URL."""

    def most_at_once(self, log):
        """Per key, the most jobs between their start and end lines at once."""
        running, most = {}, {}
        for line in log.read_text().splitlines():
            what, key = line.split()
            running[key] = running.get(key, 0) + (1 if what == "start" else -1)
            most[key] = max(most.get(key, 0), running[key])
        return most

    def test_a_column_key_limits_commands(self):
        log = self.path("log")
        r = taskpool("-j", "6", "--colsep", " ", "--limit", "{1}=2",
                     f"echo start {{1}} >> {log}; sleep 0.2; echo end {{1}} >> {log}",
                     input="".join(f"{k} {i}\n" for i in range(4) for k in "abc").encode())
        self.assertExit(r, 0)
        self.assertEqual(self.most_at_once(log), {"a": 2, "b": 2, "c": 2})

    def test_host_of_url_records_limits_commands(self):
        log = self.path("log")
        urls = [f"http://{h}.example/{i}" for i in range(3) for h in ("x", "Y")]
        r = taskpool("-j", "6", "--max-per-host", "1",
                     f"echo start {{host}} >> {log}; sleep 0.2; echo end {{host}} >> {log}",
                     ":::", *urls)
        self.assertExit(r, 0)
        self.assertEqual(self.most_at_once(log), {"x.example": 1, "y.example": 1})


if __name__ == "__main__":
    unittest.main()
