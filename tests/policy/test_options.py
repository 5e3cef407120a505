"""Policy settings: parsing from TOML and the command line, layering, reply texts."""

from __future__ import annotations

import ipaddress

import pytest

from pasv.policy.options import (
    DEFAULTS,
    Messages,
    PolicySettings,
    Ratio,
    parse_option,
    parse_size,
    resolve,
    show_option,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1048576, 1048576),
        ("1048576", 1048576),
        ("512K", 512 * 1024),
        ("1M", 1024**2),
        ("1MiB", 1024**2),
        ("2.5G", int(2.5 * 1024**3)),
        (" 3 gb ", 3 * 1024**3),
        ("0", 0),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["lots", "-1", "1X", "", True, -5])
def test_bad_sizes_say_why(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_ratio() -> None:
    assert Ratio.parse("1:3") == Ratio(1, 3)
    assert str(Ratio.parse(" 2 : 5 ")) == "2:5"
    for bad in ("1-3", "abc", "0:3", ":3", "1:"):
        with pytest.raises(ValueError):
            Ratio.parse(bad)


@pytest.mark.parametrize(
    ("key", "value", "parsed"),
    [
        ("max_clients", "10", 10),
        ("max_sessions_per_ip", 1, 1),
        ("hide_denied", "yes", True),
        ("hide_denied", False, False),
        ("ban_minutes", "2.5", 2.5),
        ("quota_bytes", "10G", 10 * 1024**3),
        ("download_rate", "1M", 1024**2),
        ("ratio", "1:3", Ratio(1, 3)),
        ("ratio", "none", None),
        ("forbidden_names", "*.exe, *.php", ("*.exe", "*.php")),
        ("forbidden_names", ["a", " b "], ("a", "b")),
        ("hidden_names", "", ()),
        ("ban_allowlist", "", ()),
        (
            "ban_allowlist",
            "10.0.0.0/8,::1",
            (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")),
        ),
    ],
)
def test_parse_option(key: str, value: object, parsed: object) -> None:
    assert parse_option(key, value) == parsed


@pytest.mark.parametrize(
    ("key", "value", "word"),
    [
        ("no_such_setting", "1", "unknown setting"),
        ("max_clients", "many", "number"),
        ("max_clients", "-3", "negative"),
        ("hide_denied", "maybe", "true or false"),
        ("ratio", "1-3", "ratio"),
        ("ban_allowlist", "not-a-net", "does not appear"),
    ],
)
def test_parse_option_errors_say_why(key: str, value: object, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        parse_option(key, value)


def test_show_option_round_trips() -> None:
    for key, value in (("ratio", Ratio(1, 3)), ("forbidden_names", ("*.exe",))):
        assert parse_option(key, show_option(value)) == value


def test_layers_later_wins() -> None:
    base = PolicySettings(max_clients=50)
    merged = resolve(base, {"quota_bytes": 10}, {"quota_bytes": 20, "ratio": Ratio(1, 2)}, {})
    assert (merged.max_clients, merged.quota_bytes, merged.ratio) == (50, 20, Ratio(1, 2))
    assert resolve(base) is base
    assert DEFAULTS.max_clients == 2000


def test_messages() -> None:
    texts = Messages.from_mapping({"per_ip": "One at a time ({limit})."})
    assert texts.per_ip.format(limit=1) == "One at a time (1)."
    assert texts.changed() == {"per_ip": "One at a time ({limit})."}
    assert Messages().per_ip.format(limit=2) == (
        "Not logged in, only 2 session(s) from same IP allowed at a time."
    )
    with pytest.raises(ValueError, match="unknown message"):
        Messages.from_mapping({"nope": "x"})
