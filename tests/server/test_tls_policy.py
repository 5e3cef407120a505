"""TLS policy: logins and data connections refused in clear where TLS is required."""

from __future__ import annotations

import ftplib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.config import ConfigError, TlsSection, load_settings
from pasv.policy.options import PolicySettings
from pasv.server.tlspolicy import TlsRequirement, tls_required
from tests.server.helpers import Raw, code_of
from tests.support.ftps import ftps_login
from tests.support.live import LiveServer, start_server


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[LiveServer]:
    """TLS required for login and data; anonymous allowed and exempt."""
    server = start_server(
        tmp_path / "data",
        tls={"require_login_tls": True, "require_data_tls": True},
        anonymous={"enabled": True},
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("settings", "anonymous", "expected"),
    [
        ({}, False, TlsRequirement(login=False, data=False)),
        ({"require_login_tls": True}, False, TlsRequirement(login=True, data=False)),
        ({"require_data_tls": True}, False, TlsRequirement(login=False, data=True)),
        (
            {"require_login_tls": True, "require_data_tls": True},
            True,
            TlsRequirement(login=False, data=False),
        ),
        (
            {"require_login_tls": True, "require_data_tls": True, "anonymous_exempt": False},
            True,
            TlsRequirement(login=True, data=True),
        ),
    ],
)
def test_tls_required_decision(
    settings: dict[str, bool], anonymous: bool, expected: TlsRequirement
) -> None:
    tls = TlsSection(**settings)
    policy = PolicySettings(
        require_tls_login=tls.require_login_tls, require_tls_data=tls.require_data_tls
    )
    assert tls_required(policy, tls, anonymous=anonymous) == expected


def test_tls_required_per_group_and_per_user(live: LiveServer) -> None:
    """The global default is off; a group requires TLS for login, one user for data too."""
    store = live.policy
    live.add_user("bob", "pw-bob")
    store.add_group("partners")
    store.set_groups("bob", ["partners"])
    store.set_option("group:partners", "require_tls_login", True)
    store.set_option("user:bob", "require_tls_data", True)
    live.reload_policy()
    with Raw.to(live) as raw:
        reply = raw.cmd("USER bob")  # refused before any password is sent
        assert reply.code == 530 and "TLS required" in reply.text
        raw.login()  # alice (no group) still logs in in clear
    ftp = ftps_login(live, user="bob", password="pw-bob", prot_p=False)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.nlst()  # bob's data must be protected
    assert code_of(info.value) == 534
    ftp.prot_p()
    assert ftp.nlst() == []
    store.set_option("user:bob", "require_tls_login", False)  # the user's own value wins
    live.reload_policy()
    with Raw.to(live) as raw:
        assert raw.cmd("USER bob").code == 331


def test_plaintext_login_is_refused_and_the_password_never_checked(strict: LiveServer) -> None:
    with Raw.to(strict) as raw:
        reply = raw.cmd("USER alice")
        assert reply.code == 530
        assert "TLS required" in reply.text and "AUTH TLS" in reply.text
        # the password is not taken: no login is pending, so no failure counts either
        for _ in range(strict.settings.login.max_failures + 1):
            assert raw.cmd("PASS wrong").code == 503
        assert raw.cmd("NOOP").code == 200  # not closed for failed logins: none was processed


def test_login_over_tls_works_where_required(strict: LiveServer) -> None:
    ftp = ftps_login(strict)
    ftp.storbinary("STOR f.bin", io.BytesIO(b"data" * 1000))
    assert (strict.files / "f.bin").read_bytes() == b"data" * 1000


def test_prot_c_refused_where_prot_p_required(strict: LiveServer) -> None:
    ftp = ftps_login(strict)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("PROT C")
    assert code_of(info.value) == 534
    assert "PROT P" in str(info.value)
    assert ftp.nlst() == []  # still PROT P: listings keep working


def test_transfer_without_prot_p_is_refused_before_any_data(strict: LiveServer) -> None:
    (strict.files / "f.bin").write_bytes(b"secret")
    ftp = ftps_login(strict, prot_p=False)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.retrbinary("RETR f.bin", lambda chunk: None)
    assert code_of(info.value) == 534
    assert "PROT P" in str(info.value)


def test_anonymous_is_exempt_by_default(strict: LiveServer) -> None:
    (strict.settings.anonymous_root / "pub.txt").write_bytes(b"public")
    ftp = strict.connect()
    ftp.login("anonymous", "guest@example.com")
    chunks: list[bytes] = []
    ftp.retrbinary("RETR pub.txt", chunks.append)
    assert chunks == [b"public"]


def test_anonymous_exemption_can_be_withdrawn(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data",
        tls={"require_login_tls": True, "anonymous_exempt": False},
        anonymous={"enabled": True},
    )
    try:
        with Raw.to(server) as raw:
            reply = raw.cmd("USER anonymous")
            assert reply.code == 530 and "TLS required" in reply.text
    finally:
        server.stop()


def test_data_tls_alone_lets_plain_logins_in(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", tls={"require_data_tls": True})
    try:
        ftp = server.login()
        with pytest.raises(ftplib.error_perm) as info:
            ftp.nlst()
        assert code_of(info.value) == 534
    finally:
        server.stop()


def test_requiring_tls_while_it_is_off_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"tls": {"enabled": False, "require_login_tls": True}}, environ={})
    assert "tls:" in str(info.value) and "disabled" in str(info.value)


def test_stor_without_prot_p_leaves_the_file_as_it_was(strict: LiveServer) -> None:
    (strict.files / "kept.txt").write_bytes(b"precious")
    ftp = ftps_login(strict, prot_p=False)
    ftp.sendcmd("EPSV")
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("STOR kept.txt")
    assert code_of(info.value) == 534
    assert (strict.files / "kept.txt").read_bytes() == b"precious"  # not truncated


@pytest.mark.parametrize("command", ["APPE new.txt", "STOU"])
def test_upload_without_prot_p_makes_no_file(strict: LiveServer, command: str) -> None:
    ftp = ftps_login(strict, prot_p=False)
    ftp.sendcmd("EPSV")
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd(command)
    assert code_of(info.value) == 534
    assert list(strict.files.iterdir()) == []
