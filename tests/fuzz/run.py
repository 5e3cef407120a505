"""``make fuzz``: each fuzz target for a bounded time under atheris, or, where atheris cannot be
installed, the hypothesis properties with a large example budget. Exit status 1 on a failure."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from tests.fuzz.targets import TARGETS

ARTIFACTS = Path("fuzz-artifacts")
_FALLBACK_EXAMPLES = 200_000


def _atheris(name: str, seconds: int) -> bool:
    corpus = ARTIFACTS / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_target",
        name,
        f"-max_total_time={seconds}",
        f"-artifact_prefix={ARTIFACTS}/{name}-",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        str(corpus),
    ]
    print(f"== atheris: {name} for {seconds} s", flush=True)
    return subprocess.run(command, check=False).returncode == 0


def _hypothesis(seconds: int) -> bool:
    print(
        "== atheris is not installed: running the hypothesis properties with "
        f"{_FALLBACK_EXAMPLES} examples per target (stopped after {seconds * len(TARGETS)} s)",
        flush=True,
    )
    env = {**os.environ, "FUZZ_EXAMPLES": str(_FALLBACK_EXAMPLES)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz"]
    command += [f"--timeout={seconds * len(TARGETS)}"]
    return subprocess.run(command, check=False, env=env).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="time per target")
    parser.add_argument("targets", nargs="*", default=sorted(TARGETS))
    args = parser.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    if importlib.util.find_spec("atheris") is None:
        return 0 if _hypothesis(args.seconds) else 1
    failed = [name for name in args.targets if not _atheris(name, args.seconds)]
    if failed:
        print(f"fuzzing found failures in: {', '.join(failed)} (inputs in {ARTIFACTS}/)")
        return 1
    print(f"fuzzing: {len(args.targets)} targets, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
