"""The doctor's words are complete in both languages, and its exit status follows the stages."""

from __future__ import annotations

import re
import string
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import pytest

import pasv.diagnostics.doctor as doctor_package
from pasv.diagnostics.doctor import Exit, Report, Stage
from pasv.diagnostics.doctor.link import Step
from pasv.diagnostics.doctor.report import Status
from pasv.diagnostics.doctor.texts import advice, say, stage_title

TEXTS: dict[str, Any] = tomllib.loads(
    resources.files("pasv.diagnostics").joinpath("data", "doctor.toml").read_text("utf-8")
)
SOURCE = "\n".join(p.read_text() for p in Path(doctor_package.__file__).parent.glob("*.py"))


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _braces(texts: list[str]) -> set[str]:
    return {m for text in texts for m in re.findall(r"\{(\w+)\}", text)}


ZH = ("zh-Hans", "zh-Hant")


@pytest.mark.parametrize("zh", ZH)
@pytest.mark.parametrize("section", ["stages", "say", "advice"])
def test_every_language_has_the_same_entries(section: str, zh: str) -> None:
    assert set(TEXTS["en"][section]) == set(TEXTS[zh][section])


@pytest.mark.parametrize("zh", ZH)
@pytest.mark.parametrize("key", sorted(TEXTS["en"]["say"]))
def test_each_line_has_the_same_placeholders_in_every_language(key: str, zh: str) -> None:
    assert _fields(TEXTS["en"]["say"][key]) == _fields(TEXTS[zh]["say"][key])


@pytest.mark.parametrize("zh", ZH)
@pytest.mark.parametrize("kind", sorted(TEXTS["en"]["advice"]))
def test_each_advice_is_complete_in_every_language(kind: str, zh: str) -> None:
    en, chinese = TEXTS["en"]["advice"][kind], TEXTS[zh]["advice"][kind]
    for entry in (en, chinese):
        assert entry["title"] and entry["meaning"] and entry["causes"] and entry["fixes"]
    flatten = lambda e: [e["meaning"], *e["causes"], *e["fixes"]]  # noqa: E731
    assert _braces(flatten(en)) == _braces(flatten(chinese))
    filled = advice(zh, kind, host="h", port=1, peer="p", reason="r", server_host="s",
                    server_port=2, mode="active", setting="x")  # fmt: skip
    assert "{" not in filled.meaning + "".join(filled.fixes)


def test_every_key_the_code_names_exists() -> None:
    literal = set(re.findall(r'say\(\s*lang,\s*"(\w+)"', SOURCE))
    dynamic = {f"step_{step}" for step in get_args(Step)}
    dynamic |= {f"{key}_failed" for key in ("epsv", "pasv", "port", "listing", "write")}
    dynamic |= {"tls_explicit_ok", "tls_implicit_ok", "throughput_up", "throughput_down"}
    dynamic |= {f"{kind}_summary" for kind in ("passive_rewritten", "passive_nat_address")}
    assert literal and literal | dynamic <= set(TEXTS["en"]["say"])
    kinds = set(re.findall(r'kind = "(\w+)"', SOURCE)) | set(
        re.findall(r'advice\(lang, "(\w+)"', SOURCE)
    )
    known = set(TEXTS["en"]["advice"]) | {"disconnected_at_connect", "connection_refused"}
    assert kinds and kinds <= known
    stages = set(re.findall(r'Stage\(\s*"(\w+)"', SOURCE))
    assert stages <= set(TEXTS["en"]["stages"])
    assert say("zh-Hans", "tcp_ok", address="127.0.0.1", port=21, ms="1.0").startswith("已在")
    assert stage_title("zh-Hans", "login") == "登录"
    assert stage_title("zh-Hant", "login") == "登入"


def _report(*stages: tuple[str, Status]) -> Report:
    return Report("ftp://x/", "en", [Stage(key, status, "") for key, status in stages])


@pytest.mark.parametrize(
    ("stages", "code"),
    [
        ((("dns", "ok"), ("tcp", "ok"), ("login", "ok"), ("port", "warn")), Exit.OK),
        ((("dns", "ok"), ("tcp", "fail")), Exit.CONNECTION),
        ((("tcp", "ok"), ("tls", "fail")), Exit.CONNECTION),
        ((("banner", "ok"), ("login", "fail")), Exit.LOGIN),
        ((("login", "ok"), ("pasv", "fail"), ("write", "skip")), Exit.DATA),
        ((("login", "ok"), ("write", "fail")), Exit.DATA),
    ],
)
def test_exit_status_follows_the_first_failed_stage(
    stages: tuple[tuple[str, Status], ...], code: Exit
) -> None:
    report = _report(*stages)
    assert report.exit_code == code
    assert report.as_dict()["ok"] is (code == Exit.OK)
