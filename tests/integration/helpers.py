"""Shared helpers for taskpool's integration tests.

The binary under test comes from $TASKPOOL (ctest sets it), else build/taskpool in the
repository. Every process runs with a timeout; temporary directories are removed afterwards.

Commands given to `sh()` can call `taskpool` and `show-args` by name: a private bin directory
with both is put first on PATH. `show-args` prints each of its arguments followed by a NUL
byte, then the line "--end--", so a test can compare exactly what a program received.
"""

import atexit
import functools
import hashlib
import json
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

# The sanitizers the binary under test was built with (ctest sets it from the build), if any.
SANITIZE = os.environ.get("TASKPOOL_SANITIZE", "")


def sized(release: int, sanitized: int) -> int:
    """How many records, jobs or bytes a test uses: `release` for a release build, `sanitized` for
    a sanitizer build. A sanitizer build runs each record several times slower and looks for
    memory and thread errors, which a smaller input finds as well; the sizes that prove a bound
    (1 000 000 records in flat memory) run in the release build."""
    return sanitized if SANITIZE else release


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


# With $TASKPOOL_GNU_PARALLEL_CACHE set to a directory, the results of GNU parallel runs are kept
# there and given back when a later test process makes the same run: scripts/test sets it for one
# run of its stages, so each sanitizer stage compares against the runs the first stage made
# instead of starting perl a hundred times more. A run is the same when its arguments, input and
# the files in its working directory are (the working directory's own path aside), and it is
# kept only when it changed no file there: a run whose effects a test looks at always runs.
GNU_CACHE = os.environ.get("TASKPOOL_GNU_PARALLEL_CACHE")
CWD_MARK = b"\0CWD\0"


def _cache_path(*parts) -> Path:
    digest = hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return Path(GNU_CACHE) / digest


def _cache_load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cache_store(path: Path, value) -> None:
    """Writes atomically: test processes side by side may store the same entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def _tree(root: Path) -> list:
    """Every path under root with what it holds, to tell whether a run changed any."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            full = Path(dirpath) / name
            rel = os.fsencode(full.relative_to(root)).hex()
            if full.is_symlink():
                entries.append((rel, "link", os.fsencode(os.readlink(full)).hex()))
            elif full.is_file():
                entries.append((rel, "file", hashlib.sha256(full.read_bytes()).hexdigest()))
            else:
                entries.append((rel, "other", ""))
    return entries


@functools.lru_cache(maxsize=None)
def gnu_parallel() -> Optional[str]:
    path = shutil.which("parallel")
    if not path:
        return None
    key = None
    if GNU_CACHE:
        st = os.stat(path)
        key = _cache_path("version", path, st.st_size, st.st_mtime_ns)
        known = _cache_load(key)
        if known is not None:
            return path if known else None
    try:
        r = subprocess.run([path, "--version"], capture_output=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = b"GNU parallel" in r.stdout
    if key is not None:
        _cache_store(key, found)
    return path if found else None


def parallel(*args: Union[str, os.PathLike], input: Optional[bytes] = None,
             cwd: Optional[Union[str, os.PathLike]] = None, **kwargs) -> Result:
    """Runs GNU parallel (the reference) with these arguments (see GNU_CACHE)."""
    argv = [gnu_parallel(), "--will-cite", *map(os.fspath, args)]
    if not GNU_CACHE or kwargs:
        return run(argv, input=input, cwd=cwd, **kwargs)
    here = os.fsencode(os.path.abspath(cwd)) if cwd is not None else None

    def mark(data: bytes) -> bytes:
        return data.replace(here, CWD_MARK) if here else data

    def unmark(data: bytes) -> bytes:
        return data.replace(CWD_MARK, here) if here else data

    before = _tree(Path(cwd)) if cwd is not None else None
    key = _cache_path("run", [mark(os.fsencode(a)) for a in argv],
                      None if input is None else mark(input), before)
    known = _cache_load(key)
    if known is not None:
        return Result(unmark(bytes.fromhex(known["stdout"])),
                      unmark(bytes.fromhex(known["stderr"])), known["code"], known["seconds"])
    r = run(argv, input=input, cwd=cwd)
    if before is None or _tree(Path(cwd)) == before:
        _cache_store(key, {"stdout": mark(r.stdout).hex(), "stderr": mark(r.stderr).hex(),
                           "code": r.code, "seconds": r.seconds})
    return r


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
