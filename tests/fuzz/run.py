"""``make fuzz``: each fuzz target for a bounded time under atheris, or, where atheris cannot be
installed, the hypothesis properties with a large example budget. Exit status 1 on a failure."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
import traceback
from pathlib import Path

from tests.fuzz.targets import CORPUS, TARGETS
from tests.fuzz.test_fuzz_properties import hypothesis_check

ARTIFACTS = Path("fuzz-artifacts")
_ROUND = 5_000  # hypothesis examples per round of the fallback


def _atheris(name: str, seconds: int) -> bool:
    corpus = ARTIFACTS / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(CORPUS[name]):
        (corpus / f"seed-{number}").write_bytes(seed)
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


def _hypothesis(name: str, seconds: int) -> bool:
    """Rounds of hypothesis examples until ``seconds`` are up; False on the first failure."""
    print(f"== hypothesis: {name} for {seconds} s", flush=True)
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        try:
            hypothesis_check(TARGETS[name], _ROUND)()
        except Exception:
            traceback.print_exc()
            return False
        rounds += 1
    print(f"   {rounds * _ROUND} examples, no failure", flush=True)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="time per target")
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("targets", nargs="*", default=sorted(TARGETS))
    args = parser.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") is not None else "hypothesis"
    run = _atheris if engine == "atheris" else _hypothesis
    failed = [name for name in args.targets if not run(name, args.seconds)]
    if failed:
        print(f"fuzzing found failures in: {', '.join(failed)} (inputs in {ARTIFACTS}/)")
        return 1
    print(f"fuzzing: {len(args.targets)} targets, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
