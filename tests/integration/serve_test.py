"""taskpool serve as its users meet it: a real daemon on 127.0.0.1 (a free port it picks and
writes to STATE/url), driven by the clients and by plain HTTP."""

import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest

from helpers import TaskpoolTestCase, taskpool, test_env
from process_support import (Background, SurvivorCheck, is_running, processes_with_arg,
                             unique_seconds, wait_until)


class Daemon:
    """A taskpool serve in a session of its own, stopped by its pid when the test ends."""

    def __init__(self, case, *args, state=None):
        self.state = state or case.path("state")
        url_file = self.state / "url"
        if url_file.exists():
            url_file.unlink()
        self.proc = Background(case.tmp, "serve", "--listen", "127.0.0.1:0", "--state",
                               self.state, *args)
        case.addCleanup(self.stop)
        if not wait_until(lambda: url_file.exists() or not self.proc.running(), 20):
            raise AssertionError("the daemon did not start in 20 s")
        if not self.proc.running():
            raise AssertionError("the daemon exited: " + self.proc.stderr_text())
        self.url = url_file.read_text().strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def request(self, method, path, body=None, headers=None):
        """(status, headers with lower-case names, body as bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read())
        finally:
            connection.close()

    def json(self, method, path, body=None, headers=None, expect=200):
        status, _, data = self.request(method, path, body, headers)
        assert status == expect, f"{method} {path}: {status} {data!r}"
        return json.loads(data)

    def submit(self, body, headers=None):
        return self.json("POST", "/v1/jobs", body, headers, expect=202)["ids"]

    def job(self, id_):
        return self.json("GET", f"/v1/jobs/{id_}")

    def wait_for(self, id_, states=("succeeded", "failed", "cancelled"), timeout=20):
        got = {}

        def done():
            got.update(self.job(id_))
            return got["state"] in states

        assert wait_until(done, timeout, 0.05), f"job {id_} is {got.get('state')}"
        return got

    def client(self, *args, **kwargs):
        return taskpool(*args, env=test_env({"TASKPOOL_SERVER": self.url}), **kwargs)

    def stop(self):
        if self.proc.running():
            os.kill(self.proc.pid, signal.SIGTERM)
            os.kill(self.proc.pid, signal.SIGTERM)
            if not wait_until(lambda: not self.proc.running(), 15):
                os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.kill()


class ServeTestCase(TaskpoolTestCase, SurvivorCheck):
    def daemon(self, *args, **kwargs):
        return Daemon(self, *args, **kwargs)


class ServeApiTest(ServeTestCase):
    def test_a_submitted_job_runs_and_its_output_is_kept(self):
        d = self.daemon("-j", "2")
        [id_] = d.submit({"record": ["hello world"], "command": "printf '%s\\n' {}; echo err >&2"})
        self.assertExit(d.client("wait", str(id_)), 0)
        job = d.job(id_)
        self.assertEqual((job["state"], job["exit_status"], job["attempts"]), ("succeeded", 0, 1))
        self.assertEqual(d.client("logs", str(id_)).out, "hello world\n")
        self.assertEqual(d.client("logs", "--stderr", str(id_)).out, "err\n")

    def test_the_client_submits_with_the_servers_template_and_wait_exits_as_the_job(self):
        d = self.daemon("--template", "sh -c 'exit \"$1\"' sh {}")
        r = d.client("submit", input=b"0\n3\n")
        self.assertExit(r, 0)
        ids = r.out.split()
        self.assertExit(d.client("wait", ids[0]), 0)
        self.assertExit(d.client("wait", ids[1]), 1)  # one failed job, as a run of it exits
        self.assertEqual(d.job(int(ids[1]))["exit_status"], 3)
        status, _, body = d.request("POST", "/v1/jobs", {"record": "x", "command": "rm -rf /"})
        self.assertEqual(status, 400)
        self.assertIn(b"command", body)

    def test_status_codes(self):
        d = self.daemon("-j", "1", "--queue-size", "2")
        status, _, body = d.request("POST", "/v1/jobs", {"records": 5})
        self.assertEqual(status, 400)
        self.assertIn(b"records", body)
        self.assertEqual(d.request("GET", "/v1/jobs/999")[0], 404)
        status, headers, _ = d.request("PUT", "/v1/jobs")
        self.assertEqual(status, 405)
        self.assertIn("POST", headers["allow"])
        # A body past the limit is refused on its Content-Length, before it is sent.
        with socket.create_connection(("127.0.0.1", d.port), timeout=20) as raw:
            raw.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                        % (9 << 20))
            self.assertTrue(raw.recv(100).startswith(b"HTTP/1.1 413 "))
        d.json("POST", "/v1/groups/default", {"paused": True})
        d.submit({"records": ["a", "b"], "command": "echo {}"})
        status, headers, _ = d.request("POST", "/v1/jobs", {"record": "c", "command": "echo {}"})
        self.assertEqual(status, 429)
        self.assertTrue(headers["retry-after"].isdigit())
        # Draining: no more jobs, then exit 0 once the queued ones ran.
        self.assertEqual(d.request("POST", "/v1/drain")[0], 202)
        self.assertEqual(d.request("POST", "/v1/jobs", {"record": "d", "command": "echo"})[0], 503)
        self.assertTrue(d.proc.running())
        d.json("POST", "/v1/groups/default", {"paused": False})
        self.assertEqual(d.proc.wait(20).code, 0)
        self.assertEqual(d.proc.stderr_text().count("0 jobs left"), 1)

    def test_a_token_is_needed_and_refused_when_wrong(self):
        token = self.write("token", "s3cret\n")
        d = self.daemon("--token-file", token)
        self.assertEqual(d.request("GET", "/v1/groups")[0], 401)
        self.assertEqual(d.request("GET", "/v1/groups", headers={
            "Authorization": "Bearer s3crex"})[0], 401)
        self.assertEqual(d.request("GET", "/v1/groups", headers={
            "Authorization": "Bearer s3cret"})[0], 200)
        self.assertEqual(d.request("GET", "/healthz")[0], 200)
        r = taskpool("status", env=test_env({"TASKPOOL_SERVER": d.url,
                                             "TASKPOOL_TOKEN_FILE": str(token)}))
        self.assertExit(r, 0)

    def test_an_idempotency_key_makes_a_repeated_submit_a_no_op(self):
        d = self.daemon()
        marks = self.path("marks")
        body = {"record": str(marks), "command": "echo x >> {}"}
        first = d.submit(body, {"Idempotency-Key": "k1"})
        again = d.submit(body, {"Idempotency-Key": "k1"})
        self.assertEqual(first, again)
        d.wait_for(first[0])
        time.sleep(0.3)
        self.assertEqual(marks.read_text(), "x\n")

    def test_dependencies_wait_and_a_failed_one_fails_its_dependants(self):
        d = self.daemon("-j", "4")
        [bad] = d.submit({"record": "0.3", "command": "sleep {}; exit 2"})
        [good] = d.submit({"record": "ok", "command": "echo {}"})
        [after_bad] = d.submit({"record": "x", "command": "echo {}", "after": [bad]})
        [after_good] = d.submit({"record": "y", "command": "echo {}", "after": [good]})
        self.assertEqual(d.wait_for(after_good)["state"], "succeeded")
        failed = d.wait_for(after_bad)
        self.assertEqual(failed["state"], "failed")
        self.assertIn(str(bad), failed["reason"])
        self.assertEqual(failed["attempts"], 0)
        self.assertEqual(d.job(bad)["exit_status"], 2)

    def test_a_groups_limit_holds_and_pause_and_resume_work(self):
        d = self.daemon("-j", "4")
        log = self.path("log")
        d.json("POST", "/v1/groups/one", {"limit": 1})
        self.assertExit(d.client("pause", "one"), 0)
        ids = d.submit({"group": "one", "records": ["a", "b", "c"],
                        "command": f"echo start >> {log}; sleep 0.2; echo end >> {log}; : {{}}"})
        time.sleep(0.5)
        self.assertEqual(d.job(ids[0])["state"], "queued")
        self.assertFalse(log.exists())
        self.assertExit(d.client("resume", "one"), 0)
        for id_ in ids:
            d.wait_for(id_)
        self.assertEqual(log.read_text().split(), ["start", "end"] * 3)

    def test_events_stream_the_jobs_state_changes(self):
        d = self.daemon()
        connection = http.client.HTTPConnection("127.0.0.1", d.port, timeout=20)
        self.addCleanup(connection.close)
        connection.request("GET", "/v1/events")
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        [id_] = d.submit({"record": "e", "command": "echo {}"})
        seen = []
        while "succeeded" not in seen:
            line = response.fp.readline().decode()
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("id") == id_:
                    seen.append(event["state"])
        self.assertEqual(seen, ["running", "succeeded"])

    def test_cancel_ends_a_running_jobs_process_group(self):
        d = self.daemon()
        sleep = unique_seconds(100)
        self.cleanup_processes(sleep)
        [id_] = d.submit({"record": sleep, "command": "sleep {} & sleep {}; wait"})
        self.assertTrue(wait_until(lambda: len(processes_with_arg(sleep)) == 2, 20))
        d.json("POST", "/v1/groups/held", {"paused": True})
        [queued] = d.submit({"record": sleep, "command": "sleep {}", "group": "held"})
        self.assertEqual(d.request("DELETE", f"/v1/jobs/{id_}")[0], 202)
        job = d.wait_for(id_)
        self.assertEqual((job["state"], job["signal"]), ("cancelled", 15))
        self.assertNoSurvivors(sleep)
        self.assertExit(d.client("cancel", str(queued)), 0)
        self.assertEqual(d.job(queued)["state"], "cancelled")

    def test_submits_one_after_the_other_on_one_connection_are_all_answered(self):
        # Each 202 waits for its commit; the connection is kept all the same (http.client would
        # open another, unseen, after a "Connection: close").
        d = self.daemon()
        connection = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        self.addCleanup(connection.close)
        connection.connect()
        first_socket = connection.sock
        for record in ("a", "b", "c"):
            connection.request("POST", "/v1/jobs", body=json.dumps({"record": record,
                                                                    "command": "echo {}"}))
            response = connection.getresponse()
            self.assertEqual(response.status, 202)
            self.assertNotEqual((response.getheader("Connection") or "").lower(), "close")
            response.read()
            self.assertIs(connection.sock, first_socket)

    def test_a_client_sending_a_byte_a_second_does_not_stall_the_others(self):
        d = self.daemon()
        slow = socket.create_connection(("127.0.0.1", d.port))
        self.addCleanup(slow.close)
        stop = threading.Event()
        self.addCleanup(stop.set)

        def drip():
            for byte in b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n":
                if stop.wait(1):
                    return
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    return

        threading.Thread(target=drip, daemon=True).start()
        time.sleep(1.5)
        started = time.monotonic()
        [id_] = d.submit({"record": "quick", "command": "echo {}"})
        d.wait_for(id_)
        self.assertLess(time.monotonic() - started, 5)


class ServeLifeTest(ServeTestCase):
    def test_sigterm_lets_running_jobs_finish_and_keeps_the_queued_ones(self):
        d = self.daemon("-j", "1")
        marks = self.path("marks")
        [running] = d.submit({"record": str(marks), "command": "sleep 0.5; echo done >> {}"})
        d.wait_for(running, ("running",))
        [queued] = d.submit({"record": str(marks), "command": "echo second >> {}"})
        os.kill(d.proc.pid, signal.SIGTERM)
        self.assertEqual(d.proc.wait(20).code, 0)
        self.assertEqual(marks.read_text(), "done\n")
        again = self.daemon(state=d.state)
        self.assertEqual(again.job(running)["state"], "succeeded")
        again.wait_for(queued)
        self.assertEqual(marks.read_text(), "done\nsecond\n")

    def test_it_refuses_to_listen_beyond_loopback_without_a_token(self):
        r = taskpool("serve", "--listen", "0.0.0.0:0", "--state", self.path("s"))
        self.assertExit(r, 255)
        self.assertIn("--token-file", r.err)
        r = taskpool("serve", "--listen", "127.0.0.1:0")
        self.assertExit(r, 255)
        self.assertIn("--state", r.err)
        r = taskpool("serve", "--listen", "nowhere", "--state", self.path("s"))
        self.assertExit(r, 255)
        self.assertIn("--listen", r.err)

    def test_a_second_daemon_on_the_same_state_is_refused(self):
        d = self.daemon()
        r = taskpool("serve", "--listen", "127.0.0.1:0", "--state", d.state, timeout=20)
        self.assertNotEqual(r.code, 0)
        self.assertIn(str(d.state), r.err)


if __name__ == "__main__":
    unittest.main()
