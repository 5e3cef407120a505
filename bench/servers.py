"""Start, check and stop the servers under test, all on 127.0.0.1, and read their memory."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.files import Sizes, populate
from bench.ftpclient import FtpClient
from bench.policy import write_policy

HOST = "127.0.0.1"
USER, PASSWORD = "bench", "benchpw"
VSFTPD_USER = "pasvbench"
ORDER = ("pasv", "pyftpdlib", "vsftpd", "proftpd", "pure-ftpd", "pasv-policy")


def passive_ranges(base: int, span: int) -> dict[str, tuple[int, int]]:
    """Distinct passive ranges of equal size, one per server, 1000 ports apart (or more)."""
    stride = max(1000, span + 100)
    return {name: (base + i * stride, base + i * stride + span - 1) for i, name in enumerate(ORDER)}


def ephemeral_overlap(ranges: dict[str, tuple[int, int]]) -> str:
    """A warning when passive ranges fall inside the kernel's ephemeral (client) port range."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return ""
    hit = [n for n, (a, b) in ranges.items() if a <= high and b >= low]
    return f"passive ranges of {hit} overlap the ephemeral ports {low}-{high}" if hit else ""


MAIN = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """One server under test and what we know about its state."""

    name: str
    port: int = 0
    tls_port: int = 0  # where AUTH TLS works (pasv: the same port); 0 = no FTPS measures
    passive: tuple[int, int] = (0, 0)
    user: str = USER
    password: str = PASSWORD
    root: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    status: str = "not started"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def stderr_tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def info(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "port": self.port,
            "passive_ports": "{}-{}".format(*self.passive),
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tls_files(workdir: Path) -> tuple[Path, Path]:
    """One self-signed EC P-256 certificate and key that every FTPS server under test uses."""
    try:
        from pasv.server.tls import self_signed
    except ImportError:  # pasv not installed: its source tree
        sys.path.insert(0, str(MAIN / "src"))
        from pasv.server.tls import self_signed

    cert, key, _ = self_signed(workdir / "tls")
    return cert, key


def _pasv_env() -> dict[str, str]:
    """The environment for pasv: src/ on the path, in case pasv is not installed; no admin API
    (its port 8021 is one for the machine, and the bench measures FTP alone)."""
    path = [str(MAIN / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    # metrics stay on (the default) but on a port from the kernel, not 9121
    env = {"PASV_METRICS_LISTEN": "127.0.0.1:0", "PASV_ADMIN_ENABLED": "false"}
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **env}


def _spawn(srv: Server, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
    srv.log = workdir / f"{srv.name}.stderr.log"
    with srv.log.open("wb") as err:
        srv.proc = subprocess.Popen(
            argv, cwd=MAIN, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            start_new_session=True, env=env,
        )  # fmt: skip


def _wait_ready(srv: Server, timeout: float = 20.0) -> None:
    """Wait until the server answers with a 220 banner and a login works."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if srv.proc is not None and srv.proc.poll() is not None:
            last = (srv.stderr_tail(1) or "no output").strip()
            srv.status = "failed to start"
            srv.reason = f"exited with {srv.proc.returncode}: {last[:160]}"
            return
        try:
            c = FtpClient(HOST, srv.port, timeout=5)
        except OSError as e:
            last = str(e)
            time.sleep(0.1)
            continue
        try:
            c.login(srv.user, srv.password)
            c.quit()
            srv.status = "ok"
        except Exception as e:
            srv.status, srv.reason = "login failed", f"{type(e).__name__}: {e}"
            c.close()
        return
    srv.status, srv.reason = "failed to start", f"not answering after {timeout:.0f}s ({last})"


def start_pasv(
    workdir: Path,
    tpl: Path,
    sizes: Sizes,
    passive: tuple[int, int],
    workers: int | None,
    command: list[str] | None = None,
    name: str = "pasv",
    settings: dict[str, str] | None = None,
    prepare: Callable[[Path], None] | None = None,
) -> Server:
    """`python -m pasv serve` (or `command`) in its own data dir, with user bench/benchpw;
    as ``pasv-policy``, with the bench policy (50 rules, groups, IP rules) loaded;
    ``settings`` as PASV_<SECTION>_<KEY> environment variables; ``prepare`` is called with the
    data dir (its store made) before the server starts."""
    srv = Server(name, port=free_port(), passive=passive)
    data = workdir / f"{name}-data"
    data.mkdir()
    cmd = command or [sys.executable, "-m", "pasv"]
    setup = [[*cmd, "user", "add", USER, "--password", PASSWORD, "--data-dir", str(data)]]
    if name == "pasv-policy":
        document = write_policy(workdir / "policy.toml", USER)
        setup.append([*cmd, "policy", "import", str(document), "--data-dir", str(data)])
    for step in setup:
        try:
            r = subprocess.run(
                step, cwd=MAIN, capture_output=True, timeout=60, check=False, env=_pasv_env()
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            srv.status, srv.reason = "failed to start", f"{step[3]}: {e}"
            return srv
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()[-8:]
            srv.status, srv.reason = "failed to start", f"{step[3]} failed: " + " | ".join(tail)
            return srv
    if prepare is not None:
        prepare(data)
    srv.root = data / "files"
    populate(tpl, srv.root, sizes)
    low, high = passive
    argv = [*cmd, "serve", "--data-dir", str(data), "--host", HOST]
    argv += ["--port", str(srv.port), "--passive-ports", f"{low}-{high}"]
    argv += ["--log-level", "warning"]  # as pyftpdlib runs here: no per-login/transfer log lines
    cert, key = tls_files(workdir)
    argv += ["--certificate", str(cert), "--key", str(key), "--implicit-port", str(free_port())]
    srv.tls_port = srv.port
    if workers is not None:
        argv += ["--workers", str(workers)]
    _spawn(srv, argv, workdir, env=_pasv_env() | (settings or {}))
    _wait_ready(srv)
    return srv


def start_pyftpdlib(
    workdir: Path, tpl: Path, sizes: Sizes, passive: tuple[int, int], workers: int | None
) -> Server:
    """pyftpdlib's FTPServer and default FTPHandler, via bench/pyftpd_server.py."""
    srv = Server("pyftpdlib", port=free_port(), passive=passive)
    srv.root = workdir / "pyftpdlib-files"
    populate(tpl, srv.root, sizes)
    low, high = passive
    argv = [sys.executable, "-m", "bench.pyftpd_server", "--dir", str(srv.root)]
    argv += ["--port", str(srv.port), "--passive-ports", f"{low}-{high}"]
    argv += ["--workers", str(workers or 1)]
    cert, key = tls_files(workdir)
    srv.tls_port = free_port()
    argv += ["--tls-port", str(srv.tls_port), "--certfile", str(cert), "--keyfile", str(key)]
    _spawn(srv, argv, workdir)
    _wait_ready(srv)
    return srv


VSFTPD_CONF = """\
listen=YES
listen_ipv6=NO
listen_address={host}
listen_port={port}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root={root}
chroot_local_user=YES
allow_writeable_chroot=YES
secure_chroot_dir={empty}
pam_service_name=vsftpd
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
pasv_enable=YES
pasv_min_port={low}
pasv_max_port={high}
connect_from_port_20=NO
max_clients=0
max_per_ip=0
use_sendfile=YES
xferlog_enable=NO
dirmessage_enable=NO
ftpd_banner=vsftpd bench server ready.
"""


# vsftpd's FTPS settings for the FTPS rows: TLS offered but not required, so the plain rows
# are unchanged; each data connection must resume the control connection's TLS session.
VSFTPD_TLS = """\
ssl_enable=YES
allow_anon_ssl=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=YES
ssl_ciphers=HIGH
rsa_cert_file={cert}
rsa_private_key_file={key}
"""


def _ensure_unix_user() -> tuple[int, int]:
    """Create (once) the local Linux user vsftpd logs in, and set its password."""
    try:
        pw = pwd.getpwnam(VSFTPD_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", VSFTPD_USER], check=True)
        pw = pwd.getpwnam(VSFTPD_USER)
    subprocess.run(["chpasswd"], input=f"{VSFTPD_USER}:{PASSWORD}\n".encode(), check=True)
    return pw.pw_uid, pw.pw_gid


def start_vsftpd(workdir: Path, tpl: Path, sizes: Sizes, passive: tuple[int, int]) -> Server:
    """vsftpd with a generated config, logging in as a local Linux user through PAM."""
    srv = Server("vsftpd", user=VSFTPD_USER, passive=passive)
    binary = shutil.which("vsftpd") or next(
        (p for p in ("/usr/sbin/vsftpd", "/sbin/vsftpd") if os.path.exists(p)), None
    )
    if binary is None:
        srv.status, srv.reason = "skipped", "vsftpd binary not found"
        return srv
    if os.geteuid() != 0:
        srv.status, srv.reason = "skipped", "not root: cannot create the local user vsftpd needs"
        return srv
    try:
        owner = _ensure_unix_user()
    except (OSError, subprocess.CalledProcessError) as e:
        srv.status, srv.reason = "skipped", f"cannot create user {VSFTPD_USER}: {e}"
        return srv
    srv.port = free_port()
    srv.root = workdir / "vsftpd-files"
    populate(tpl, srv.root, sizes, owner=owner)
    empty = workdir / "vsftpd-empty"
    empty.mkdir(mode=0o755)
    low, high = passive
    conf = workdir / "vsftpd.conf"
    cert, key = tls_files(workdir)
    conf.write_text(
        VSFTPD_CONF.format(host=HOST, port=srv.port, root=srv.root, empty=empty, low=low, high=high)
        + VSFTPD_TLS.format(cert=cert, key=key)
    )
    srv.tls_port = srv.port
    conf.chmod(0o600)
    _spawn(srv, [binary, str(conf)], workdir)
    _wait_ready(srv)
    if srv.status == "login failed":
        srv.reason += " (PAM service 'vsftpd': check /etc/pam.d/vsftpd, /etc/ftpusers, /etc/shells)"
    return srv


def stop(srv: Server) -> None:
    """Stop the server's whole process group (we started it in its own session)."""
    if srv.proc is None or srv.proc.poll() is not None:
        return
    pgid = srv.proc.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
        srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        srv.proc.wait()
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):  # session children that outlived the parent
        os.killpg(pgid, signal.SIGKILL)


def tree_pids(root: int) -> list[int]:
    """The pid and all its descendants, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by the processes of the tree: the live ones,
    and (in their parents' counts of waited-for children) those that have ended, so that a
    forking server's session processes still count after they exit."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(sum of VmRSS KiB, sum of Pss KiB, process count) over the process tree."""
    pids = tree_pids(root)
    rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss, pss, len(pids)
