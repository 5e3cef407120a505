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
