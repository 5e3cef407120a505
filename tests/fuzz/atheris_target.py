"""One atheris (libFuzzer) run of a fuzz target: ``python -m tests.fuzz.atheris_target NAME
[libFuzzer options]``. A failing input is saved by libFuzzer under ``-artifact_prefix``."""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports(include=["pasv.protocol", "tests.fuzz"]):
    from tests.fuzz.targets import TARGETS


def main() -> None:
    name = sys.argv.pop(1)
    atheris.Setup(sys.argv, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
