"""The job server's clients as a user runs them: `taskpool submit|status|wait ...` from the
binary, against a stand-in server on 127.0.0.1 that answers as the job server's API does and
keeps what it was sent (the server's own behaviour is tested in tests/serve/)."""

import json
import socket
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import TaskpoolTestCase, taskpool, test_env


class StandInServer:
    """Answers each request with the next of `replies` (status, headers, body); keeps the
    requests (method, path, headers, body)."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, reply = outer.replies.pop(0) if outer.replies else (
                    500, {}, b'{"error":"no more replies"}')
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_DELETE = handle_one

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def job(id_, state, exit_status=None):
    return {"id": id_, "group": "default", "state": state, "priority": 0, "record": ["r"],
            "command": "", "after": [], "attempts": 1, "interruptions": 0,
            "exit_status": exit_status, "signal": None, "reason": ""}


class ServeClientTest(TaskpoolTestCase):
    def serve(self, *replies):
        server = StandInServer(replies)
        self.addCleanup(server.stop)
        return server

    def test_submit_sends_stdin_records_with_the_token_and_prints_the_ids(self):
        server = self.serve((202, {}, b'{"ids":[7,8]}\n'))
        token = self.write("token", "s3cret\n")
        r = taskpool("submit", "--group", "render", "convert", "{}", "{.}.png",
                     input=b"a.jpg\nb c.jpg\n",
                     env=test_env({"TASKPOOL_SERVER": server.url,
                                   "TASKPOOL_TOKEN_FILE": str(token)}))
        self.assertExit(r, 0)
        self.assertEqual(r.out, "7\n8\n")
        method, path, headers, body = server.requests[0]
        self.assertEqual((method, path), ("POST", "/v1/jobs"))
        self.assertEqual(headers["Authorization"], "Bearer s3cret")
        self.assertRegex(headers["Idempotency-Key"], r"^[0-9a-f]{32}-0$")
        self.assertEqual(json.loads(body), {"group": "render", "command": "convert {} {.}.png",
                                            "records": [["a.jpg"], ["b c.jpg"]]})

    def test_a_full_queue_is_tried_again_after_retry_after_with_the_same_key(self):
        server = self.serve(
            (429, {"Retry-After": "1"}, b'{"error":"the queue of group \'default\' is full"}\n'),
            (202, {}, b'{"ids":[1]}\n'))
        r = taskpool("submit", "--server", server.url, ":::", "x")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "1\n")
        self.assertGreaterEqual(r.seconds, 0.9, "the retry came before Retry-After")
        keys = [headers["Idempotency-Key"] for _, _, headers, _ in server.requests]
        self.assertEqual(len(keys), 2)
        self.assertEqual(keys[0], keys[1])

    def test_wait_exits_with_the_number_of_jobs_that_failed(self):
        jobs = {"jobs": [job(1, "failed", 3), job(2, "succeeded", 0)]}
        server = self.serve((200, {}, json.dumps(jobs).encode()))
        r = taskpool("wait", "1", "2", "--server", server.url)
        self.assertExit(r, 1)
        self.assertEqual(r.err, "taskpool: job 1 failed: exit status 3\n")
        self.assertEqual(server.requests[0][1], "/v1/jobs?ids=1,2")

    def test_an_unreachable_server_or_a_refused_token_is_named(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = taskpool("status", "--server", f"127.0.0.1:{port}")
        self.assertExit(r, 255)
        self.assertIn(f"taskpool: status: cannot reach the server at http://127.0.0.1:{port}: ",
                      r.err)
        server = self.serve((401, {}, b'{"error":"a valid token is needed"}\n'))
        r = taskpool("cancel", "4", "--server", server.url)
        self.assertExit(r, 255)
        self.assertEqual(r.err, f"taskpool: cancel: the server at {server.url} asks for a token "
                                "(401): give its token file with --token-file or "
                                "TASKPOOL_TOKEN_FILE\n")


if __name__ == "__main__":
    unittest.main()
