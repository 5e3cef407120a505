"""Each connect and login refusal, provoked with ftplib: the exact code and default text."""

from __future__ import annotations

import ftplib
import ipaddress
import re
import time

import pytest

from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlite import SqliteAccountStore
from pasv.policy.models import Action, IpRule
from tests.server.helpers import Raw
from tests.support.live import PASSWORD, USER, LiveServer


def _refusal(live: LiveServer, user: str = USER, password: str = PASSWORD) -> str:
    ftp = live.connect()
    with pytest.raises(ftplib.Error) as caught:
        ftp.login(user, password)
    return str(caught.value)


def test_too_many_users_at_connect(live: LiveServer) -> None:
    live.policy.set_option("", "max_clients", 2)
    live.reload_policy()
    first, second = Raw.to(live), Raw.to(live)
    with Raw.to(live) as third:
        assert (third.greeting.code, third.greeting.text) == (
            421,
            "Too many users - please try again later.",
        )
        assert third.wait_closed() == b""
    first.close()
    # the count goes down when a session ends: a new connection is greeted again
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with Raw.to(live) as again:
            if again.greeting.code == 220:
                break
    else:
        pytest.fail("the slot of a closed session was never freed")
    second.close()


def test_server_wide_ip_deny_refuses_at_connect(live: LiveServer) -> None:
    live.policy.add_ip_rule(IpRule(Action.DENY, ipaddress.ip_network("127.0.0.0/30")))
    live.reload_policy()
    with Raw.to(live) as raw:
        assert raw.greeting.code == 421
        assert (
            raw.greeting.text == "Your address 127.0.0.1 is not allowed to connect to this server."
        )
    # another source address outside the denied network is served
    with Raw(live.host, live.port, source="127.0.0.9") as raw:
        assert raw.greeting.code == 220


def test_server_wide_allow_list_means_only_those(live: LiveServer) -> None:
    live.policy.add_ip_rule(IpRule(Action.ALLOW, ipaddress.ip_network("127.0.0.9/32")))
    live.reload_policy()
    with Raw.to(live) as raw:
        assert raw.greeting.code == 421
    with Raw(live.host, live.port, source="127.0.0.9") as raw:
        assert raw.greeting.code == 220


def test_user_ip_rule_refuses_at_login(live: LiveServer) -> None:
    live.policy.add_ip_rule(
        IpRule(Action.ALLOW, ipaddress.ip_network("127.0.0.9/32"), f"user:{USER}")
    )
    live.reload_policy()
    assert _refusal(live) == "530 Not logged in, unauthorized IP address."
    with Raw(live.host, live.port, source="127.0.0.9") as raw:
        raw.login()  # from the allowed address the login works


def test_group_ip_rule_refuses_at_login(live: LiveServer) -> None:
    store = live.policy
    store.add_group("partners")
    store.set_groups(USER, ["partners"])
    store.add_ip_rule(IpRule(Action.DENY, ipaddress.ip_network("127.0.0.1/32"), "group:partners"))
    live.reload_policy()
    assert _refusal(live) == "530 Not logged in, unauthorized IP address."


def test_sessions_per_ip(live: LiveServer) -> None:
    live.policy.set_option("", "max_sessions_per_ip", 1)
    live.reload_policy()
    live.login()
    assert _refusal(live) == "530 Not logged in, only 1 session(s) from same IP allowed at a time."
    with Raw(live.host, live.port, source="127.0.0.9") as other:
        other.login()  # another address has its own count


def test_sessions_per_ip_set_on_the_user(live: LiveServer) -> None:
    live.add_user("bob", "pw-bob")
    live.policy.set_option("user:bob", "max_sessions_per_ip", 2)
    live.policy.set_option("", "max_sessions_per_ip", 1)
    live.reload_policy()
    live.login("bob", "pw-bob")
    live.login("bob", "pw-bob")  # bob may have two
    assert (
        _refusal(live, "bob", "pw-bob")
        == "530 Not logged in, only 2 session(s) from same IP allowed at a time."
    )


def test_session_count_is_released_by_quit_and_rein(live: LiveServer) -> None:
    live.policy.set_option("", "max_sessions_per_ip", 1)
    live.reload_policy()
    first = live.login()
    first.quit()
    second = live.login()  # QUIT gave the slot back
    assert second.sendcmd("REIN").startswith("220")
    live.login()  # so did REIN


def test_sessions_per_user(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "max_sessions_per_user", 1)
    live.reload_policy()
    with Raw(live.host, live.port, source="127.0.0.9") as raw:
        raw.login()
        assert _refusal(live) == (
            f"530 Not logged in, only 1 session(s) for user {USER} allowed at a time."
        )


def test_a_login_that_fills_a_limit_is_admitted_and_the_next_refused(live: LiveServer) -> None:
    """While there are no more connections than the lowest limit, a login does not read the
    counts (none can pass its limit): the boundary, where the connections equal the limit, and
    one more, where the counts are read and the limit refuses."""
    live.policy.set_option("", "max_sessions_per_ip", 5)
    live.policy.set_option(f"user:{USER}", "max_sessions_per_user", 2)
    live.reload_policy()
    first, second = live.login(), live.login()  # two connections, the lowest limit 2
    refused = f"530 Not logged in, only 2 session(s) for user {USER} allowed at a time."
    assert _refusal(live) == refused  # a third connection: the counts are read
    first.quit()
    second.voidcmd("NOOP")
    live.login()  # the slot QUIT gave back


def test_a_limit_set_after_logins_applies_to_the_next_login(live: LiveServer) -> None:
    """What a login checks is remembered per user and address, but only for the policy it was
    worked out under: a limit added later applies at once, and a refused login takes no slot."""
    live.policy.set_option("", "max_sessions_per_ip", 10)
    live.reload_policy()
    live.login().quit()
    live.policy.set_option(f"user:{USER}", "max_sessions_per_user", 1)
    live.reload_policy()
    held = live.login()
    refused = f"530 Not logged in, only 1 session(s) for user {USER} allowed at a time."
    assert _refusal(live) == refused
    assert _refusal(live) == refused
    held.quit()
    live.login()  # the refused logins were not counted


def test_group_max_users(live: LiveServer) -> None:
    store = live.policy
    live.add_user("bob", "pw-bob")
    store.add_group("interns")
    store.set_groups(USER, ["interns"])
    store.set_groups("bob", ["interns"])
    store.set_option("group:interns", "max_users", 1)
    live.reload_policy()
    live.login()
    ftp = live.connect()
    with pytest.raises(ftplib.Error) as caught:
        ftp.login("bob", "pw-bob")
    assert str(caught.value) == (
        "421 Too many users - group interns allows 1 at a time, please try again later."
    )


def test_failed_logins_ban_the_address(live: LiveServer) -> None:
    store = live.policy
    store.set_option("", "ban_allowlist", "")
    store.set_option("", "hammer_failures", 3)
    live.reload_policy()
    banned = re.compile(r"421 Too many failed logins from your address; banned for 1[45] minutes\.")
    ftp = live.connect()
    for attempt in range(3):
        try:
            ftp.login(USER, "wrong")
        except ftplib.Error as exc:
            text = str(exc)
            if attempt < 2:
                assert text.startswith("530 Login incorrect")
            else:
                assert banned.fullmatch(text), text
    with Raw.to(live) as raw:  # a new connection is refused at once
        assert raw.greeting.code == 421
        assert banned.fullmatch(f"421 {raw.greeting.text}")
    assert "127.0.0.1" in store.bans()
    with Raw(live.host, live.port, source="127.0.0.9") as other:
        assert other.greeting.code == 220  # only that address


def test_connection_flood_bans_and_allowlist_exempts(live: LiveServer) -> None:
    store = live.policy
    store.set_option("", "ban_allowlist", "127.0.0.9/32")
    store.set_option("", "hammer_connections", 5)
    live.reload_policy()
    codes = []
    for _ in range(7):
        with Raw.to(live) as raw:
            codes.append(raw.greeting.code)
            last = raw.greeting.text
    assert codes[:5] == [220] * 5
    assert codes[-1] == 421
    assert re.fullmatch(
        r"Too many connection attempts from your address; banned for 1[45] minutes\.", last
    )
    for _ in range(7):  # the allowlisted address is never banned
        with Raw(live.host, live.port, source="127.0.0.9") as raw:
            assert raw.greeting.code == 220


def test_repeat_offenders_are_banned_longer(live: LiveServer) -> None:
    store = live.policy
    store.set_option("", "ban_allowlist", "")
    store.set_option("", "hammer_connections", 2)
    store.set_option("", "ban_minutes", 10)
    live.reload_policy()

    def flood() -> str:
        text = ""
        for _ in range(4):
            with Raw.to(live) as raw:
                text = raw.greeting.text
        return text

    assert re.search(r"banned for (9|10) minutes", flood())
    store.ban("127.0.0.1", -1, "expired", offences=1)  # the first ban ran out
    live.reload_policy()
    assert re.search(r"banned for (19|20) minutes", flood())


def test_texts_are_configurable(live: LiveServer) -> None:
    live.policy.set_option("", "max_sessions_per_ip", 1)
    live.policy.set_message("per_ip", "One connection per address ({limit}), please.")
    live.reload_policy()
    live.login()
    assert _refusal(live) == "530 One connection per address (1), please."


def test_policy_changed_by_another_program_applies_without_restart(live: LiveServer) -> None:
    live.login()
    other = SqliteAccountStore(live.settings.accounts_db)  # as `pasv policy set` would
    try:
        PolicyStore(other).set_option("", "max_clients", 1)
    finally:
        live.call(other.close())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with Raw.to(live) as raw:
            if raw.greeting.code == 421:
                break
    else:
        pytest.fail("the stored change never applied")
