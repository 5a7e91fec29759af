"""Shared helpers for taskpool's integration tests.

The binary under test comes from $TASKPOOL (ctest sets it), else build/taskpool in the
repository. Every process runs with a timeout; temporary directories are removed afterwards.

Commands given to `sh()` can call `taskpool` and `show-args` by name: a private bin directory
with both is put first on PATH. `show-args` prints each of its arguments followed by a NUL
byte, then the line "--end--", so a test can compare exactly what a program received.
"""

import atexit
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds, for every process a test starts


def taskpool_binary() -> Path:
    from_env = os.environ.get("TASKPOOL")
    if from_env:
        return Path(from_env).resolve()
    return REPO / "build" / "taskpool"


TASKPOOL = taskpool_binary()

SHOW_ARGS_SCRIPT = """#!/bin/sh
for a in "$@"; do printf '%s\\0' "$a"; done
printf '%s\\n' --end--
"""


def show_args_output(*jobs: Sequence[Union[str, bytes]]) -> bytes:
    """What show-args prints for each job's arguments, concatenated in order."""
    out = b""
    for args in jobs:
        for a in args:
            out += (os.fsencode(a) if isinstance(a, str) else a) + b"\0"
        out += b"--end--\n"
    return out


@functools.lru_cache(maxsize=None)
def bin_dir() -> Path:
    """A directory holding `taskpool` (a link to the binary under test) and `show-args`."""
    d = Path(tempfile.mkdtemp(prefix="taskpool-it-bin-"))
    atexit.register(shutil.rmtree, d, True)
    (d / "taskpool").symlink_to(TASKPOOL)
    script = d / "show-args"
    script.write_text(SHOW_ARGS_SCRIPT)
    script.chmod(0o755)
    return d


def test_env(extra: Optional[dict] = None) -> dict:
    env = dict(os.environ)
    env["PATH"] = str(bin_dir()) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    # GNU parallel, when used as the reference, runs command lines with /bin/sh as taskpool does.
    env["PARALLEL_SHELL"] = "/bin/sh"
    env.pop("PARALLEL", None)
    if extra:
        env.update(extra)
    return env


class Result(NamedTuple):
    stdout: bytes
    stderr: bytes
    code: int
    seconds: float

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run(argv: Sequence[Union[str, os.PathLike]], input: Optional[bytes] = None,
        cwd: Optional[Union[str, os.PathLike]] = None, env: Optional[dict] = None,
        timeout: float = TIMEOUT, stderr_fd: Optional[int] = None) -> Result:
    """Runs argv to completion in its own process group; kills the group on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [os.fspath(a) for a in argv],
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_fd if stderr_fd is not None else subprocess.PIPE,
        cwd=cwd, env=env if env is not None else test_env(), start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise AssertionError(f"timed out after {timeout} s: {list(map(os.fspath, argv))!r}")
    return Result(out, err or b"", proc.returncode, time.monotonic() - start)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def taskpool(*args: Union[str, os.PathLike], **kwargs) -> Result:
    """Runs the binary under test with these arguments."""
    return run([TASKPOOL, *args], **kwargs)


def sh(script: str, **kwargs) -> Result:
    """Runs a /bin/sh script; `taskpool` and `show-args` are on PATH."""
    return run(["/bin/sh", "-c", script], **kwargs)


@functools.lru_cache(maxsize=None)
def gnu_parallel() -> Optional[str]:
    path = shutil.which("parallel")
    if not path:
        return None
    try:
        r = subprocess.run([path, "--version"], capture_output=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if b"GNU parallel" in r.stdout else None


def parallel(*args: Union[str, os.PathLike], **kwargs) -> Result:
    """Runs GNU parallel (the reference) with these arguments."""
    return run([gnu_parallel(), "--will-cite", *args], **kwargs)


requires_gnu_parallel = unittest.skipUnless(
    gnu_parallel() is not None,
    "GNU parallel is not installed (apt-get install parallel); comparison skipped")


class TaskpoolTestCase(unittest.TestCase):
    """Base class: checks the binary exists and gives each test a fresh temporary directory."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not (TASKPOOL.is_file() and os.access(TASKPOOL, os.X_OK)):
            raise AssertionError(
                f"taskpool binary not found at {TASKPOOL}: build it, or set TASKPOOL to its path")

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="taskpool-it-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name: str) -> Path:
        return self.tmp / name

    def write(self, name: str, data: Union[str, bytes]) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        p.write_bytes(data)
        return p

    def assertExit(self, result: Result, code: int, msg: str = "") -> None:
        self.assertEqual(
            result.code, code,
            f"{msg}\nexit status {result.code}, expected {code}\n"
            f"stdout: {result.stdout[:2000]!r}\nstderr: {result.stderr[:2000]!r}")

    def assertNoPwned(self, where: Optional[Path] = None) -> None:
        where = where or self.tmp
        self.assertFalse((where / "pwned").exists(), "a record was run as code: 'pwned' exists")
