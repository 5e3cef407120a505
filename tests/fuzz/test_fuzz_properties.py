"""Hypothesis runs of the fuzz targets: random bytes and inputs built from protocol fragments.

FUZZ_EXAMPLES raises the example budget; the default keeps ``make test`` fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import CORPUS, TARGETS

_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))

# Pieces of real protocol text, so examples reach past the first check of each parser.
_FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\xff",
    b"\xff\xff",
    b"\xff\xfb",
    b"\xff\xf4",
    b"\x00",
    b"\xc3\x28",
    b"\xe2\x82",
    b"NOOP",
    b"USER ",
    b"STOR ",
    b"RETR",
    b" ",
    b"200",
    b"200-",
    b"200 ",
    b"211-",
    b"211 End",
    b" 200 x",
    b"227 Entering Passive Mode (",
    b"127,0,0,1,",
    b"4,1)",
    b"256,",
    b"|1|127.0.0.1|2121|",
    b"|2|::1|21|",
    b"|3|x|1|",
    b"(|||65535|)",
    b"(|||0|)",
    b"99999",
    b"-rw-r--r--",
    b"drwxr-xr-x",
    b"lrwxrwxrwx",
    b"   1 ftp      ftp  ",
    b" 1234 ",
    b"Jan 02 12:34 ",
    b"Feb 30  2024 ",
    b"2024-02-29 23:59 ",
    b" -> ",
    b"01-02-24  10:15AM",
    b"       <DIR>          ",
    b"1,234,567 ",
    b"type=file;",
    b"size=12;",
    b"modify=20240101000000;",
    b"modify=20241301256199.5;",
    b"unix.mode=0755;",
    b"unique=a;",
    b"perm=r;",
    b"; name",
    b"=",
    b";",
    b"name.txt",
    "名前".encode(),
]

_built = st.lists(st.sampled_from(_FRAGMENTS) | st.binary(max_size=6), max_size=24).map(b"".join)
_inputs = st.binary(max_size=300) | _built


def hypothesis_check(target: Callable[[bytes], None], examples: int) -> Callable[[], None]:
    """``target`` as a hypothesis test over ``examples`` inputs (``make fuzz``'s fallback)."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_inputs)
    def check(data: bytes) -> None:
        target(data)

    return check  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "seed"), [(name, seed) for name, seeds in CORPUS.items() for seed in seeds]
)
def test_seeds_are_valid_inputs(name: str, seed: bytes) -> None:
    TARGETS[name](seed)


# Every input that made a target fail, kept (atheris writes them to fuzz-artifacts/).
REGRESSIONS = [
    # an MS-DOS listing line whose size is a lone comma: ValueError from int("")
    ("listing", b"12-31-1999  11:59PM     ,   " + b"\0" * 33 + b"\x01\0\0  7 file.zip"),
    # a modify time in the year 24 formatted as "240101000000" (strftime's %Y), unparsable
    (
        "listing",
        b"type=file;size=13;modify=00240101000000.5;perm=r;unique=a1;unix\xaemode=0644; x y",
    ),
]


@pytest.mark.parametrize(("name", "data"), REGRESSIONS)
def test_regressions(name: str, data: bytes) -> None:
    TARGETS[name](data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_typed_errors_and_round_trips(name: str) -> None:
    hypothesis_check(TARGETS[name], _EXAMPLES)()
