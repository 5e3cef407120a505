"""`pasv serve` behind a load balancer: PROXY headers (v1, v2) from the trusted balancer name the
client that policy sees; from anywhere else, or malformed, they are refused."""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.nodes import Node, nodes, start_node, stop_all
from tests.cli.support import Pasv
from tests.support.ftps import insecure_context
from tests.support.proxied import ProxiedFTP, ProxiedFTPS, header
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.protocol.proxyheader import V2_SIGNATURE

__all__ = ["nodes"]

USER, PASSWORD = "alice", "pw-alice"
HOST = "127.0.0.1"  # where the node listens
BALANCER = "127.0.0.1"  # the trusted balancer: connections to HOST come from here
ELSEWHERE = "127.0.0.2"  # any other address
CLIENT = ("127.0.0.77", 40000)  # the client a header names (loopback: never contacted but PORT)


def _config(tmp: Path, data_header: bool = True) -> Path:
    path = tmp / "pasv.toml"
    path.write_text(
        "[proxy]\n"
        "enabled = true\n"
        f'trusted = ["{BALANCER}/32"]\n'
        "header_timeout = 1.0\n"
        f"data_header = {'true' if data_header else 'false'}\n"
        "[timeouts]\n"
        "data_connect = 3.0\n"
        "[login]\n"
        "failure_delay = 0.05\n",
        encoding="utf-8",
    )
    return path


def _started(
    tmp: Path, procs: list[subprocess.Popen[str]], *policy: str, data_header: bool = True
) -> tuple[Pasv, Node]:
    admin = Pasv(tmp / "data")
    admin.ok("user", "add", USER, "--password", PASSWORD)
    if policy:
        admin.ok("policy", "set", *policy)
    return admin, start_node(admin.data, procs, "--config", str(_config(tmp, data_header)))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pasv, Node]]:
    """One node for the tests that change no policy (each uses its own client addresses)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        yield _started(tmp_path_factory.mktemp("proxy"), procs)
    finally:
        stop_all(procs)


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pasv, Node]]:
    """A node whose policy is keyed on addresses: one session per address, bans after two
    failed logins (loopback not exempt), a deny rule and a ban by hand; set before it starts."""
    procs: list[subprocess.Popen[str]] = []
    tmp = tmp_path_factory.mktemp("policed")
    admin = Pasv(tmp / "data").init()
    admin.ok("ip", "add", "deny", "127.0.0.66")
    admin.ok("ban", "add", "127.0.0.95", "--reason", "Banned by hand")
    try:
        yield _started(tmp, procs, "ban_allowlist=", "hammer_failures=2", "max_sessions_per_ip=1")
    finally:
        stop_all(procs)


@pytest.fixture
def pasv(shared: tuple[Pasv, Node]) -> Pasv:
    return shared[0]


@pytest.fixture
def node(shared: tuple[Pasv, Node]) -> Node:
    return shared[1]


@contextlib.contextmanager
def _proxied(node: Node, client: tuple[str, int] | None, **kw: object) -> Iterator[ProxiedFTP]:
    ftp = ProxiedFTP(client, **kw)  # type: ignore[arg-type]
    try:
        ftp.connect(HOST, node.port)
        yield ftp
    finally:
        ftp.close()


def _seen_from(ftp: ftplib.FTP) -> str:
    """The client address STAT shows (" (via load balancer B)" checked when it is not B)."""
    status = ftp.sendcmd("STAT")
    found = re.search(r" from (\S+) port (\d+)( \(via load balancer ([^)]+)\))?\n", status)
    assert found, status
    if found.group(1) != BALANCER and found.group(1) != ELSEWHERE:
        assert found.group(4) == BALANCER, status
    else:
        assert found.group(3) is None, status
    return found.group(1)


def _raw(source: str, port: int, first: bytes) -> tuple[str, bytes]:
    """Connect from ``source``, send ``first``, and read until the server closes: the greeting
    (if any) and the reply to what was sent."""
    with socket.create_connection((HOST, port), 10, source_address=(source, 0)) as sock:
        sock.sendall(first)
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
    return got.decode("utf-8", "replace"), got


# --- the address policy sees ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "client"),
    [
        (1, ("127.0.0.77", 40001)),
        (2, ("127.0.0.78", 40002)),
        (1, ("::ffff:127.0.0.79", 40003)),
        (2, ("2001:db8::7", 40004)),  # IPv6 in a header: only data, never contacted
    ],
)
def test_the_header_names_the_client(node: Node, version: int, client: tuple[str, int]) -> None:
    with _proxied(node, client, version=version) as ftp:
        assert ftp.welcome.startswith("220 ")
        ftp.login(USER, PASSWORD)
        expected = client[0].removeprefix("::ffff:")
        assert _seen_from(ftp) == expected
        ftp.quit()


def test_a_v2_local_header_keeps_the_balancers_address(node: Node) -> None:
    """A balancer's own health check (v2 LOCAL) is served as itself."""
    with _proxied(node, None, version=2) as ftp:
        assert ftp.welcome.startswith("220 ")
        assert _seen_from(ftp) == BALANCER


def test_an_ip_deny_rule_is_checked_on_the_header_address(policed: tuple[Pasv, Node]) -> None:
    _, node = policed
    with pytest.raises(ftplib.error_temp) as refused, _proxied(node, ("127.0.0.66", 40010)):
        pass
    assert str(refused.value).startswith("421 ") and "127.0.0.66" in str(refused.value)
    with _proxied(node, ("127.0.0.67", 40011)) as ftp:  # same balancer, another client
        ftp.login(USER, PASSWORD)


def test_the_per_ip_limit_counts_the_header_address(policed: tuple[Pasv, Node]) -> None:
    _, node = policed
    with _proxied(node, ("127.0.0.80", 40020)) as first, _proxied(node, ("127.0.0.81", 1)) as other:
        first.login(USER, PASSWORD)
        other.login(USER, PASSWORD)  # another client behind the same balancer: let in
        with _proxied(node, ("127.0.0.80", 40021)) as second:
            with pytest.raises(ftplib.error_perm) as refused:
                second.login(USER, PASSWORD)
            assert str(refused.value) == (
                "530 Not logged in, only 1 session(s) from same IP allowed at a time."
            )


def test_failed_logins_ban_the_header_address_not_the_balancer(
    policed: tuple[Pasv, Node],
) -> None:
    pasv, node = policed
    hammer = ("127.0.0.90", 40030)
    with _proxied(node, hammer) as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            ftp.login(USER, "wrong")
        with pytest.raises(ftplib.error_temp, match=r"^421 Too many failed logins"):
            ftp.login(USER, "wrong")
    banned = pytest.raises(ftplib.error_temp, match=r"^421 Too many failed logins .*banned")
    with banned, _proxied(node, (hammer[0], 40031)):
        pass
    with _proxied(node, ("127.0.0.91", 40032)) as ftp:  # the balancer itself is not banned
        ftp.login(USER, PASSWORD)
    bans = pasv.ok("ban", "list")
    assert "127.0.0.90" in bans and f"{BALANCER} " not in bans


def test_a_ban_by_hand_on_the_header_address(policed: tuple[Pasv, Node]) -> None:
    _, node = policed
    banned = pytest.raises(ftplib.error_temp, match=r"^421 Banned by hand; banned for")
    with banned, _proxied(node, ("127.0.0.95", 40040), version=2):
        pass
    with _proxied(node, ("127.0.0.96", 40041), version=2) as ftp:
        ftp.login(USER, PASSWORD)


def test_the_health_check_sends_a_local_header(node: Node) -> None:
    args = ["health", HOST, "--port", str(node.port), "--proxy-header"]
    result = CliRunner().invoke(app, args)
    assert (result.exit_code, result.stdout.strip()) == (0, "ready: 220 pasv FTP server ready.")


# --- refused ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [1, 2])
def test_a_header_from_an_address_that_is_not_a_balancer_is_refused(
    node: Node, version: int
) -> None:
    mark = node.mark()
    text, _ = _raw(ELSEWHERE, node.port, header(version, CLIENT, (HOST, node.port)))
    greeting, refusal = text.splitlines()[:2]
    assert greeting.startswith("220 ")  # a direct client is greeted at once ...
    assert refusal == (  # ... and refused when what it sends is a PROXY header
        "421 PROXY header refused: your address is not a configured load balancer."
    )
    node.wait_for(
        rf"{ELSEWHERE} refused: it sent a PROXY header but is not a trusted balancer", since=mark
    )


def test_a_direct_client_elsewhere_is_served_as_itself(node: Node) -> None:
    with ftplib.FTP(timeout=10, source_address=(ELSEWHERE, 0)) as ftp:
        ftp.connect(HOST, node.port)
        ftp.login(USER, PASSWORD)
        assert _seen_from(ftp) == ELSEWHERE


def test_the_balancer_without_a_header_is_refused(node: Node) -> None:
    mark = node.mark()
    with socket.create_connection((BALANCER, node.port), 10) as sock:  # sends nothing
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
    assert got == b"421 No PROXY protocol header within 1 seconds.\r\n"  # no 220 before it
    node.wait_for(
        r"127\.0\.0\.1 refused: no PROXY header from the balancer within 1 seconds", since=mark
    )


MALFORMED = {
    "not a header": b"USER alice\r\n",
    "v1 unknown protocol": b"PROXY UDP4 127.0.0.77 127.0.0.1 1 2\r\n",
    "v1 bad address": b"PROXY TCP4 127.0.0.777 127.0.0.1 1 2\r\n",
    "v1 IPv6 as TCP4": b"PROXY TCP4 ::1 127.0.0.1 1 2\r\n",
    "v1 bad port": b"PROXY TCP4 127.0.0.77 127.0.0.1 65536 2\r\n",
    "v1 missing field": b"PROXY TCP4 127.0.0.77 127.0.0.1 1\r\n",
    "v1 too long": b"PROXY TCP4 " + b"1" * 120 + b"\r\n",
    "v1 bare LF": b"PROXY TCP4 127.0.0.77 127.0.0.1 1 2\n",
    "v1 not ASCII": "PROXY TCP4 127.0.0.77 127.0.0.1 1 2é\r\n".encode(),
    "v2 version 3": V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),
    "v2 command 2": V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),
    "v2 short address block": V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4),
    "v2 UDP": V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12),
    "v2 unix": V2_SIGNATURE + b"\x21\x31\x00\xd8" + bytes(216),
    "v2 too long": V2_SIGNATURE + b"\x21\x11\xff\xff" + bytes(12),
    "v2 bad signature": V2_SIGNATURE[:-1] + b"X" + b"\x21\x11\x00\x0c" + bytes(12),
}


def test_malformed_headers_are_refused_and_the_node_goes_on(node: Node) -> None:
    for name, first in MALFORMED.items():
        mark = node.mark()
        text, _ = _raw(BALANCER, node.port, first)
        assert text.startswith("421 Malformed PROXY protocol header: "), (name, text)
        assert text.count("\r\n") == 1, (name, text)  # one reply, no greeting, no traceback
        node.wait_for(r"127\.0\.0\.1 refused: malformed PROXY header from the balancer", since=mark)
    with _proxied(node, CLIENT) as ftp:  # the node still serves
        ftp.login(USER, PASSWORD)
    assert not any("Traceback" in line for line in node.lines)


def test_a_header_cut_short_by_the_balancer_closing(node: Node) -> None:
    with socket.create_connection((BALANCER, node.port), 10) as sock:
        sock.sendall(b"PROXY TCP4 127.0.0")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(4096) == b""  # closed, nothing said
    with _proxied(node, CLIENT) as ftp:
        ftp.login(USER, PASSWORD)


# --- data connections behind the balancer ---------------------------------------------------
def _payload(pasv: Pasv, name: str, size: int) -> tuple[bytes, str]:
    data = os.urandom(size)
    path = pasv.data / "files" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data, hashlib.sha256(data).hexdigest()


def test_passive_transfers_through_the_balancer(pasv: Pasv, node: Node) -> None:
    data, digest = _payload(pasv, "down.bin", 3 * 1024 * 1024 + 17)
    with _proxied(node, CLIENT, version=2, data_client=CLIENT) as ftp:
        ftp.login(USER, PASSWORD)
        got = io.BytesIO()
        assert ftp.retrbinary("RETR down.bin", got.write).startswith("226 ")
        assert hashlib.sha256(got.getvalue()).hexdigest() == digest
        assert ftp.storbinary("STOR up.bin", io.BytesIO(data)).startswith("226 ")
    assert hashlib.sha256((pasv.data / "files" / "up.bin").read_bytes()).hexdigest() == digest


def test_explicit_ftps_through_the_balancer(pasv: Pasv, node: Node) -> None:
    """The header in clear before the greeting, then AUTH TLS; on the data connection the
    header, then the TLS handshake resuming the control connection's session."""
    _, digest = _payload(pasv, "tls.bin", 2 * 1024 * 1024 + 5)
    ftp = ProxiedFTPS(CLIENT, insecure_context())
    try:
        ftp.connect(HOST, node.port)
        ftp.auth()
        ftp.login(USER, PASSWORD)
        ftp.prot_p()
        got = io.BytesIO()
        assert ftp.retrbinary("RETR tls.bin", got.write).startswith("226 ")
        assert hashlib.sha256(got.getvalue()).hexdigest() == digest
        assert _seen_from(ftp) == CLIENT[0]
        ftp.quit()
    finally:
        ftp.close()


def test_a_data_connection_naming_another_client_is_refused(pasv: Pasv, node: Node) -> None:
    _payload(pasv, "down.bin", 1000)
    mark = node.mark()
    with _proxied(node, CLIENT, data_client=("127.0.0.78", 40000)) as ftp:
        ftp.login(USER, PASSWORD)
        with pytest.raises(ftplib.error_temp, match=r"^425 Can't open data connection"):
            ftp.sendcmd("TYPE I")
            ftp.retrbinary("RETR down.bin", lambda _: None)
    node.wait_for(
        r"refused data connection to port \d+ from 127\.0\.0\.1: its PROXY header names "
        r"127\.0\.0\.78, the control connection is from 127\.0\.0\.77",
        since=mark,
    )


def test_a_data_connection_from_the_balancer_without_a_header_is_refused(
    pasv: Pasv, node: Node
) -> None:
    _payload(pasv, "down.bin", 1000)
    mark = node.mark()
    with _proxied(node, CLIENT) as ftp:  # data connections without a header
        ftp.login(USER, PASSWORD)
        ftp.sendcmd("TYPE I")
        with pytest.raises(ftplib.error_temp, match=r"^425 Can't open data connection"):
            ftp.retrbinary("RETR down.bin", lambda _: None)
    node.wait_for(
        r"refused data connection to port \d+ from 127\.0\.0\.1: no PROXY header", since=mark
    )


def test_active_mode_goes_to_the_header_address_only(pasv: Pasv, node: Node) -> None:
    data, digest = _payload(pasv, "down.bin", 200_000)
    with socket.create_server((CLIENT[0], 0)) as listener, _proxied(node, CLIENT) as ftp:
        ftp.login(USER, PASSWORD)
        port = listener.getsockname()[1]
        with pytest.raises(ftplib.error_perm, match=r"^501 Rejected PORT to 127\.0\.0\.1"):
            ftp.sendcmd(f"PORT 127,0,0,1,{port >> 8},{port & 255}")
        ftp.sendcmd("TYPE I")
        ftp.sendcmd(f"PORT 127,0,0,77,{port >> 8},{port & 255}")
        ftp.putcmd("RETR down.bin")
        assert ftp.getresp().startswith("150 ")
        conn, (source, _) = listener.accept()
        assert source == HOST  # from the node itself, to the client the header named
        with conn:
            got = b""
            while chunk := conn.recv(65536):
                got += chunk
        assert ftp.voidresp().startswith("226 ")
    assert hashlib.sha256(got).hexdigest() == digest and len(got) == len(data)


def test_without_data_headers_the_same_balancer_is_enough(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    pasv, node = _started(tmp_path, nodes, data_header=False)
    data, _ = _payload(pasv, "down.bin", 100_000)
    with _proxied(node, CLIENT) as ftp:
        ftp.login(USER, PASSWORD)
        got = io.BytesIO()
        assert ftp.retrbinary("RETR down.bin", got.write).startswith("226 ")
        assert got.getvalue() == data


def test_curl_sends_a_v1_header(pasv: Pasv, node: Node, tmp_path: Path) -> None:
    """curl's --haproxy-protocol: the control connection's header (curl 7.88 sends one on the
    data connection too, naming itself)."""
    data, digest = _payload(pasv, "down.bin", 500_000)
    out = tmp_path / "got.bin"
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--haproxy-protocol",
            "--max-time",
            "30",
            "-o",
            str(out),
            f"ftp://{USER}:{PASSWORD}@{HOST}:{node.port}/down.bin",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == data and hashlib.sha256(out.read_bytes()).hexdigest() == digest
