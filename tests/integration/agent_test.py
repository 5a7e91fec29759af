"""`taskpool agent` driven over pipes, as a runner on another machine drives it: the framing of
core/agent_frame.h, hostile bytes unchanged, heartbeats, cancel, and the end of its input ending
its jobs."""

import os
import select
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from helpers import TASKPOOL, TIMEOUT
from process_support import is_running, wait_until


def frame(kind: bytes, body: bytes) -> bytes:
    return struct.pack("<I", 1 + len(body)) + kind + body


def field(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def start(job_id: int, line: bytes, argv=()) -> bytes:
    body = struct.pack("<Q", job_id) + field(line) + struct.pack("<I", len(argv))
    return frame(b"S", body + b"".join(field(a) for a in argv))


def cancel(job_id: int, kill: bool) -> bytes:
    return frame(b"C", struct.pack("<QB", job_id, 1 if kill else 0))


class Agent:
    """One `taskpool agent` on pipes; frames are read as they come."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([str(TASKPOOL), "agent", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next(self, timeout: float = TIMEOUT):
        """(kind, body) of the next frame, or None at the end of the stream."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 4:
                length = struct.unpack("<I", self.buffer[:4])[0]
                if len(self.buffer) >= 4 + length:
                    kind, body = self.buffer[4:5], self.buffer[5:4 + length]
                    self.buffer = self.buffer[4 + length:]
                    return kind, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame from the agent in time")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    return None
                self.buffer += data

    def until_done(self, count: int):
        """Output and ends of `count` jobs: {id: (status, signal, started, error, out, err)}."""
        outputs, done = {}, {}
        while len(done) < count:
            got = self.next()
            assert got is not None, "the agent ended early"
            kind, body = got
            if kind == b"O":
                job_id, stream = struct.unpack("<QB", body[:9])
                size = struct.unpack("<I", body[9:13])[0]
                self_out = outputs.setdefault(job_id, [b"", b""])
                self_out[stream - 1] += body[13:13 + size]
            elif kind == b"D":
                job_id, status, sig, flags, _runtime = struct.unpack("<QIIBQ", body[:25])
                size = struct.unpack("<I", body[25:29])[0]
                error = body[29:29 + size].decode()
                out, err = outputs.pop(job_id, [b"", b""])
                done[job_id] = (status, sig, bool(flags & 1), error, out, err)
        return done

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


class AgentTest(unittest.TestCase):
    def agent(self, *args: str) -> Agent:
        agent = Agent(*args)
        self.addCleanup(agent.close)
        kind, body = agent.next()
        self.assertEqual(kind, b"H")
        version, cpus = struct.unpack("<II", body[:8])
        self.assertEqual(version, 1)
        self.assertGreaterEqual(cpus, 1)
        return agent

    def test_hostile_records_arrive_unchanged(self):
        agent = self.agent()
        hostile = bytes(range(1, 256)) + b"\n'\"$(rm -rf /)`;|&*?\\"
        agent.send(start(5, b"printf %s ...", [b"printf", b"%s", hostile]))
        agent.send(start(6, b"printf 'a\\0b'; echo oops >&2; exit 7"))
        done = agent.until_done(2)
        self.assertEqual(done[5], (0, 0, True, "", hostile, b""))
        self.assertEqual(done[6], (7, 0, True, "", b"a\0b", b"oops\n"))

    def test_output_larger_than_a_frame_comes_whole(self):
        agent = self.agent()
        agent.send(start(1, b"head -c 300000 /dev/zero | tr '\\0' x"))
        done = agent.until_done(1)
        self.assertEqual(done[1][4], b"x" * 300000)

    def test_a_missing_program_is_reported(self):
        agent = self.agent()
        agent.send(start(2, b"no-such-program-xyz", [b"no-such-program-xyz"]))
        status, _sig, started, error, _out, _err = agent.until_done(1)[2]
        self.assertEqual((status, started), (127, False))
        self.assertIn("no-such-program-xyz: command not found", error)

    def test_heartbeats_come_at_the_interval(self):
        agent = self.agent("--heartbeat", "0.1s")
        begun = time.monotonic()
        beats = 0
        while beats < 5:
            kind, _body = agent.next(timeout=10)
            beats += kind == b"B"
        elapsed = time.monotonic() - begun
        self.assertGreaterEqual(elapsed, 0.35)
        self.assertLess(elapsed, 10)

    def test_cancel_ends_the_job_process_group(self):
        agent = self.agent()
        with tempfile.TemporaryDirectory() as tmp:
            pids = Path(tmp) / "pids"
            agent.send(start(3, f"sleep 60 & echo $! > {pids}; wait".encode()))
            self.assertTrue(wait_until(lambda: pids.exists() and pids.read_text().strip(), 20))
            child = int(pids.read_text())
            agent.send(cancel(3, kill=False))
            status, sig, *_ = agent.until_done(1)[3]
            self.assertEqual((status, sig), (0, 15))
            self.assertTrue(wait_until(lambda: not is_running(child), 10))

    def test_the_end_of_its_input_kills_its_jobs_and_ends_it(self):
        agent = self.agent()
        with tempfile.TemporaryDirectory() as tmp:
            pids = Path(tmp) / "pids"
            agent.send(start(4, f"echo $$ > {pids}; sleep 60".encode()))
            self.assertTrue(wait_until(lambda: pids.exists() and pids.read_text().strip(), 20))
            job = int(pids.read_text())
            agent.proc.stdin.close()
            self.assertEqual(agent.proc.wait(timeout=20), 0)
            self.assertTrue(wait_until(lambda: not is_running(job), 10))

    def test_a_broken_stream_is_an_error_naming_it(self):
        agent = self.agent()
        agent.send(frame(b"Z", b""))
        self.assertEqual(agent.proc.wait(timeout=20), 1)
        self.assertIn(b"broken request stream: a frame of unknown kind 0x5a",
                      agent.proc.stderr.read())


if __name__ == "__main__":
    unittest.main()
