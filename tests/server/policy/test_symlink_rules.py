"""Symbolic links inside the root: a path through one is served only when the user may do the
same at the place it leads to (rules, hidden and forbidden names), for every command family."""

from __future__ import annotations

import ftplib
import io
import os

import pytest

from pasv.policy.models import Perm
from tests.server.helpers import retr_bytes
from tests.server.policy.rules import refused, rule
from tests.support.live import LiveServer


def _denied(path: str, perm: str) -> str:
    return (
        f"550 {path} leads through a symbolic link to a place where {perm} is not allowed for you."
    )


@pytest.fixture
def tree(live: LiveServer) -> LiveServer:
    """/secret denied ALL to alice; /open allowed; /pub read only; /stage allowed ALL; links:
    /pub/to_secret -> ../secret, /pub/secretfile -> ../secret/secret.txt, /pub/to_open ->
    ../open, /stage/ln -> ../secret, /stage/ok -> ../open, /stage/ht -> ../pub/.htaccess."""
    files = live.files
    for folder in ("secret/sub", "open", "pub", "stage"):
        (files / folder).mkdir(parents=True)
    (files / "secret" / "secret.txt").write_bytes(b"TOP SECRET")
    (files / "secret" / "sub" / "s2.txt").write_bytes(b"sub secret")
    (files / "open" / "open.txt").write_bytes(b"open data")
    (files / "pub" / "readme.txt").write_bytes(b"public")
    (files / "pub" / ".htaccess").write_bytes(b"hidden htaccess")
    links = {
        "pub/to_secret": "../secret",
        "pub/secretfile": "../secret/secret.txt",
        "pub/to_open": "../open",
        "stage/ln": "../secret",
        "stage/ok": "../open",
        "stage/ht": "../pub/.htaccess",
    }
    for name, target in links.items():
        os.symlink(target, files / name)
    live.policy.add_rule(rule("deny", "/secret", "ALL", to="alice"))
    live.policy.add_rule(rule("deny", "/pub", "write,SITE"))
    live.policy.set_option("", "hidden_names", ".ht*")
    live.reload_policy()
    return live


def test_reading_through_a_link_needs_the_permission_where_it_leads(tree: LiveServer) -> None:
    ftp = tree.login()
    path = "/pub/to_secret/secret.txt"
    assert refused(retr_bytes, ftp, path) == _denied(path, "RETR")
    assert refused(retr_bytes, ftp, "/pub/secretfile") == _denied("/pub/secretfile", "RETR")
    # HASH looks at the file first (its size is in the reply)
    assert refused(ftp.sendcmd, "HASH /pub/secretfile") == _denied("/pub/secretfile", "LIST")
    for verb in ("SIZE", "MDTM", "MLST"):
        path = "/pub/to_secret/sub/s2.txt"
        assert refused(ftp.sendcmd, f"{verb} {path}") == _denied(path, "LIST")
    # a link to a place the user may read works as before
    assert retr_bytes(ftp, "/pub/to_open/open.txt") == b"open data"
    assert ftp.sendcmd("SIZE /pub/to_open/open.txt") == "213 9"
    assert ftp.sendcmd("HASH /stage/ok/open.txt").startswith("213 SHA-256 0-9 ")


def test_a_link_to_a_hidden_name_is_as_missing_as_the_name(tree: LiveServer) -> None:
    ftp = tree.login()
    assert refused(retr_bytes, ftp, "/pub/.htaccess") == (
        "550 No such file or directory: /pub/.htaccess"
    )
    assert refused(retr_bytes, ftp, "/stage/ht") == "550 No such file or directory: /stage/ht"
    assert refused(ftp.sendcmd, "SIZE /stage/ht") == "550 No such file or directory: /stage/ht"


def test_listings_through_a_link_and_of_links(tree: LiveServer) -> None:
    ftp = tree.login()
    for call in (ftp.nlst, ftp.mlsd):
        with pytest.raises(ftplib.error_perm, match=r"^550 /pub/to_secret leads through"):
            list(call("/pub/to_secret"))
    lines: list[str] = []
    with pytest.raises(ftplib.error_perm, match=r"^550 /pub/to_secret leads through"):
        ftp.retrlines("LIST /pub/to_secret", lines.append)
    assert lines == []
    assert refused(ftp.sendcmd, "STAT /pub/to_secret").startswith("550 /pub/to_secret leads")
    # a link to a place the user may not list is not listed; one to an allowed place is, as
    # what it points to
    assert sorted(ftp.nlst("/pub")) == ["readme.txt", "to_open"]
    facts = dict(ftp.mlsd("/pub", facts=["type", "size"]))
    assert facts["to_open"]["type"] == "dir"
    assert "to_secret" not in facts and "secretfile" not in facts
    assert sorted(ftp.nlst("/stage")) == ["ok"]  # ln leads to /secret, ht to a hidden name
    assert sorted(ftp.nlst("/pub/to_open")) == ["open.txt"]


def test_a_directory_listed_through_a_link_is_filtered_as_where_it_leads(
    tree: LiveServer,
) -> None:
    (tree.files / "open" / "private").mkdir()
    tree.policy.add_rule(rule("deny", "/open/private", "ALL", to="alice"))
    tree.policy.set_option("", "hide_denied", True)
    tree.reload_policy()
    ftp = tree.login()
    assert ftp.nlst("/open") == ["open.txt"]
    assert ftp.nlst("/pub/to_open") == ["open.txt"]
    assert [name for name, _ in ftp.mlsd("/stage/ok")] == ["open.txt"]
    assert ftp.nlst("/pub/to_open") == ["open.txt"]  # a second time: not from a shared cache


def test_a_listing_through_a_link_is_not_shared_between_users(tree: LiveServer) -> None:
    (tree.files / "open" / "private").mkdir()
    tree.add_user("bob", "bob-pw-123")
    tree.policy.add_rule(rule("deny", "/open/private", "ALL", to="bob"))
    tree.policy.set_option("", "hidden_names", [])  # alice has no filter: a shared cache key
    tree.policy.set_option("", "hide_denied", True)
    tree.reload_policy()
    assert tree.login().nlst("/pub/to_open") == ["open.txt", "private"]
    assert tree.login("bob", "bob-pw-123").nlst("/pub/to_open") == ["open.txt"]


def test_nlst_pattern_does_not_show_links_to_denied_places(tree: LiveServer) -> None:
    ftp = tree.login()
    assert refused(ftp.nlst, "/pub/*secret*") == "550 No name in /pub matches *secret*."
    assert ftp.nlst("/pub/*open*") == ["/pub/to_open"]


def test_a_listing_with_links_is_not_shared_between_users(tree: LiveServer) -> None:
    tree.add_user("bob", "bob-pw-123")  # not denied /secret
    tree.policy.set_option("", "hidden_names", [])  # no filter: the cache key names no user
    tree.reload_policy()
    bob = tree.login("bob", "bob-pw-123")
    assert "to_secret" in bob.nlst("/pub")  # bob may list /secret: he sees the link
    alice = tree.login()
    assert "to_secret" not in alice.nlst("/pub")
    assert "to_secret" in bob.nlst("/pub")


def test_writes_through_a_link_need_the_permission_where_it_leads(tree: LiveServer) -> None:
    ftp = tree.login()
    secret = tree.files / "secret"
    before = sorted(p.name for p in secret.rglob("*"))
    for verb in ("STOR", "APPE"):
        path = "/stage/ln/planted.txt"
        reply = refused(ftp.storbinary, f"{verb} {path}", io.BytesIO(b"planted"))
        assert reply == _denied(path, verb)
    assert refused(ftp.storbinary, "STOU /stage/ln/x", io.BytesIO(b"x")).startswith("550 ")
    assert refused(ftp.mkd, "/stage/ln/newdir") == _denied("/stage/ln/newdir", "MKD")
    assert refused(ftp.rmd, "/stage/ln/sub") == _denied("/stage/ln/sub", "RMD")
    assert refused(ftp.delete, "/stage/ln/secret.txt") == _denied("/stage/ln/secret.txt", "DELE")
    path = "/stage/ln/secret.txt"
    assert refused(ftp.sendcmd, f"SITE CHMOD 600 {path}") == _denied(path, "SITE_CHMOD")
    assert refused(ftp.sendcmd, f"MFMT 20200101000000 {path}") == _denied(path, "MFMT")
    assert refused(ftp.sendcmd, f"SITE UTIME {path} 20200101000000") == _denied(path, "MFMT")
    assert refused(ftp.sendcmd, "RNFR /stage/ln/sub/s2.txt") == _denied(
        "/stage/ln/sub/s2.txt", "LIST"
    )
    (tree.files / "stage" / "mine.txt").write_bytes(b"mine")
    ftp.sendcmd("RNFR /stage/mine.txt")  # moved into /secret through the link: refused
    # (RNTO looks whether the new name exists first: LIST is what it needs there first)
    assert refused(ftp.sendcmd, "RNTO /stage/ln/mine.txt") == _denied("/stage/ln/mine.txt", "LIST")
    assert (tree.files / "stage" / "mine.txt").exists()
    assert sorted(p.name for p in secret.rglob("*")) == before
    assert (secret / "secret.txt").stat().st_mode & 0o777 != 0o600


def test_writes_through_a_link_to_an_allowed_place_work(tree: LiveServer) -> None:
    ftp = tree.login()
    ftp.storbinary("STOR /stage/ok/new.txt", io.BytesIO(b"new"))
    ftp.storbinary("APPE /stage/ok/new.txt", io.BytesIO(b"+more"))
    assert (tree.files / "open" / "new.txt").read_bytes() == b"new+more"
    ftp.mkd("/stage/ok/made")
    ftp.rmd("/stage/ok/made")
    ftp.sendcmd("SITE CHMOD 600 /stage/ok/new.txt")
    assert (tree.files / "open" / "new.txt").stat().st_mode & 0o777 == 0o600
    ftp.rename("/stage/ok/new.txt", "/stage/ok/renamed.txt")
    ftp.delete("/stage/ok/renamed.txt")
    assert sorted(p.name for p in (tree.files / "open").iterdir()) == ["open.txt"]
    ftp.cwd("/stage/ok")
    assert ftp.pwd() == "/stage/ok"
    assert retr_bytes(ftp, "open.txt") == b"open data"


def test_renaming_through_links_may_not_move_a_file_out_from_under_its_rules(
    tree: LiveServer,
) -> None:
    (tree.files / "locked").mkdir()
    (tree.files / "locked" / "l.txt").write_bytes(b"locked")
    os.symlink("../locked", tree.files / "stage" / "to_locked")
    tree.policy.add_rule(rule("deny", "/locked", "RETR"))
    tree.reload_policy()
    ftp = tree.login()
    ftp.sendcmd("RNFR /stage/to_locked/l.txt")  # RENAME is allowed in /locked
    assert refused(ftp.sendcmd, "RNTO /stage/ok/l.txt") == (
        "550 Cannot rename /stage/to_locked/l.txt to /stage/ok/l.txt: it goes through a"
        " symbolic link, and the move between the places the link leads to is not allowed for"
        " you."
    )
    assert (tree.files / "locked" / "l.txt").exists()
    assert not (tree.files / "open" / "l.txt").exists()


def test_forbidden_names_apply_where_a_link_leads(tree: LiveServer) -> None:
    tree.policy.set_option("", "forbidden_names", "*.exe")
    tree.reload_policy()
    os.symlink("tool.exe", tree.files / "stage" / "tool.txt")
    ftp = tree.login()
    assert refused(ftp.storbinary, "STOR /stage/tool.txt", io.BytesIO(b"MZ")) == (
        "553 Prohibited file name: tool.txt is a symbolic link to a name that may not be written."
    )
    assert not (tree.files / "stage" / "tool.exe").exists()


def test_cwd_through_a_link(tree: LiveServer) -> None:
    ftp = tree.login()
    assert refused(ftp.cwd, "/pub/to_secret") == _denied("/pub/to_secret", "LIST")
    assert ftp.pwd() == "/"
    ftp.cwd("/pub/to_open")
    assert ftp.nlst() == ["open.txt"]


def test_a_chain_of_links_is_judged_where_it_ends(tree: LiveServer) -> None:
    files = tree.files
    (files / "hop").mkdir()
    os.symlink("../stage/ln", files / "hop" / "to_secret")  # -> /stage/ln -> /secret
    os.symlink("../stage/ok", files / "hop" / "to_open")  # -> /stage/ok -> /open
    ftp = tree.login()
    path = "/hop/to_secret/secret.txt"
    assert refused(retr_bytes, ftp, path) == _denied(path, "RETR")
    assert refused(ftp.storbinary, "STOR /hop/to_secret/x", io.BytesIO(b"x")) == _denied(
        "/hop/to_secret/x", "STOR"
    )
    assert not (files / "secret" / "x").exists()
    assert retr_bytes(ftp, "/hop/to_open/open.txt") == b"open data"
    assert sorted(ftp.nlst("/hop")) == ["to_open"]


def test_a_link_out_of_the_root_stays_refused(tree: LiveServer) -> None:
    os.symlink("/etc", tree.files / "stage" / "outside")
    ftp = tree.login()
    assert refused(retr_bytes, ftp, "/stage/outside/hostname").startswith("550 ")
    assert refused(ftp.storbinary, "STOR /stage/outside/x", io.BytesIO(b"x")).startswith("550 ")


def test_a_user_allowed_at_both_places_is_not_refused(tree: LiveServer) -> None:
    tree.add_user("carol", "carol-pw-123", perms=Perm.ALL)  # not denied /secret
    ftp = tree.login("carol", "carol-pw-123")
    assert retr_bytes(ftp, "/pub/to_secret/secret.txt") == b"TOP SECRET"
    ftp.storbinary("STOR /stage/ln/by_carol.txt", io.BytesIO(b"c"))
    assert (tree.files / "secret" / "by_carol.txt").read_bytes() == b"c"
