"""Tests for virtual path normalisation and the jail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.errors import FileUnavailable, OutsideJail
from pasv.protocol.paths import basename, join, parent, resolve


@pytest.mark.parametrize(
    ("cwd", "arg", "expected"),
    [
        ("/", "", "/"),
        ("/home/bob", "", "/home/bob"),
        ("/home/bob", "file.txt", "/home/bob/file.txt"),
        ("/home/bob", "/etc/passwd", "/etc/passwd"),
        ("/home/bob", "..", "/home"),
        ("/home/bob", "../..", "/"),
        ("/a", "b/../c", "/a/c"),
        ("/a", "./b/./c/.", "/a/b/c"),
        ("/a", "b//c///", "/a/b/c"),
        ("/", "//x//y", "/x/y"),
        ("/a/b", "/", "/"),
        ("/a", "my file .txt", "/a/my file .txt"),
        ("/a", " x", "/a/ x"),
        ("/a", "..\\..\\etc", "/a/..\\..\\etc"),
        ("/a", "...", "/a/..."),
        ("/a", "~", "/a/~"),
        ("/a/b/", ".", "/a/b"),
        ("//a//b", "c", "/a/b/c"),
        ("/", "文件/ü", "/文件/ü"),
    ],
)
def test_resolve(cwd: str, arg: str, expected: str) -> None:
    assert resolve(cwd, arg) == expected


@pytest.mark.parametrize(
    ("cwd", "arg"),
    [
        ("/", ".."),
        ("/", "../.."),
        ("/", "a/../../x"),
        ("/home", "/../etc"),
        ("/home/bob", "../../../etc/passwd"),
        ("/home/bob", "/./.."),
        ("/", "x/" + "../" * 2),
    ],
)
def test_climbing_above_root_is_refused(cwd: str, arg: str) -> None:
    with pytest.raises(OutsideJail) as info:
        resolve(cwd, arg)
    assert info.value.code == 550


@pytest.mark.parametrize(("cwd", "arg"), [("/", "x\x00y"), ("/", "\x00"), ("/a\x00", "b")])
def test_nul_byte_is_refused(cwd: str, arg: str) -> None:
    with pytest.raises(FileUnavailable) as info:
        resolve(cwd, arg)
    assert info.value.text == "Path contains a NUL byte."
    assert info.value.code == 550


def test_deep_nesting() -> None:
    deep = "/".join(["d"] * 5000)
    assert resolve("/", deep) == "/" + deep
    assert resolve("/", deep + "/.." * 5000) == "/"
    with pytest.raises(OutsideJail):
        resolve("/", deep + "/.." * 5001)


def test_parent_basename_join() -> None:
    assert parent("/a/b/c") == "/a/b"
    assert parent("/a") == "/"
    assert parent("/") == "/"
    assert parent("/a/b/") == "/a"
    assert basename("/a/b/c.txt") == "c.txt"
    assert basename("/a/b/") == "b"
    assert basename("/") == ""
    assert join("/", "x") == "/x"
    assert join("/a", "b c") == "/a/b c"
    assert join("/a/", "b") == "/a/b"
    assert join("/a", "") == "/a"


_component = st.text(st.characters(exclude_characters="/\x00"), min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)


@given(
    st.lists(_component, max_size=8), st.lists(st.sampled_from(["", ".", "..", "x"]), max_size=8)
)
def test_resolve_result_is_normalised(cwd_parts: list[str], arg_parts: list[str]) -> None:
    cwd = "/" + "/".join(cwd_parts)
    arg = "/".join(arg_parts)
    try:
        result = resolve(cwd, arg)
    except OutsideJail:
        # Only possible when the ".." outnumber the components available to climb.
        assert arg_parts.count("..") > (0 if arg.startswith("/") else len(cwd_parts))
        return
    assert result.startswith("/")
    assert result == "/" or not result.endswith("/")
    assert "//" not in result
    assert all(part not in (".", "..") for part in result.split("/"))
    assert resolve("/", result) == result
    assert join(parent(result), basename(result)) == result or result == "/"
