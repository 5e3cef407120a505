"""ProFTPD and Pure-FTPd for the bench, run from their unpacked Debian packages, configured as
their documentation recommends for speed; and vsftpd's TLS settings for the FTPS rows."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.files import Sizes, populate
from bench.servers import (
    HOST,
    MAIN,
    PASSWORD,
    USER,
    VSFTPD_USER,
    Server,
    _ensure_unix_user,
    _spawn,
    _wait_ready,
    free_port,
)

# `make bench` unpacks both (they conflict with vsftpd as Debian packages): see the Makefile.
UNPACKED = MAIN / ".venv" / "debs" / "root"

# ProFTPD's "Tuning" notes: standalone, no reverse DNS lookups (mod_ident is not loaded),
# sendfile (the default), no transfer log, no wtmp, no delay table; limits high enough for the
# concurrent rows. Logins through /etc/shadow (mod_auth_unix), as on a default Debian install.
PROFTPD_CONF = """\
ServerType standalone
ServerName "proftpd bench"
ServerIdent on "proftpd bench server ready."
Port {port}
DefaultAddress {host}
SocketBindTight on
User nobody
Group nogroup
Umask 022
DefaultRoot {root}
AllowOverwrite on
ScoreboardFile {workdir}/proftpd.scoreboard
PidFile {workdir}/proftpd.pid
DelayTable none
WtmpLog off
UseReverseDNS off
RequireValidShell off
UseSendfile on
TransferLog none
SystemLog none
MaxInstances 5000
MaxClients none
MaxClientsPerHost none
MaxLoginAttempts 1000
TimeoutIdle 600
ListOptions "" maxfiles 2000000 maxdirs 100000
PassivePorts {low} {high}
"""


def _binary(relative: str) -> Path | None:
    path = UNPACKED / relative
    return path if path.exists() else None


def _unix_owner(srv: Server) -> tuple[int, int] | None:
    """The local user both log in as (created and given the bench password, as for vsftpd);
    None with the reason set when that is impossible."""
    if os.geteuid() != 0:
        srv.status, srv.reason = "skipped", "not root: cannot create the local user it needs"
        return None
    try:
        return _ensure_unix_user()
    except (OSError, subprocess.CalledProcessError) as e:
        srv.status, srv.reason = "skipped", f"cannot create user {VSFTPD_USER}: {e}"
        return None


def _prepare(
    srv: Server, relative: str, root: Path, tpl: Path, sizes: Sizes
) -> tuple[Path, tuple[int, int]] | None:
    """The unpacked binary and the local user's (uid, gid), with ``srv``'s port chosen and its
    files in ``root``; None with the reason set when the server cannot run here."""
    binary = _binary(relative)
    if binary is None:
        srv.status, srv.reason = "skipped", f"not unpacked into {UNPACKED} (make bench does it)"
        return None
    owner = _unix_owner(srv)
    if owner is None:
        return None
    srv.port = free_port()
    srv.root = root
    populate(tpl, srv.root, sizes, owner=owner)
    return binary, owner


def start_proftpd(workdir: Path, tpl: Path, sizes: Sizes, passive: tuple[int, int]) -> Server:
    """ProFTPD 1.3.8 in the foreground (-n), forking one process per session."""
    srv = Server("proftpd", user=VSFTPD_USER, passive=passive)
    ready = _prepare(srv, "usr/sbin/proftpd", workdir / "proftpd-files", tpl, sizes)
    if ready is None:
        return srv
    binary, _ = ready
    low, high = passive
    conf = workdir / "proftpd.conf"
    conf.write_text(
        PROFTPD_CONF.format(
            port=srv.port, host=HOST, root=srv.root, workdir=workdir, low=low, high=high
        )
    )
    _spawn(srv, [str(binary), "-n", "-q", "-c", str(conf)], workdir)
    _wait_ready(srv)
    return srv


def _pure_user(workdir: Path, root: Path, owner: tuple[int, int]) -> Path:
    """A Pure-FTPd virtual user bench/benchpw (pure-pw) whose home is ``root``: the puredb."""
    pure_pw = _binary("usr/bin/pure-pw")
    if pure_pw is None:
        raise FileNotFoundError("pure-pw is not unpacked")
    passwd, pdb = workdir / "pureftpd.passwd", workdir / "pureftpd.pdb"
    uid, gid = owner
    add = [str(pure_pw), "useradd", USER, "-u", str(uid), "-g", str(gid), "-d", str(root)]
    add += ["-f", str(passwd), "-F", str(pdb), "-m"]
    subprocess.run(add, input=f"{PASSWORD}\n{PASSWORD}\n".encode(), check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    # pure-pw hashes with argon2id at 127 passes (about 1 s per login here): the password field
    # takes any crypt(3) hash, so give it SHA-512-crypt, as Debian's shadow file had before
    # yescrypt; logins are then bound by the server, not by the hash.
    fast = subprocess.run(["openssl", "passwd", "-6", PASSWORD], check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()  # fmt: skip
    fields = passwd.read_text().strip().split(":")
    fields[1] = fast
    passwd.write_text(":".join(fields) + "\n")
    subprocess.run([str(pure_pw), "mkdb", str(pdb), "-f", str(passwd)], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    return pdb


def start_pureftpd(workdir: Path, tpl: Path, sizes: Sizes, passive: tuple[int, int]) -> Server:
    """Pure-FTPd 1.0.50 with a virtual user (its puredb, the documented fast authentication),
    chrooted, no syslog, no name lookups, client limits raised; it sends with sendfile."""
    srv = Server("pure-ftpd", passive=passive)
    root = workdir / "pureftpd-files"
    ready = _prepare(srv, "usr/sbin/pure-ftpd", root, tpl, sizes)
    if ready is None:
        return srv
    binary, owner = ready
    try:
        pdb = _pure_user(workdir, root, owner)
    except (OSError, subprocess.SubprocessError) as e:
        srv.status, srv.reason = "failed to start", f"pure-pw: {e}"
        return srv
    low, high = passive
    argv = [str(binary), "-S", f"{HOST},{srv.port}", "-l", f"puredb:{pdb}", "-E", "-A", "-H"]
    argv += ["-f", "none", "-p", f"{low}:{high}", "-c", "5000", "-C", "5000", "-I", "600"]
    argv += ["-L", "2000000:8", "-4"]
    _spawn(srv, argv, workdir)
    _wait_ready(srv)
    return srv
