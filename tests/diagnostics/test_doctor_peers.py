"""`pasv doctor` against other servers than pasv, each misconfigured one way: pyftpdlib and
vsftpd on loopback. The diagnosis, the server named, the exit status, in English and Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pasv.cli.main import app
from tests.client.fakes import ScriptedFtp
from tests.client.peers import Peer
from tests.diagnostics.doctor_support import Doctor, runner
from tests.diagnostics.peer_support import (
    NatRelay,
    proftpd,
    pure_ftpd,
    pyftpd,
    session_of,
    vsftpd,
)


def run(url: str, *args: str, lang: str = "en") -> Doctor:
    base = ["doctor", url, "--json", "--lang", lang, "--timeout", "5", "--netrc-file", "/none"]
    result = runner.invoke(app, [*base, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return Doctor(result, json.loads(result.stdout))


def _url(peer: Peer, port: int | None = None, password: str | None = None) -> str:
    secret = peer.password if password is None else password
    return f"ftp://{peer.user}:{secret}@{peer.host}:{port or peer.port}/"


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_pyftpdlib_per_ip_limit_stops_the_doctor(tmp_path: Path, lang: str) -> None:
    with pyftpd(tmp_path / "root", server={"max_cons_per_ip": 1}) as server:
        peer = server.peer()
        with session_of(peer):
            doctor = run(_url(peer), lang=lang)
    assert doctor.exit_code == 5
    banner = doctor.stage("banner")
    assert banner["kind"] == "session_limit_per_ip"
    assert "FTPServer.max_cons_per_ip" in banner["advice"]["causes"][-1]
    if lang == "zh-Hant":
        assert banner["advice"]["title"] == "同一地址的會話過多"
    # One connection, no login tried: nothing that could count towards a ban.
    assert doctor.report["probe"] == {
        "connections": 1, "failed_logins": 0, "stopped_at": "session_limit_per_ip"
    }  # fmt: skip
    assert list(doctor.statuses())[-1] == "stopped"


def test_pyftpdlib_wrong_password_is_tried_once(tmp_path: Path) -> None:
    failures: list[str] = []

    def on_login_failed(handler: object, username: str, password: str) -> None:
        failures.append(username)

    with pyftpd(tmp_path / "root", on_login_failed=on_login_failed) as server:
        doctor = run(_url(server.peer(), password="wrong"))
    assert doctor.exit_code == 3
    login = doctor.stage("login")
    assert login["kind"] == "login_incorrect" and "pyftpdlib" in login["advice"]["causes"][-1]
    assert failures == ["bob"] and doctor.report["probe"]["failed_logins"] == 1


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_pyftpdlib_refuses_port_behind_nat(tmp_path: Path, lang: str) -> None:
    with pyftpd(tmp_path / "root") as server:
        relay = NatRelay(server.peer().host, server.port)
        try:
            doctor = run(_url(server.peer(), relay.port), "--active", lang=lang)
        finally:
            relay.close()
    assert doctor.exit_code == 1
    port = doctor.stage("port")
    assert port["status"] == "fail" and port["kind"] == "active_foreign_address"
    assert "permit_foreign_addresses" in port["advice"]["causes"][-1]
    assert doctor.statuses()["epsv"] == doctor.statuses()["pasv"] == "skip"
    if lang == "en":
        assert "refuses active mode" in port["advice"]["title"]
        assert "syntax" not in port["advice"]["meaning"].replace("not a syntax", "")
    else:
        assert "主动模式" in port["advice"]["title"]


def test_vsftpd_without_active_mode(tmp_path: Path) -> None:
    with vsftpd("port_enable=NO\n") as server:
        peer = server.peer()
        active = run(_url(peer), "--active")
        passive = run(_url(peer), "--passive")
        both = run(_url(peer))
    assert active.exit_code == 1
    port = active.stage("port")
    assert port["kind"] == "active_refused" and "port_enable" in port["advice"]["causes"][-1]
    assert "passive" in " ".join(port["advice"]["fixes"]).lower()
    assert passive.exit_code == 0 and passive.statuses()["port"] == "skip"
    assert passive.statuses()["epsv"] == "ok"
    # Both modes by default, passive first: the refused one makes the run fail.
    assert both.exit_code == 1
    assert both.statuses()["epsv"] == "ok" and both.statuses()["port"] == "fail"


def test_vsftpd_without_passive_mode() -> None:
    with vsftpd("pasv_enable=NO\n") as server:
        passive = run(_url(server.peer()), "--passive", lang="zh-Hant")
        active = run(_url(server.peer()), "--active")
    assert passive.exit_code == 1
    assert passive.stage("pasv")["kind"] == "passive_refused"
    assert "被動模式" in passive.stage("pasv")["advice"]["title"]
    assert active.exit_code == 0 and active.statuses()["port"] == "ok"


@pytest.mark.parametrize(
    ("extra", "kind", "setting"),
    [("max_per_ip=1\n", "session_limit_per_ip", "max_per_ip"),
     ("max_clients=1\n", "too_many_users", "max_clients")],
)  # fmt: skip
def test_vsftpd_limits_stop_the_doctor(extra: str, kind: str, setting: str) -> None:
    with vsftpd(extra) as server:
        peer = server.peer()
        with session_of(peer):
            doctor = run(_url(peer), lang="zh-Hans")
    assert doctor.exit_code == 5
    banner = doctor.stage("banner")
    assert banner["kind"] == kind and setting in banner["advice"]["causes"][-1]
    assert doctor.report["probe"]["connections"] == 1
    assert "不会重试" in doctor.stage("stopped")["summary"]


def test_vsftpd_wrong_password() -> None:
    with vsftpd("") as server:
        doctor = run(_url(server.peer(), password="wrong"))
    assert doctor.exit_code == 3
    login = doctor.stage("login")
    assert login["kind"] == "login_incorrect" and "vsftpd" in login["advice"]["causes"][-1]
    assert doctor.report["probe"] == {"connections": 1, "failed_logins": 1, "stopped_at": None}


def test_nothing_listening_is_explained_as_the_control_connection(tmp_path: Path) -> None:
    """A refused control connection is never explained with passive-mode causes."""
    with pyftpd(tmp_path / "root") as server:
        port = server.port
    doctor = run(f"ftp://bob:x@127.0.0.1:{port}/")
    assert doctor.exit_code == 4
    tcp = doctor.stage("tcp")
    said = " ".join([tcp["advice"]["meaning"], *tcp["advice"]["causes"], *tcp["advice"]["fixes"]])
    assert tcp["kind"] == "connection_refused"
    assert "227" not in said and "passive" not in said.lower()


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_pure_ftpd_per_ip_limit(lang: str) -> None:
    with pure_ftpd("-C", "1") as peer, session_of(peer):
        doctor = run(_url(peer), lang=lang)
    assert doctor.exit_code == 5
    banner = doctor.stage("banner")
    assert banner["kind"] == "session_limit_per_ip"
    assert "Pure-FTPd" in banner["advice"]["causes"][-1]
    assert "(1)" in banner["advice"]["meaning"] or "1 個" in banner["advice"]["meaning"]
    assert doctor.report["probe"]["connections"] == 1


def test_pure_ftpd_wrong_password() -> None:
    with pure_ftpd() as peer:
        # Pure-FTPd delays a failed login's reply by a random few seconds (against password
        # guessing): the doctor waits for it as a client would.
        doctor = run(_url(peer, password="wrong"), "--timeout", "20", lang="zh-Hans")
    assert doctor.exit_code == 3
    login = doctor.stage("login")
    assert login["kind"] == "login_incorrect" and "Pure-FTPd" in login["advice"]["causes"][-1]
    assert login["advice"]["title"] == "用户名或密码错误"


def test_proftpd_per_host_limit_and_wrong_password(tmp_path: Path) -> None:
    with proftpd("MaxClientsPerHost 1", tmp_path / "proftpd") as peer:
        with session_of(peer):
            limited = run(_url(peer), lang="zh-Hant")
        wrong = run(_url(peer, password="wrong"))
    assert limited.exit_code == 5
    login = limited.stage("login")  # ProFTPD answers the limit to USER, after its greeting
    assert login["kind"] == "session_limit_per_ip"
    assert "MaxClientsPerHost" in login["advice"]["causes"][-1]
    assert limited.report["probe"]["connections"] == 1
    assert wrong.exit_code == 3
    assert wrong.stage("login")["kind"] == "login_incorrect"
    assert "ProFTPD" in wrong.stage("login")["advice"]["causes"][-1]


class FullAtData(ScriptedFtp):
    """Answers EPSV as pyftpdlib does once its max_cons counts the data connection too."""

    def _answer(self, verb: str, arg: str) -> str:
        if verb in ("EPSV", "PASV", "PORT", "EPRT"):
            return "425 Too many connections. Can't open data channel."
        return super()._answer(verb, arg)


def test_a_limit_met_at_the_data_connection_stops_the_doctor() -> None:
    with FullAtData() as server:
        doctor = run(f"ftp://bob:pw@127.0.0.1:{server.port}/", lang="zh-Hant")
    assert doctor.exit_code == 5
    epsv = doctor.stage("epsv")
    assert epsv["kind"] == "server_connections_full" and "pyftpdlib" in epsv["advice"]["causes"][-1]
    # Nothing more was tried once the server said it is full.
    assert "PASV" not in server.commands and "PORT" not in server.commands
    assert server.connections == 1 and list(doctor.statuses())[-1] == "stopped"
