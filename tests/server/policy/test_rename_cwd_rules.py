"""Renames that would move content out from under its rules, RNTO onto existing names, CWD."""

from __future__ import annotations

import io

from tests.server.helpers import retr_bytes
from tests.server.policy.rules import refused, rule
from tests.support.live import LiveServer


def test_directory_rename_refused_when_a_rule_lies_below(live: LiveServer) -> None:
    (live.files / "proj" / "confidential").mkdir(parents=True)
    (live.files / "proj" / "confidential" / "plan.txt").write_bytes(b"secret")
    (live.files / "other").mkdir()
    live.policy.add_rule(rule("deny", "/proj/confidential", "ALL"))
    live.policy.add_rule(rule("deny", "/moved_in/inner", "RETR"))
    live.reload_policy()
    ftp = live.login()
    ftp.sendcmd("RNFR /proj")
    assert refused(ftp.sendcmd, "RNTO /proj_moved") == (
        "550 Cannot rename /proj to /proj_moved: one of them holds paths with their own rules;"
        " rename them one by one or ask the administrator."
    )
    assert (live.files / "proj" / "confidential" / "plan.txt").exists()
    assert refused(retr_bytes, ftp, "/proj_moved/confidential/plan.txt").startswith("550 ")
    ftp.sendcmd("RNFR /other")  # a rule that would lie below the new name
    assert refused(ftp.sendcmd, "RNTO /moved_in").startswith("550 Cannot rename /other")
    ftp.sendcmd("RNFR /other")  # no rule below either: fine
    ftp.sendcmd("RNTO /other2")
    assert (live.files / "other2").is_dir()


def test_file_rename_may_not_give_a_denied_permission(live: LiveServer) -> None:
    (live.files / "proj").mkdir()
    (live.files / "proj" / "server.key").write_bytes(b"KEY")
    live.policy.add_rule(rule("deny", "/proj/*.key", "LIST,RETR"))
    live.reload_policy()
    ftp = live.login()
    ftp.sendcmd("RNFR /proj/server.key")
    assert refused(ftp.sendcmd, "RNTO /proj/server.txt") == (
        "550 Cannot rename /proj/server.key to /proj/server.txt: you would get LIST,RETR there,"
        " which is not allowed for you at /proj/server.key."
    )
    assert (live.files / "proj" / "server.key").exists()


def test_directory_rename_refused_where_a_forbidden_path_could_match_below(
    live: LiveServer,
) -> None:
    (live.files / "releases").mkdir()
    live.policy.set_option("", "forbidden_names", "/releases/*.zip")
    live.reload_policy()
    ftp = live.login()
    ftp.mkd("/tmpd")
    ftp.storbinary("STOR /tmpd/a.zip", io.BytesIO(b"zip"))
    ftp.sendcmd("RNFR /tmpd")
    assert refused(ftp.sendcmd, "RNTO /releases/tmpd") == (
        "553 Cannot rename the directory /tmpd to /releases/tmpd: names below it could match"
        " the forbidden pattern /releases/*.zip."
    )
    assert not (live.files / "releases" / "tmpd").exists()
    ftp.sendcmd("RNFR /tmpd")  # elsewhere the pattern cannot match: allowed
    ftp.sendcmd("RNTO /tmpd2")


def _secret_tree(live: LiveServer) -> None:
    (live.files / "secret" / "sub").mkdir(parents=True)
    (live.files / "secret" / "secret.txt").write_bytes(b"TOP SECRET")
    live.policy.add_rule(rule("deny", "/secret", "ALL"))


def test_cwd_into_a_denied_tree_answers_alike_whatever_is_there(live: LiveServer) -> None:
    _secret_tree(live)
    live.reload_policy()
    ftp = live.login()
    names = ("/secret", "/secret/sub", "/secret/nosuch", "/secret/secret.txt", "/secret/no.txt")
    replies = {refused(ftp.cwd, name).replace(name, "PATH") for name in names}
    assert replies == {"550 Permission denied: CWD is not allowed for you at PATH."}
    assert ftp.pwd() == "/"


def test_cwd_into_a_denied_tree_with_hide_denied_is_a_missing_path(live: LiveServer) -> None:
    _secret_tree(live)
    live.policy.set_option("", "hide_denied", True)
    live.reload_policy()
    ftp = live.login()
    missing = refused(ftp.cwd, "/nosuch")
    assert missing == "550 No such file or directory."
    for name in ("/secret", "/secret/sub", "/secret/nosuch", "/secret/secret.txt"):
        assert refused(ftp.cwd, name) == missing
    ftp.cwd("/secret/..")  # the path is checked, not each step of it
    assert ftp.pwd() == "/"


def test_cwd_walks_a_denied_directory_to_an_allowed_one_below(live: LiveServer) -> None:
    (live.files / "a" / "b").mkdir(parents=True)
    (live.files / "a" / "c").mkdir()
    live.policy.add_rule(rule("deny", "/a", "ALL"))
    live.policy.add_rule(rule("allow", "/a/b", "LIST,RETR"))
    live.reload_policy()
    ftp = live.login()
    ftp.cwd("/a")
    ftp.cwd("b")
    assert ftp.pwd() == "/a/b"
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/a"
    assert refused(ftp.cwd, "c") == "550 Permission denied: CWD is not allowed for you at /a/c."
    assert refused(ftp.nlst, "/a").startswith("550 Permission denied: LIST")


def test_cwd_into_a_write_only_drop_box(anon: LiveServer) -> None:
    root = anon.settings.anonymous_root
    (root / "incoming").mkdir(parents=True)
    (root / "incoming" / "other.bin").write_bytes(b"someone else's upload")
    anon.policy.add_rule(rule("allow", "/incoming", "STOR", "?"))
    anon.policy.add_rule(rule("deny", "/incoming", "LIST,RETR", "?"))
    anon.reload_policy()
    ftp = anon.connect()
    ftp.login("anonymous", "guest@example.org")
    ftp.cwd("/incoming")
    ftp.storbinary("STOR mine.txt", io.BytesIO(b"mine"))
    assert (root / "incoming" / "mine.txt").read_bytes() == b"mine"
    # an upload there is not told apart from a missing name
    assert refused(ftp.cwd, "other.bin") == refused(ftp.cwd, "nosuch.bin")
    assert refused(ftp.cwd, "other.bin") == "550 No such file or directory."


def test_rnto_onto_an_existing_name_needs_dele_or_rmd_there(live: LiveServer) -> None:
    archive = live.files / "archive"
    (archive / "olddir").mkdir(parents=True)
    (archive / "emptydir").mkdir()
    (archive / "record.txt").write_bytes(b"precious record")
    (archive / "tmp.txt").write_bytes(b"other")
    live.policy.add_rule(rule("deny", "/archive", "STOR,APPE,DELE,RMD"))
    live.reload_policy()
    ftp = live.login()
    ftp.sendcmd("RNFR /archive/tmp.txt")
    assert refused(ftp.sendcmd, "RNTO /archive/record.txt") == (
        "550 Cannot rename /archive/tmp.txt to /archive/record.txt: /archive/record.txt exists,"
        " and replacing it needs DELE, which is not allowed for you there."
    )
    assert (archive / "record.txt").read_bytes() == b"precious record"
    ftp.sendcmd("RNFR /archive/olddir")
    assert refused(ftp.sendcmd, "RNTO /archive/emptydir") == (
        "550 Cannot rename /archive/olddir to /archive/emptydir: /archive/emptydir exists,"
        " and replacing it needs RMD, which is not allowed for you there."
    )
    assert sorted(p.name for p in archive.iterdir()) == [
        "emptydir", "olddir", "record.txt", "tmp.txt"
    ]  # fmt: skip
    ftp.sendcmd("RNFR /archive/tmp.txt")  # onto the same name: nothing is replaced
    ftp.sendcmd("RNTO /archive/tmp.txt")
    ftp.sendcmd("RNFR /archive/tmp.txt")  # onto a new name: nothing is replaced
    ftp.sendcmd("RNTO /archive/tmp2.txt")
    assert (archive / "tmp2.txt").read_bytes() == b"other"


def test_rnto_replaces_where_dele_is_allowed(live: LiveServer) -> None:
    (live.files / "work" / "d1").mkdir(parents=True)
    (live.files / "work" / "d2").mkdir()
    (live.files / "work" / "new.txt").write_bytes(b"new")
    (live.files / "work" / "old.txt").write_bytes(b"old")
    live.policy.add_rule(rule("deny", "/work", "RMD"))
    live.reload_policy()
    ftp = live.login()
    ftp.sendcmd("RNFR /work/new.txt")
    ftp.sendcmd("RNTO /work/old.txt")
    assert (live.files / "work" / "old.txt").read_bytes() == b"new"
    ftp.sendcmd("RNFR /work/d1")
    assert "needs RMD" in refused(ftp.sendcmd, "RNTO /work/d2")
