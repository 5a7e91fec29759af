"""Real OpenSSH servers as the hosts of taskpool's -S tests.

`SshdHosts(n)` starts n sshd processes with a throwaway host key and client key in a private
temporary directory. As root with `ip netns` working, each host gets a network namespace of its
own with a veth pair, so each has its own address (10.213.X.2, port 22); otherwise each listens on
127.0.0.1 on a port of its own. `ssh_command` is the `--ssh` value that reaches them (a generated
ssh_config: the client key, no known_hosts, no password prompts).

`sshd_unavailable()` says why the machine cannot run sshd (None when it can). As root, it installs
Debian's openssh-server when sshd is missing, with services kept from starting.

Everything is removed by `close()`: sshd processes, namespaces, keys.
"""

import fcntl
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional

SSHD = "/usr/sbin/sshd"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def _run(argv, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                          **kwargs)


def _install_openssh_server() -> Optional[str]:
    """apt-get installs OpenSSH without starting the system's sshd. Returns an error."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return ("OpenSSH is missing and this is not root with apt-get "
                "(apt-get install openssh-client openssh-server)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # A service must not start: these tests start their own sshd processes.
    made_policy = False
    if not POLICY_RC_D.exists():
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
        made_policy = True
    try:
        install = ["apt-get", "install", "-y", "-qq", "openssh-client", "openssh-server"]
        r = _run(install, timeout=600, env=env)
        if r.returncode != 0:
            _run(["apt-get", "update", "-qq"], timeout=600, env=env)
            r = _run(install, timeout=600, env=env)
        if r.returncode != 0:
            return "apt-get install openssh-server failed: " + r.stderr.decode()[-300:]
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"apt-get install openssh-server failed: {e}"
    finally:
        if made_policy:
            POLICY_RC_D.unlink()
    return None if Path(SSHD).exists() else "openssh-server installed no /usr/sbin/sshd"


@functools.lru_cache(maxsize=None)
def sshd_unavailable() -> Optional[str]:
    """None when sshd can run here (installing it if needed), else the reason it cannot."""
    if not (Path(SSHD).exists() and shutil.which("ssh") and shutil.which("ssh-keygen")):
        error = _install_openssh_server()
        if error:
            return error
    if os.geteuid() != 0:
        return "sshd as a test host needs root (it logs in as root and needs /run/sshd)"
    return None


@functools.lru_cache(maxsize=None)
def namespaces_work() -> bool:
    """True when this process may create network namespaces (root with `ip netns`)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = f"tp-probe-{os.getpid()}"
    try:
        if _run(["ip", "netns", "add", name], timeout=10).returncode != 0:
            return False
        _run(["ip", "netns", "del", name], timeout=10)
        return True
    except (OSError, subprocess.TimeoutExpired):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _claim_subnet():
    """A number X for a host's 10.213.X.0/30 that no other host uses, in this process or another
    one running tests side by side: X is taken while its lock file is locked, and freed when the
    lock's descriptor closes (at the latest when the process ends). Returns (X, descriptor)."""
    for net in range(1, 255):
        fd = os.open(os.path.join(tempfile.gettempdir(), f"taskpool-sshd-subnet-{net}.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return net, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError("no free 10.213.X.0/30 subnet for an sshd host: 254 are in use")


def _descendants(pid: int) -> List[int]:
    """The processes below `pid` (children, grandchildren, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Host:
    """One sshd. `login` is its -S value (root@ADDRESS or root@127.0.0.1:PORT)."""

    def __init__(self, hosts: "SshdHosts", index: int):
        self.index = index
        self.name = f"h{index}"
        self.netns: Optional[str] = None
        self.outer: Optional[str] = None
        self._subnet_lock: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        try:
            self._start(hosts)
        except BaseException:
            self.close()  # a host that failed half-way leaves no namespace, link or sshd
            raise

    def _start(self, hosts: "SshdHosts") -> None:
        index = self.index
        d = hosts.dir
        if hosts.use_netns:
            self.netns = f"tp{os.getpid()}x{hosts.serial}h{index}"
            net, self._subnet_lock = _claim_subnet()
            self.address, self.port = f"10.213.{net}.2", 22
            tag = f"{os.getpid() % 100000}{hosts.serial}"
            outer, inner = f"tpv{tag}o{index}", f"tpv{tag}i{index}"
            self.outer = outer
            for argv in (["ip", "netns", "add", self.netns],
                         ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
                         ["ip", "link", "set", inner, "netns", self.netns],
                         ["ip", "addr", "add", f"10.213.{net}.1/30", "dev", outer],
                         ["ip", "link", "set", outer, "up"],
                         ["ip", "-n", self.netns, "addr", "add", f"{self.address}/30", "dev", inner],
                         ["ip", "-n", self.netns, "link", "set", inner, "up"],
                         ["ip", "-n", self.netns, "link", "set", "lo", "up"]):
                r = _run(argv, timeout=20)
                if r.returncode != 0:
                    raise RuntimeError(f"{' '.join(argv)}: {r.stderr.decode().strip()}")
            self.login = f"root@{self.address}"
        else:
            self.address, self.port = "127.0.0.1", _free_port()
            self.login = f"root@{self.address}:{self.port}"
        config = d / f"{self.name}.sshd_config"
        config.write_text(f"""Port {self.port}
ListenAddress {self.address}
HostKey {d}/host_key
AuthorizedKeysFile {d}/authorized_keys
PidFile {d}/{self.name}.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100:30:200
LogLevel ERROR
""")
        # A home of its own, mounted over the login user's in a mount namespace of the host's
        # own: the machine's dotfiles (a slow ~/.bashrc) stay out, and jobs write nowhere real.
        self.home = d / f"{self.name}-home"
        self.home.mkdir()
        real_home = os.path.expanduser("~root")
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" "$2" && exec "$3" -D -e -f "$4"', "sh",
                str(self.home), real_home, SSHD, str(config)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.log = d / f"{self.name}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        self._wait_listening()

    def _wait_listening(self) -> None:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd {self.name} exited: {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd {self.name} is not listening on {self.address}:{self.port}")

    def sshd_pids(self) -> List[int]:
        """The listener and the per-connection sshd processes (not the commands they run)."""
        pids = [self.proc.pid] + _descendants(self.proc.pid)
        return [p for p in pids if _comm(p) == "sshd"]

    def kill_sshd(self) -> None:
        """The host dies: every sshd of it gets SIGKILL, so its connections drop. The commands
        it was running are left (a dead machine's processes would be gone too; the caller kills
        them when it needs to)."""
        for pid in self.sshd_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None:
            for pid in [self.proc.pid] + _descendants(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self.netns:
            _run(["ip", "netns", "del", self.netns], timeout=20)
            self.netns = None
        if self.outer:
            # Gone with the namespace, unless a process still holds the namespace: a link left
            # behind would keep the subnet's address and take the next host's packets.
            _run(["ip", "link", "del", self.outer], timeout=20)
            self.outer = None
        if self._subnet_lock is not None:
            os.close(self._subnet_lock)
            self._subnet_lock = None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class SshdHosts:
    """n sshd hosts (at most 4) and the client set-up that reaches them. Use as a context
    manager or call close()."""

    _count = 0

    def __init__(self, n: int, use_netns: Optional[bool] = None):
        self.dir = Path(tempfile.mkdtemp(prefix="taskpool-sshd-"))
        self.dir.chmod(0o700)
        self.use_netns = namespaces_work() if use_netns is None else use_netns
        SshdHosts._count += 1
        self.serial = SshdHosts._count % 10
        self.hosts: List[Host] = []
        try:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation
            for key in ("host_key", "id"):
                r = _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "taskpool-test",
                          "-f", str(self.dir / key)])
                if r.returncode != 0:
                    raise RuntimeError(f"ssh-keygen: {r.stderr.decode()}")
            shutil.copy(self.dir / "id.pub", self.dir / "authorized_keys")
            self.ssh_config = self.dir / "ssh_config"
            self.ssh_config.write_text(f"""Host *
  IdentityFile {self.dir}/id
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 5
""")
            for i in range(1, n + 1):
                self.hosts.append(Host(self, i))
        except BaseException:
            self.close()
            raise

    @property
    def ssh_command(self) -> str:
        """The --ssh value: ssh with the generated config."""
        return f"ssh -F {self.dir}/ssh_config"

    def ssh(self, host: Host, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Runs `command` on `host` with a plain ssh (to look at the host from the test)."""
        argv = ["ssh", "-F", str(self.ssh_config), "-p", str(host.port), f"root@{host.address}",
                command]
        return _run(argv, timeout=timeout)

    def close(self) -> None:
        for host in self.hosts:
            host.close()
        self.hosts = []
        shutil.rmtree(self.dir, True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
