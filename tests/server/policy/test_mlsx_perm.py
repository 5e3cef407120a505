"""MLSD and MLST perm facts (RFC 3659) say what the rules let the user do at each entry; cached
listings follow the rules as they change."""

from __future__ import annotations

import ftplib
from pathlib import Path

from pasv.policy.models import Perm
from tests.server.policy.rules import rule
from tests.support.live import LiveServer, start_server


def _perms(ftp: ftplib.FTP, directory: str) -> dict[str, str]:
    return {name: facts["perm"] for name, facts in ftp.mlsd(directory, ["perm"])}


def _mlst_perm(ftp: ftplib.FTP, path: str) -> str:
    line = ftp.sendcmd(f"MLST {path}").splitlines()[1]
    facts = dict(f.split("=", 1) for f in line.strip().split(" ", 1)[0].rstrip(";").split(";"))
    return facts["perm"]


def test_perm_facts_follow_the_rules(live: LiveServer) -> None:
    archive = live.files / "archive"
    (archive / "emptydir").mkdir(parents=True)
    (archive / "record.txt").write_bytes(b"record")
    (live.files / "open.txt").write_bytes(b"open")
    live.policy.add_rule(rule("deny", "/archive", "STOR,APPE,DELE,RMD"))
    live.reload_policy()
    ftp = live.login()
    assert _perms(ftp, "/") == {"archive": "elmf", "open.txt": "rwadf"}
    assert _perms(ftp, "/archive") == {"emptydir": "elmf", "record.txt": "rf"}
    assert _mlst_perm(ftp, "/archive/record.txt") == "rf"
    assert _mlst_perm(ftp, "/archive") == "elmf"
    assert _mlst_perm(ftp, "/open.txt") == "rwadf"


def test_perm_facts_of_entries_with_their_own_rules(live: LiveServer) -> None:
    pub = live.files / "pub"
    (pub / "inbox").mkdir(parents=True)
    (pub / "closed").mkdir()
    (pub / "closed" / "open").mkdir()
    for name in ("server.key", "readme.txt"):
        (pub / name).write_bytes(b"x")
    live.policy.add_rule(rule("deny", "/pub", "write"))
    live.policy.add_rule(rule("deny", "/pub/*.key", "RETR"))
    live.policy.add_rule(rule("allow", "/pub/inbox", "STOR"))
    live.policy.add_rule(rule("deny", "/pub/closed", "ALL"))
    live.policy.add_rule(rule("allow", "/pub/closed/open", "LIST"))
    live.reload_policy()
    ftp = live.login()
    assert _perms(ftp, "/pub") == {
        "closed": "e",  # nothing there, but the way to /pub/closed/open
        "inbox": "elc",
        "readme.txt": "r",
        "server.key": "",
    }
    assert _mlst_perm(ftp, "/pub/closed/open") == "el"


def test_perm_facts_are_each_users_own_and_follow_a_policy_change(live: LiveServer) -> None:
    (live.files / "shared").mkdir()
    (live.files / "shared" / "a.txt").write_bytes(b"a")
    live.add_user("bob", "bob-pw", perms=Perm.READ)
    alice, bob = live.login(), live.login("bob", "bob-pw")
    assert _perms(alice, "/shared") == {"a.txt": "rwadf"}  # cached for the next one
    assert _perms(bob, "/shared") == {"a.txt": "r"}
    live.policy.add_rule(rule("deny", "/shared", "DELE,RENAME"))
    live.reload_policy()
    assert _perms(alice, "/shared") == {"a.txt": "rwa"}
    live.policy.add_rule(rule("deny", "/shared/a.txt", "APPE", "alice"))
    live.reload_policy()
    assert _perms(alice, "/shared") == {"a.txt": "rw"}
    assert _perms(bob, "/shared") == {"a.txt": "r"}


def test_perm_facts_of_a_write_only_drop_box(anon: LiveServer) -> None:
    root = anon.settings.anonymous_root
    (root / "incoming").mkdir(parents=True)
    anon.policy.add_rule(rule("allow", "/incoming", "STOR", "?"))
    anon.policy.add_rule(rule("deny", "/incoming", "LIST,RETR", "?"))
    anon.reload_policy()
    ftp = anon.connect()
    ftp.login("anonymous", "guest@example.org")
    assert _perms(ftp, "/") == {"incoming": "ec"}


def test_a_filtered_listing_follows_a_policy_change(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"listing_cache_ttl": 600})
    try:
        (live.files / "d").mkdir()
        for name in ("x", "y", "z"):
            (live.files / "d" / name).write_bytes(b"-")
        live.policy.set_option("", "hide_denied", True)
        live.policy.add_rule(rule("deny", "/d/x", "LIST"))
        live.reload_policy()
        ftp = live.login()
        assert ftp.nlst("/d") == ["y", "z"]
        live.policy.add_rule(rule("deny", "/d/y", "LIST"))
        live.reload_policy()  # no write: only the policy says the listing is another now
        assert ftp.nlst("/d") == ["z"]
    finally:
        live.stop()
