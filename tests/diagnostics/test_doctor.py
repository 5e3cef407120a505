"""`pasv doctor` against pasv servers set up to fail each way, and against a healthy one."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.cli.main import app
from pasv.policy.models import Action, IpRule
from tests.conftest import HAS_IPV6
from tests.diagnostics.doctor_support import (
    RewritingRouter,
    closed_port,
    doctor,
    one_shot_server,
    runner,
    url_of,
)
from tests.support.ftps import Pki, make_pki
from tests.support.live import PASSWORD, USER, LiveServer, start_server


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_live(tmp_path: Path, pki: Pki) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", tls={"certificate": str(pki.chain_file)})
    yield server
    server.stop()


def test_healthy_server_with_tls_and_write_passes_every_stage(
    tls_live: LiveServer, pki: Pki
) -> None:
    (tls_live.files / "big.bin").write_bytes(b"b" * 300_000)
    tls_live.policy.add_group("admin")  # an administrator: SITE WARNINGS answers it
    tls_live.policy.set_groups(USER, ["admin"])
    tls_live.reload_policy()
    run = doctor(
        url_of(tls_live, USER, PASSWORD), "--tls", "--ca", str(pki.ca_file), "--write",
        "--sample-size", "200K",
    )  # fmt: skip
    assert run.exit_code == 0, run.report
    assert run.report["ok"] is True
    statuses = run.statuses()
    as_root = os.geteuid() == 0  # this in-process server serves as whoever runs the tests
    assert statuses.pop("setup") == ("warn" if as_root else "ok")
    assert list(run.stage("setup")["data"]["warnings"]) == (["root"] if as_root else [])
    assert set(statuses.values()) == {"ok"}
    assert list(run.statuses()) == [
        "dns", "tcp", "banner", "tls", "login", "setup", "epsv", "pasv", "port", "data_tls",
        "listing", "write", "throughput",
    ]  # fmt: skip
    tls = run.stage("tls")["data"]
    assert tls["mode"] == "explicit" and "127.0.0.1" in tls["names"]
    assert tls["days_left"] > 14
    assert run.stage("data_tls")["data"] == {"reused": True, "reuse_required": True}
    write = run.stage("write")["data"]
    assert write["bytes"] == 200 * 1024 and write["deleted"] is True
    assert not list(tls_live.files.glob(".pasv-doctor-*"))  # the temporary file is gone
    rates = run.stage("throughput")["data"]["bytes_per_second"]
    assert set(rates) == {"up", "down"} and min(rates.values()) > 0
    assert PASSWORD not in run.result.output


def test_implicit_tls(tls_live: LiveServer, pki: Pki) -> None:
    [(host, port)] = tls_live.server.implicit_addresses
    run = doctor(f"ftps://{USER}:{PASSWORD}@{host}:{port}/", "--ca", str(pki.ca_file))
    assert run.exit_code == 0, run.report
    assert run.stage("tls")["data"]["mode"] == "implicit"
    assert list(run.statuses())[:4] == ["dns", "tcp", "tls", "banner"]
    assert run.statuses()["write"] == "skip"


def test_untrusted_certificate(tls_live: LiveServer) -> None:
    run = doctor(url_of(tls_live, USER, PASSWORD), "--tls")
    assert run.exit_code == 4
    tls = run.stage("tls")
    assert tls["status"] == "fail" and tls["kind"] == "certificate_untrusted"
    assert any("--ca" in fix for fix in tls["advice"]["fixes"])
    assert "login" not in run.statuses()


def test_implicit_tls_on_a_plain_port(live: LiveServer) -> None:
    run = doctor(url_of(live, USER, PASSWORD, scheme="ftps"), "--insecure")
    assert run.exit_code == 4
    assert run.stage("tls")["kind"] == "implicit_on_plain_port"


def test_plain_healthy_server_in_text_both_languages(live: LiveServer) -> None:
    (live.files / "f.txt").write_bytes(b"hello" * 100)
    url = url_of(live, USER, PASSWORD)
    en = runner.invoke(app, ["doctor", url, "--lang", "en", "--netrc-file", "/nonexistent"])
    zh = runner.invoke(app, ["doctor", url, "--lang", "zh", "--netrc-file", "/nonexistent"])
    assert en.exit_code == zh.exit_code == 0
    assert "EPSV works" in en.output and "PASV works" in en.output and "FAIL" not in en.output
    assert "Logged in as alice." in en.output and "Download" in en.output  # the sample: f.txt
    assert "已以 alice 身份登录" in zh.output and "EPSV 可用" in zh.output
    assert PASSWORD not in en.output + zh.output


def test_wrong_masquerade_address_is_the_servers_nat_setting(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", passive={"address": "127.0.0.9"})
    try:
        run = doctor(url_of(live, USER, PASSWORD))
    finally:
        live.stop()
    assert run.exit_code == 1
    assert run.statuses()["epsv"] == "ok"  # EPSV carries no address
    pasv = run.stage("pasv")
    assert pasv["status"] == "fail" and pasv["kind"] == "passive_nat_address"
    assert "127.0.0.9" in pasv["summary"] and "127.0.0.1" in pasv["summary"]
    assert pasv["data"]["announced"][0] == pasv["data"]["server_announced"][0] == "127.0.0.9"
    assert any("passive.address" in fix for fix in pasv["advice"]["fixes"])
    assert run.statuses()["listing"] == "ok"


def test_passive_ports_closed(live: LiveServer) -> None:
    router = RewritingRouter(live, hide_pasvinfo=True).start()
    try:
        run = doctor(router.url(USER, PASSWORD))
    finally:
        router.stop()
    assert run.exit_code == 1
    for key in ("epsv", "pasv"):
        stage = run.stage(key)
        assert stage["status"] == "fail" and stage["kind"] == "passive_ports_closed", stage
        assert str(router.port_to_announce) in stage["advice"]["meaning"]
    assert run.stage("pasv")["data"]["server_announced"] is None  # the server could not say
    assert run.statuses()["port"] == "ok"  # active mode still works
    assert run.statuses()["listing"] == "ok"


def test_227_rewritten_on_the_way_is_detected_and_named(live: LiveServer) -> None:
    router = RewritingRouter(live, hide_pasvinfo=False).start()
    try:
        run = doctor(router.url(USER, PASSWORD))
    finally:
        router.stop()
    assert run.exit_code == 1
    pasv = run.stage("pasv")
    assert pasv["status"] == "fail" and pasv["kind"] == "passive_rewritten"
    received, said = pasv["data"]["announced"], pasv["data"]["server_announced"]
    assert received == ["127.0.0.1", router.port_to_announce]
    assert said[0] == "127.0.0.1" and said[1] != router.port_to_announce
    assert "227 reply was rewritten on the way" in pasv["summary"]
    epsv = run.stage("epsv")  # the 229 is rewritten too, and pasv says which port it sent
    assert epsv["kind"] == "passive_rewritten" and "229 reply" in epsv["summary"]
    assert epsv["data"]["port"] == router.port_to_announce != epsv["data"]["server_port"]
    assert "ALG" in pasv["advice"]["meaning"]


def test_anonymous_refused(live: LiveServer) -> None:
    run = doctor(url_of(live))
    assert run.exit_code == 3
    login = run.stage("login")
    assert login["kind"] == "anonymous_refused" and "anonymous" in login["summary"]
    assert "epsv" not in run.statuses()


def test_wrong_password(live: LiveServer) -> None:
    run = doctor(url_of(live, USER, "not-the-password"))
    assert run.exit_code == 3
    assert run.stage("login")["kind"] == "login_incorrect"
    assert "not-the-password" not in run.result.output


def test_ip_denied_server_wide_at_connect(live: LiveServer) -> None:
    live.policy.add_ip_rule(IpRule(Action.DENY, ipaddress.ip_network("127.0.0.1/32")))
    live.reload_policy()
    run = doctor(url_of(live, USER, PASSWORD))
    assert run.exit_code == 4
    banner = run.stage("banner")
    assert banner["status"] == "fail" and banner["kind"] == "unauthorized_ip"
    assert banner["data"]["reply"].startswith("421 ")


def test_ip_denied_for_the_user_at_login(live: LiveServer) -> None:
    live.policy.add_ip_rule(
        IpRule(Action.DENY, ipaddress.ip_network("127.0.0.1/32"), f"user:{USER}")
    )
    live.reload_policy()
    run = doctor(url_of(live, USER, PASSWORD))
    assert run.exit_code == 3
    assert run.stage("login")["kind"] == "unauthorized_ip"


def test_per_ip_session_limit(live: LiveServer) -> None:
    live.policy.set_option("", "max_sessions_per_ip", 1)
    live.reload_policy()
    live.login()  # the one session this address may have
    run = doctor(url_of(live, USER, PASSWORD))
    assert run.exit_code == 5  # a limit: the doctor stops there and says so
    login = run.stage("login")
    assert login["kind"] == "session_limit_per_ip" and "only 1 session" in login["summary"]
    assert run.stage("stopped")["kind"] == "session_limit_per_ip"
    assert run.report["probe"] == {"connections": 1, "failed_logins": 1,
                                   "stopped_at": "session_limit_per_ip"}  # fmt: skip


def test_too_many_users(live: LiveServer) -> None:
    live.policy.set_option("", "max_clients", 1)
    live.reload_policy()
    live.login()
    run = doctor(url_of(live, USER, PASSWORD))
    assert run.exit_code == 5
    assert run.stage("banner")["kind"] == "too_many_users"
    assert run.report["probe"]["connections"] == 1 and "login" not in run.statuses()


def test_banned(live: LiveServer) -> None:
    live.policy.set_option("", "ban_allowlist", "")  # loopback is exempt by default
    live.policy.ban("127.0.0.1", 600, "test")
    live.reload_policy()
    run = doctor(url_of(live, USER, PASSWORD))
    assert run.exit_code == 5
    banner = run.stage("banner")
    assert banner["status"] == "fail" and banner["kind"] == "banned"
    assert run.stage("stopped")["kind"] == "banned"
    assert "minutes" in banner["summary"]


def test_tls_required_says_to_use_tls(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", tls={"require_login_tls": True})
    try:
        run = doctor(url_of(live, USER, PASSWORD))
    finally:
        live.stop()
    assert run.exit_code == 3
    login = run.stage("login")
    assert login["kind"] == "tls_required"
    assert "requires TLS" in login["summary"]
    assert "--tls" in login["advice"]["fixes"][0] and "ftps://" in login["advice"]["fixes"][0]


def test_nothing_listening() -> None:
    with closed_port() as port:
        run = doctor(f"ftp://{USER}:{PASSWORD}@127.0.0.1:{port}/")
    assert run.exit_code == 4
    tcp = run.stage("tcp")
    assert tcp["status"] == "fail" and tcp["kind"] == "connection_refused"
    assert list(run.statuses()) == ["dns", "tcp"]


def test_a_name_that_cannot_resolve() -> None:
    run = doctor(f"ftp://{USER}:{PASSWORD}@no-such-host.invalid:21/")
    assert run.exit_code == 4
    dns = run.stage("dns")
    assert dns["status"] == "fail" and dns["kind"] == "dns_failure"
    assert list(run.statuses()) == ["dns"]


def test_localhost_resolves_and_is_reached(live: LiveServer) -> None:
    run = doctor(f"ftp://{USER}:{PASSWORD}@localhost:{live.port}/")
    assert run.exit_code == 0, run.report
    assert "127.0.0.1" in run.stage("dns")["data"]["addresses"]
    assert run.stage("tcp")["data"]["address"] == "127.0.0.1"


def test_password_from_environment_and_netrc(live: LiveServer, tmp_path: Path) -> None:
    url = f"ftp://{USER}@{live.host}:{live.port}/"
    from_env = doctor(url, env={"PASV_PASSWORD": PASSWORD})
    assert from_env.exit_code == 0
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {live.host} login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    from_netrc = doctor(url, netrc=netrc)
    assert from_netrc.exit_code == 0
    no_password = doctor(url)
    assert no_password.exit_code == 2  # no terminal to prompt on
    for run in (from_env, from_netrc, no_password):
        assert PASSWORD not in run.result.output


def test_verbose_session_log_censors_the_password(live: LiveServer) -> None:
    result = runner.invoke(
        app, ["doctor", url_of(live, USER, PASSWORD), "-v", "--netrc-file", "/nonexistent"]
    )
    assert result.exit_code == 0
    assert "PASS ****" in result.stderr and "SITE PASVINFO" in result.stderr
    assert PASSWORD not in result.output + result.stderr


def test_self_signed_certificate_with_insecure_is_shown_not_verified(live: LiveServer) -> None:
    run = doctor(url_of(live, USER, PASSWORD), "--tls", "--insecure")
    assert run.exit_code == 0  # a warning, not a failure
    tls = run.stage("tls")
    assert tls["status"] == "warn" and tls["kind"] == "certificate_unverified"
    assert any("self-signed" in line for line in tls["details"])
    assert run.statuses()["listing"] == "ok"


def test_certificate_about_to_expire(tmp_path: Path, pki: Pki) -> None:
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5)
    chain = tmp_path / "soon.pem"
    cert = pki.ca.issue_cert("127.0.0.1", not_after=soon)
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    live = start_server(tmp_path / "data", tls={"certificate": str(chain)})
    try:
        run = doctor(url_of(live, USER, PASSWORD), "--tls", "--ca", str(pki.ca_file))
    finally:
        live.stop()
    tls = run.stage("tls")
    assert tls["status"] == "warn" and tls["kind"] == "certificate_expiring"
    assert tls["data"]["days_left"] in (4, 5)


def test_ipv6_uses_epsv_and_eprt(tmp_path: Path) -> None:
    if not HAS_IPV6:
        pytest.skip("this machine has no IPv6 loopback")
    live = start_server(tmp_path / "data", host="::1")
    try:
        run = doctor(f"ftp://{USER}:{PASSWORD}@[::1]:{live.port}/")
    finally:
        live.stop()
    assert run.exit_code == 0, run.report
    assert run.statuses()["epsv"] == "ok" and run.statuses()["pasv"] == "skip"
    assert run.stage("port")["details"][0].startswith("EPRT |2|::1|")


def test_write_refused_for_read_only_anonymous(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", anonymous={"enabled": True})
    try:
        run = doctor(url_of(live), "--write")
    finally:
        live.stop()
    assert run.exit_code == 1
    assert run.statuses()["login"] == run.statuses()["listing"] == "ok"
    write = run.stage("write")
    assert write["status"] == "fail" and write["summary"].startswith("Writing failed.")
    assert "550" in write["summary"] and write["advice"]["fixes"]


def test_disconnected_at_once() -> None:
    with one_shot_server(hang_up=True) as port:
        run = doctor(f"ftp://{USER}:{PASSWORD}@127.0.0.1:{port}/")
    assert run.exit_code == 4
    banner = run.stage("banner")
    assert banner["kind"] == "disconnected_at_connect"
    assert any("ban" in cause for cause in banner["advice"]["causes"])


def test_no_greeting_suggests_implicit_tls() -> None:
    with one_shot_server(hang_up=False) as port:
        run = doctor(f"ftp://{USER}:{PASSWORD}@127.0.0.1:{port}/", "--timeout", "0.5")
    assert run.exit_code == 4
    banner = run.stage("banner")
    assert banner["kind"] == "implicit_expected"
    assert any("ftps://" in fix for fix in banner["advice"]["fixes"])
