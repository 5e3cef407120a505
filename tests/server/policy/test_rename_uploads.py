"""Renames the rules must not refuse: within a directory under the same rules, and a client's
upload to a temporary name (NAME.part) renamed to where the user may STOR."""

from __future__ import annotations

import io

from tests.server.helpers import retr_bytes
from tests.server.policy.rules import refused, rule
from tests.support.live import PASSWORD, USER, LiveServer


def test_a_rename_within_a_directory_under_the_same_rules_works(live: LiveServer) -> None:
    (live.files / "d" / "sub").mkdir(parents=True)
    (live.files / "d" / "a.txt").write_bytes(b"a")
    live.policy.add_rule(rule("deny", "/d", "DELE,RMD,RETR"))
    live.policy.add_rule(rule("deny", "/", "MFMT,SITE"))
    live.policy.add_rule(rule("deny", "/other/*.txt", "LIST"))
    live.reload_policy()
    ftp = live.login()
    ftp.rename("/d/a.txt", "/d/b.txt")
    ftp.rename("/d/sub", "/d/sub2")
    assert sorted(p.name for p in (live.files / "d").iterdir()) == ["b.txt", "sub2"]


def test_an_upload_to_a_part_name_may_be_renamed_to_its_final_name(live: LiveServer) -> None:
    (live.files / "up").mkdir()
    live.policy.add_rule(rule("deny", "/up/*.part", "LIST,RETR"))  # no half uploads served
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR /up/report.pdf.part", io.BytesIO(b"%PDF whole"))
    ftp.rename("/up/report.pdf.part", "/up/report.pdf")
    assert retr_bytes(ftp, "/up/report.pdf") == b"%PDF whole"
    ftp.storbinary("STOR /up/log.part", io.BytesIO(b"first "))  # resumed with APPE
    ftp.storbinary("APPE /up/log.part", io.BytesIO(b"second"))
    ftp.rename("/up/log.part", "/up/log")
    assert retr_bytes(ftp, "/up/log") == b"first second"


def test_an_upload_to_a_staging_area_may_be_published(live: LiveServer) -> None:
    (live.files / "staging").mkdir()
    (live.files / "public").mkdir()
    live.policy.add_rule(rule("deny", "/staging", "LIST,RETR,DELE"))
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR /staging/release.zip", io.BytesIO(b"PK release"))
    ftp.rename("/staging/release.zip", "/public/release.zip")
    assert (live.files / "public" / "release.zip").read_bytes() == b"PK release"


def test_only_the_sessions_own_unchanged_upload_may_gain_permissions(live: LiveServer) -> None:
    staging, public = live.files / "staging", live.files / "public"
    staging.mkdir()
    public.mkdir()
    (staging / "theirs.zip").write_bytes(b"someone else's upload")
    live.policy.add_rule(rule("deny", "/staging", "LIST,RETR"))
    live.policy.add_rule(rule("deny", "/closed", "STOR"))
    live.reload_policy()
    ftp, other = live.login(), live.login()
    gains = "you would get LIST,RETR there, which is not allowed for you at"
    ftp.sendcmd("RNFR /staging/theirs.zip")  # not uploaded by this session
    assert gains in refused(ftp.sendcmd, "RNTO /public/theirs.zip")
    ftp.storbinary("STOR /staging/mine.zip", io.BytesIO(b"mine"))
    other.sendcmd("RNFR /staging/mine.zip")  # another session's upload
    assert gains in refused(other.sendcmd, "RNTO /public/mine.zip")
    other.storbinary("STOR /staging/mine.zip", io.BytesIO(b"written over"))
    ftp.sendcmd("RNFR /staging/mine.zip")  # no longer the bytes this session sent
    assert gains in refused(ftp.sendcmd, "RNTO /public/mine.zip")
    ftp.storbinary("STOR /staging/mine.zip", io.BytesIO(b"mine again"))
    (live.files / "closed").mkdir()
    ftp.sendcmd("RNFR /staging/mine.zip")  # where the user may not STOR
    assert gains in refused(ftp.sendcmd, "RNTO /closed/mine.zip")
    assert not list(public.iterdir())


def test_the_right_to_move_an_own_upload_is_the_sessions_not_the_users(live: LiveServer) -> None:
    """Per session (least privilege): another connection of the same user, one made after the
    uploading one ended, and the same connection after REIN and a new login all get nothing."""
    (live.files / "staging").mkdir()
    (live.files / "public").mkdir()
    live.policy.add_rule(rule("deny", "/staging", "LIST,RETR"))
    live.reload_policy()
    gains = "you would get LIST,RETR there, which is not allowed for you at"
    ftp = live.login()
    ftp.storbinary("STOR /staging/a.zip", io.BytesIO(b"a"))
    ftp.storbinary("STOR /staging/b.zip", io.BytesIO(b"b"))
    other = live.login()
    other.sendcmd("RNFR /staging/a.zip")
    assert gains in refused(other.sendcmd, "RNTO /public/a.zip")
    ftp.sendcmd("REIN")  # a new login on the same connection: a new session
    ftp.login(USER, PASSWORD)
    ftp.sendcmd("RNFR /staging/a.zip")
    assert gains in refused(ftp.sendcmd, "RNTO /public/a.zip")
    ftp.quit()
    later = live.login()
    later.sendcmd("RNFR /staging/b.zip")
    assert gains in refused(later.sendcmd, "RNTO /public/b.zip")
    assert not list((live.files / "public").iterdir())


def test_an_own_upload_may_still_be_moved_after_a_policy_reload(live: LiveServer) -> None:
    (live.files / "staging").mkdir()
    (live.files / "public").mkdir()
    live.policy.add_rule(rule("deny", "/staging", "LIST,RETR"))
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR /staging/a.zip", io.BytesIO(b"a"))
    live.policy.add_rule(rule("deny", "/other", "STOR"))
    live.reload_policy()
    ftp.rename("/staging/a.zip", "/public/a.zip")
    assert (live.files / "public" / "a.zip").read_bytes() == b"a"
