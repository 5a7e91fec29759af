"""Support for the resilience and signal tests: finding the processes a job left behind,
waiting for conditions with a time limit, running taskpool in the background, and reading its
joblog and JSON summary."""

import json
import os
import pty
import random
import signal
import subprocess
import termios
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Union

from helpers import TASKPOOL, TIMEOUT, Result, kill_group, test_env


def unique_seconds(whole: int) -> str:
    """A sleep duration such as '100.482913': close to `whole` seconds, and rare enough that the
    processes sleeping that long can be told apart from every other process on the machine."""
    return f"{whole}.{random.randrange(10**5, 10**6)}"


def _state(pid: int) -> Optional[str]:
    """The process state letter from /proc (R, S, Z, ...), or None when there is no process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no such process (any more)
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0] if fields else None


def _cmdline(pid: int) -> List[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def is_running(pid: int) -> bool:
    """True when `pid` is a process that has not ended (a zombie has ended)."""
    state = _state(pid)
    return state is not None and state not in ("Z", "X")


def processes_with_arg(word: str) -> List[int]:
    """The running (not zombie) processes that have `word` as one of their arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == os.getpid():
            continue
        if word in _cmdline(pid) and is_running(pid):
            found.append(pid)
    return found


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Polls `condition` until it holds or `timeout` seconds pass; returns whether it held."""
    end = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= end:
            return condition()
        time.sleep(interval)


def read_pids(path: Path) -> List[int]:
    """The whole numbers in a file that jobs wrote their PIDs ($$, $!) to."""
    return [int(w) for w in path.read_text().split() if w.isdigit()]


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class SurvivorCheck:
    """Mixin for TaskpoolTestCase: asserts that no process a job started is still running."""

    def assertNoSurvivors(self, word: str, pids: Iterable[int] = (), settle: float = 3.0):
        """Fails when a process with argument `word`, or one of `pids` that still runs a command
        with that argument, is running `settle` seconds after the call (the SIGKILL of a process
        group reaches its members a moment after the leader is reaped). Survivors are killed."""
        pids = list(pids)

        def survivors():
            left = set(processes_with_arg(word))
            left.update(p for p in pids if is_running(p) and word in " ".join(_cmdline(p)))
            return sorted(left)

        wait_until(lambda: not survivors(), settle)
        left = survivors()
        if left:
            described = [f"{p} ({' '.join(_cmdline(p))})" for p in left]
            kill_all(left)
            self.fail(f"processes still running after taskpool exited: {described}")

    def cleanup_processes(self, word: str) -> None:
        """Registers a cleanup that kills any leftover process with argument `word`."""
        self.addCleanup(lambda: kill_all(processes_with_arg(word)))


class Background:
    """taskpool running in a session and process group of its own, as a shell would start a
    foreground job, with standard output and error going to files."""

    def __init__(self, directory: Path, *args: Union[str, os.PathLike],
                 env: Optional[dict] = None, program: Optional[Path] = None):
        """Runs taskpool (or `program`, a copy of it) with `args` in `directory`, where its
        output files go too."""
        self._out_path = directory / "taskpool.stdout"
        self._err_path = directory / "taskpool.stderr"
        self._out = open(self._out_path, "wb")
        self._err = open(self._err_path, "wb")
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            [os.fspath(program or TASKPOOL), *map(os.fspath, args)], stdin=subprocess.DEVNULL,
            stdout=self._out, stderr=self._err, cwd=directory,
            env=env if env is not None else test_env(), start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        return self._err_path.read_bytes().decode("utf-8", "replace")

    def signal(self, sig: int) -> None:
        """Sends `sig` to taskpool's process group, as a terminal sends Ctrl-C (SIGINT) to the
        foreground job: jobs in process groups of their own do not get it."""
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = TIMEOUT) -> Result:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            self.proc.wait()
            raise AssertionError(f"taskpool did not end within {timeout} s")
        finally:
            self._out.close()
            self._err.close()
        return Result(self._out_path.read_bytes(), self._err_path.read_bytes(), code,
                      time.monotonic() - self.start)

    def kill(self) -> None:
        """For cleanups: ends taskpool if a failed test left it running."""
        if self.proc.poll() is None:
            kill_group(self.proc)
            self.proc.wait()
        self._out.close()
        self._err.close()


def joblog_rows(path: Path) -> List[List[str]]:
    """The joblog's lines after the header, split into columns (the command may hold tabs)."""
    lines = path.read_text().splitlines()
    assert lines and lines[0].startswith("Seq\tHost\t"), f"no joblog header in {path}: {lines[:1]}"
    return [line.split("\t", 8) for line in lines[1:]]


def joblog_by_seq(path: Path) -> Dict[int, List[str]]:
    return {int(row[0]): row for row in joblog_rows(path)}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


class TerminalRun:
    """taskpool as the foreground job of a terminal: the session leader of a new session whose
    controlling terminal is a pseudo-terminal, as a shell runs a command. Its standard output
    and error go to files; Ctrl-Z typed on the terminal sends SIGTSTP to it, Ctrl-C SIGINT."""

    def __init__(self, directory: Path, *args):
        argv = [os.fspath(TASKPOOL), *map(os.fspath, args)]
        env = test_env()
        self._out = directory / "taskpool.stdout"
        self._err = directory / "taskpool.stderr"
        self.code: Optional[int] = None
        self.pid, self.master = pty.fork()
        self.master_open = True
        if self.pid == 0:  # the child: setsid and the terminal are done
            try:
                os.chdir(directory)
                for fd, path in ((1, self._out), (2, self._err)):
                    opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(opened, fd)
                    os.close(opened)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        # The terminal turns Ctrl-Z into SIGTSTP only with ISIG (the default).
        attributes = termios.tcgetattr(self.master)
        if not attributes[3] & termios.ISIG:
            attributes[3] |= termios.ISIG
            termios.tcsetattr(self.master, termios.TCSANOW, attributes)

    def running(self) -> bool:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is None

    def ctrl_z(self) -> None:
        os.write(self.master, b"\x1a")

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def fg(self) -> None:
        """What a shell's fg does for a job already in the foreground: SIGCONT to its group."""
        os.killpg(self.pid, signal.SIGCONT)

    def stderr_text(self) -> str:
        return self._err.read_bytes().decode("utf-8", "replace") if self._err.exists() else ""

    def wait(self, timeout: float) -> Result:
        start = time.monotonic()
        if not wait_until(lambda: not self.running(), timeout, 0.05):
            self.kill()
            raise AssertionError(f"taskpool did not end within {timeout} s")
        self.close_terminal()
        return Result(self._out.read_bytes(), self._err.read_bytes(), self.code,
                      time.monotonic() - start)

    def close_terminal(self) -> None:
        if self.master_open:
            os.close(self.master)
            self.master_open = False

    def kill(self) -> None:
        """For cleanups: ends taskpool (stopped or not) if a failed test left it running."""
        if self.code is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.code = os.waitstatus_to_exitcode(status)
        self.close_terminal()
