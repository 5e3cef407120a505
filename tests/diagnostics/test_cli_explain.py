"""`pasv explain` on the command line: languages, JSON and exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pasv.cli.main import app

runner = CliRunner()
NO_LOCALE: dict[str, str | None] = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": None}


def test_the_seed_227_example_is_decoded() -> None:
    result = runner.invoke(
        app, ["explain", "--lang", "en", "227 Entering Passive Mode (60,165,133,154,13,31)"]
    )
    assert result.exit_code == 0
    assert "60.165.133.154" in result.output and "13*256+31 = 3359" in result.output


def test_language_follows_the_locale_and_the_flag_wins() -> None:
    zh_env = {**NO_LOCALE, "LANG": "zh_CN.UTF-8"}
    zh = runner.invoke(app, ["explain", "425"], env=zh_env)
    en = runner.invoke(app, ["explain", "--lang", "en", "425"], env=zh_env)
    assert "无法打开数据连接" in zh.output
    assert "Can't open data connection" in en.output and "无法" not in en.output
    assert (
        runner.invoke(app, ["explain", "425"], env={**zh_env, "LC_ALL": "C"}).output.count("无法")
        == 0
    )


def test_json_output() -> None:
    result = runner.invoke(
        app, ["explain", "--json", "--lang", "zh", "530 Sorry, no ANONYMOUS access allowed."]
    )
    assert result.exit_code == 0
    [entry] = json.loads(result.output)
    assert entry["kind"] == "anonymous_refused" and entry["code"] == 530
    assert entry["specific"]["title"] == "不允许匿名登录"


def test_unknown_input_exits_1_and_a_bad_language_exits_2() -> None:
    unknown = runner.invoke(app, ["explain", "--lang", "en", "hello there"], env=NO_LOCALE)
    assert unknown.exit_code == 1 and "does not recognise" in unknown.output
    assert runner.invoke(app, ["explain", "--lang", "fr", "425"]).exit_code == 2
