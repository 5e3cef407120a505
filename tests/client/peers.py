"""Real FTP servers for the client's tests: pasv, pyftpdlib (plain and TLS) and vsftpd."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

with warnings.catch_warnings():  # pyftpdlib imports asyncore, deprecated in 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

USER, PASSWORD = "bob", "b0b-pw"
VSFTPD_USER, VSFTPD_PASSWORD = "pasvclient", "pasvclient-pw"


@dataclass
class Peer:
    """A server under test: where it listens, the account, and its files on disk."""

    name: str
    host: str
    port: int
    user: str
    password: str
    root: Path
    owner: tuple[int, int] | None = None

    def put(self, rel: str, data: bytes) -> Path:
        """Place a file in the server's root (owned by the server's user where that matters)."""
        path = self.root / rel
        made = [p for p in reversed(path.parents) if p.is_relative_to(self.root) and not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if self.owner is not None:
            for item in [*made, path]:
                os.chown(item, *self.owner)
        return path

    def url(self, path: str = "/", scheme: str = "ftp") -> str:
        return f"{scheme}://{self.user}:{self.password}@{self.host}:{self.port}{path}"


class PyftpdServer:
    """pyftpdlib's FTPServer in a thread on 127.0.0.1, port 0."""

    def __init__(self, root: Path, handler: type[FTPHandler] = FTPHandler, **attrs: Any) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
        handler_cls = type("Handler", (handler,), {"authorizer": authorizer, **attrs})
        self.server = FTPServer(("127.0.0.1", 0), handler_cls)
        self.port = int(self.server.socket.getsockname()[1])
        self.root = root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pyftpdlib", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self.server.close_all()

    def peer(self) -> Peer:
        return Peer("pyftpdlib", "127.0.0.1", self.port, USER, PASSWORD, self.root)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def pyftpd_tls(root: Path, certfile: Path) -> PyftpdServer:
    """pyftpdlib's TLS_FTPHandler (explicit FTPS), TLS required on control and data."""
    return PyftpdServer(
        root,
        TLS_FTPHandler,
        certfile=str(certfile),
        ssl_context=None,
        tls_control_required=True,
        tls_data_required=True,
    )


VSFTPD_CONF = """\
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
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
xferlog_enable=NO
"""

VSFTPD_TLS = """\
ssl_enable=YES
rsa_cert_file={cert}
rsa_private_key_file={key}
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=YES
implicit_ssl={implicit}
ssl_ciphers=HIGH
"""


def vsftpd_unavailable() -> str:
    """Why vsftpd cannot run here ("" when it can)."""
    if shutil.which("vsftpd") is None and not Path("/usr/sbin/vsftpd").exists():
        return "vsftpd is not installed (make test installs it with apt-get)"
    if os.geteuid() != 0:
        return "vsftpd tests need root (a local Linux user and chroot)"
    return ""


def _unix_user() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(VSFTPD_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", VSFTPD_USER], check=True)
        pw = pwd.getpwnam(VSFTPD_USER)
    line = f"{VSFTPD_USER}:{VSFTPD_PASSWORD}\n".encode()
    subprocess.run(["chpasswd"], input=line, check=True)
    return pw.pw_uid, pw.pw_gid


def wait_listening(proc: subprocess.Popen[bytes], port: int, name: str) -> None:
    """Until a server child process listens on 127.0.0.1:``port``. Read from /proc/net/tcp
    rather than by connecting: a probe connection would hold one of the server's session slots
    (max_clients, max_per_ip) for a moment after it closed."""
    wanted = f"0100007F:{port:04X}"
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A: LISTEN
                return
        time.sleep(0.02)  # polling for the listener, bounded by the deadline
    raise RuntimeError(f"{name} did not start listening")


class Vsftpd:
    """vsftpd as a child process with a generated config; TLS when cert/key are given, and
    ``extra`` config lines (e.g. "max_per_ip=1\n") for a server misconfigured on purpose."""

    def __init__(
        self,
        passive: tuple[int, int],
        tls: tuple[Path, Path] | None = None,
        implicit: bool = False,
        extra: str = "",
    ) -> None:
        self.uid, self.gid = _unix_user()
        # Not below pytest's tmp_path: vsftpd's user must be able to reach its root (0700 parents).
        self.workdir = workdir = Path(tempfile.mkdtemp(prefix="pasv-vsftpd-"))
        workdir.chmod(0o755)
        self.root = workdir / "root"
        self.root.mkdir(parents=True)
        os.chown(self.root, self.uid, self.gid)
        empty = workdir / "empty"
        empty.mkdir(mode=0o755)
        self.port = free_port()
        conf = VSFTPD_CONF.format(
            port=self.port, root=self.root, empty=empty, low=passive[0], high=passive[1]
        )
        if tls is not None:
            conf += VSFTPD_TLS.format(cert=tls[0], key=tls[1], implicit="YES" if implicit else "NO")
        conf += extra  # settings of a test (a limit, a mode turned off); later lines win
        path = workdir / "vsftpd.conf"
        path.write_text(conf)
        path.chmod(0o600)
        binary = shutil.which("vsftpd") or "/usr/sbin/vsftpd"
        self.log = (workdir / "vsftpd.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        try:
            wait_listening(self.proc, self.port, "vsftpd")
        except BaseException:
            self.stop()
            raise

    def own(self, path: Path) -> None:
        """Give files made by the test to vsftpd's user."""
        for item in [path, *path.rglob("*")]:
            os.chown(item, self.uid, self.gid)

    def peer(self) -> Peer:
        return Peer(
            "vsftpd", "127.0.0.1", self.port, VSFTPD_USER, VSFTPD_PASSWORD, self.root,
            (self.uid, self.gid),
        )  # fmt: skip

    def stop(self) -> None:
        """Stop vsftpd and the session processes it forked (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
