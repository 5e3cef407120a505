"""Reply languages (RFC 2640 LANG): every refusal text exists in English and Simplified Chinese
with the same placeholders; a Chinese session's refusals are Chinese with the same codes; FEAT
lists LANG as RFC 2640 formats it; operator texts per language."""

from __future__ import annotations

import ast
import dataclasses
import ftplib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

import pasv
import pasv.protocol.errors as errors
from pasv.policy.models import Action, Perm, Rule, Subject
from pasv.policy.options import Messages
from pasv.server.language import LANGUAGES, SECTIONS, catalogue, placeholders
from tests.support.live import USER, LiveServer, start_server

SRC = Path(pasv.__file__).parent
# where refusals are made that reach a client of the server
REFUSING = [*sorted((SRC / "server").rglob("*.py")), *sorted((SRC / "policy").glob("*.py")),
            *sorted((SRC / "storage").glob("*.py")), SRC / "protocol" / "addresses.py",
            SRC / "protocol" / "parser.py"]  # fmt: skip
# an OSError's own words (strerror) stay the operating system's
ENGLISH_ONLY = {("storage/localio.py", "LocalError")}
ERROR_TYPES = {
    name for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.FtpError)
}  # fmt: skip


def _calls(path: Path) -> Iterator[tuple[str, ast.expr]]:
    """(refusal type, first argument) of every refusal made in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in ERROR_TYPES:
                yield name, node.args[0]


def _said(call: ast.expr) -> tuple[str, str, str] | None:
    """(function, key, inline template) of ``say("key", …)``, ``…messages.say("key", …)`` or
    ``said("replies", "key", "template", …)``."""
    if not isinstance(call, ast.Call):
        return None
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    consts = [a.value for a in call.args if isinstance(a, ast.Constant)]
    if name == "say" and consts:  # Messages.say is called on the messages: an attribute
        return ("messages" if isinstance(func, ast.Attribute) else "say"), str(consts[0]), ""
    if name == "said" and len(consts) >= 2:
        template = consts[2] if len(consts) > 2 else ""
        return name, str(consts[1]), str(template)
    return None


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
@pytest.mark.parametrize("section", SECTIONS)
def test_every_text_exists_in_every_language_with_the_same_placeholders(
    section: str, lang: str
) -> None:
    english, other = catalogue("en")[section], catalogue(lang)[section]
    assert set(other) == set(english), f"{lang} {section}: keys differ"
    for key, template in english.items():
        assert placeholders(other[key]) == placeholders(template), f"{lang} {section}.{key}"
        assert other[key].strip(), f"{lang} {section}.{key} is empty"


def test_the_english_catalogue_says_what_the_code_says() -> None:
    english = catalogue("en")
    defaults = {
        name: vars(getattr(errors, name))["default_text"]
        for name in ERROR_TYPES
        if "default_text" in vars(getattr(errors, name))
    }
    assert english["errors"] == defaults
    messages = {
        f.name: getattr(Messages(), f.name)
        for f in dataclasses.fields(Messages)
        if f.name != "translations"
    }
    assert english["messages"] == messages
    assert all(key == text for key, text in english["texts"].items())


def test_every_refusal_text_is_in_the_catalogue() -> None:
    """A fixed text must be listed by its words, a text with values made with say() or said();
    anything else would reach a Chinese session in English."""
    english = catalogue("en")
    seen = 0
    for path in REFUSING:
        where = str(path.relative_to(SRC))
        for name, arg in _calls(path):
            seen += 1
            if isinstance(arg, ast.Constant):
                assert arg.value in english["texts"], f"{where}: {name}({arg.value!r})"
            elif isinstance(arg, ast.JoinedStr):
                assert (where, name) in ENGLISH_ONLY, f"{where}: {name}(f-string) is not sayable"
            elif (found := _said(arg)) is not None:
                function, key, template = found
                table = english["messages"] if function == "messages" else english["replies"]
                assert key in table, f"{where}: {key} is not in the catalogue"
                assert not template or template == table[key], f"{where}: {key} differs"
    assert seen > 130  # the scan found the refusals (141 when it was written)


def test_every_catalogue_key_the_code_names_exists_and_none_is_unused() -> None:
    english = catalogue("en")
    named: set[str] = set()
    for path in REFUSING:
        source = path.read_text(encoding="utf-8")
        ours = "from pasv.server.language import" in source  # not another module's say()
        for node in ast.walk(ast.parse(source)):
            found = _said(node) if isinstance(node, ast.Call) else None
            if found is not None and (found[0] == "said" or (found[0] == "say" and ours)):
                named.add(found[1])
    replies = set(english["replies"])
    assert replies - named == set(), "unused reply texts"
    assert named - replies == set(), "texts missing from en.toml"


# --- on the wire ------------------------------------------------------------------------------
def _refused(ftp: ftplib.FTP, line: str) -> str:
    with pytest.raises(ftplib.Error) as caught:
        ftp.sendcmd(line)
    return str(caught.value)


def _feat_lang(ftp: ftplib.FTP) -> str:
    lines = [line.strip() for line in ftp.sendcmd("FEAT").splitlines()[1:-1]]
    return next(line for line in lines if line.startswith("LANG "))


def test_feat_lists_the_languages_with_the_current_one_marked(live: LiveServer) -> None:
    ftp = live.connect()
    assert _feat_lang(ftp) == "LANG EN*;ZH"  # RFC 2640: lang-tag ["*"] *(";" lang-tag ["*"])
    assert ftp.sendcmd("LANG ZH") == "200 现在使用简体中文回复。"
    assert _feat_lang(ftp) == "LANG EN;ZH*"
    assert ftp.sendcmd("LANG EN") == "200 Replies are now in English."
    assert _feat_lang(ftp) == "LANG EN*;ZH"


@pytest.mark.parametrize("tag", ["zh", "ZH-CN", "zh-Hans", "zh-SG"])
def test_simplified_chinese_tags_and_opts_lang(live: LiveServer, tag: str) -> None:
    ftp = live.connect()
    assert ftp.sendcmd(f"OPTS LANG {tag}") == "200 现在使用简体中文回复。"
    assert ftp.sendcmd("NOOP") == "200 NOOP 可以。"
    assert ftp.sendcmd("LANG") == "200 Replies are in the server's default language again."
    assert ftp.sendcmd("NOOP") == "200 NOOP ok."


def test_unavailable_languages_are_504_with_the_reason(live: LiveServer) -> None:
    ftp = live.connect()
    assert _refused(ftp, "LANG zh-TW") == (
        "504 LANG zh-TW: replies in Traditional Chinese are not available; LANG ZH gives "
        "Simplified Chinese."
    )
    assert _refused(ftp, "LANG fr").startswith("504 LANG fr is not available")
    assert ftp.sendcmd("NOOP") == "200 NOOP ok."  # still English


# (command, English reply, Chinese reply): the same code in both
REFUSALS = [
    ("FOO", "500 Unknown command: FOO.", "500 未知命令:FOO。"),
    ("CWD", "501 CWD needs an argument. Syntax: CWD <dir> (change working directory)",
     "501 CWD 需要一个参数。Syntax: CWD <dir> (change working directory)"),
    ("RETR missing.txt", "550 No such file or directory.", "550 没有这个文件或目录。"),
    ("TYPE X", "501 Unknown TYPE X; use A (ASCII) or I (binary).",
     "501 未知的 TYPE X;请使用 A(ASCII)或 I(二进制)。"),
    ("PORT 1,2,3,4,5,999", "501 Each address number must be 0-255, got '999'.",
     "501 每个地址数字必须在 0-255 之间,收到的是 '999'。"),
    ("RNTO x", "503 RNTO must come right after RNFR.", "503 RNTO 必须紧跟在 RNFR 之后。"),
    ("STOR secret/x", "550 Permission denied: STOR is not allowed for you at /secret/x.",
     "550 权限被拒绝:您不能在 /secret/x 执行 STOR。"),
    ("SITE UTIME x", "501 Usage: SITE UTIME <YYYYMMDDhhmmss> <path>, or SITE UTIME <path> "
     "<atime> <mtime> <ctime> UTC (times in UTC).",
     "501 用法:SITE UTIME <YYYYMMDDhhmmss> <路径>,或 SITE UTIME <路径> <访问时间> <修改时间> "
     "<创建时间> UTC(时间为 UTC)。"),
]  # fmt: skip


@pytest.fixture
def denied(live: LiveServer) -> LiveServer:
    (live.files / "secret").mkdir()
    rule = Rule(Action.DENY, (Subject.parse(USER),), "/secret", Perm.parse("STOR"))
    live.policy.add_rule(rule)
    live.reload_policy()
    return live


@pytest.mark.parametrize(("command", "english", "chinese"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_chinese_sessions_refusals_are_chinese_with_the_same_code(
    denied: LiveServer, command: str, english: str, chinese: str
) -> None:
    ftp = denied.login()
    assert _refused(ftp, command) == english
    ftp.sendcmd("LANG ZH")
    assert _refused(ftp, command) == chinese


def test_the_login_path_in_chinese(live: LiveServer) -> None:
    ftp = live.connect()
    ftp.sendcmd("LANG ZH")
    assert _refused(ftp, "PWD") == "530 请先用 USER 和 PASS 登录。"
    assert ftp.sendcmd(f"USER {USER}") == f"331 {USER} 需要密码。"
    assert _refused(ftp, "PASS wrong") == "530 登录失败:用户名不存在或密码错误。"
    ftp.sendcmd(f"USER {USER}")
    assert ftp.sendcmd("PASS s3cret-pw") == f"230 用户 {USER} 已登录,请继续。"
    assert ftp.sendcmd("MKD 新目录") == '257 "/新目录" 已创建。'
    # REIN starts afresh, in the default language (its reply too)
    assert ftp.sendcmd("REIN") == "220 Session reset; log in again with USER and PASS."


def test_the_default_language_and_the_operators_texts_per_language(tmp_path: Path) -> None:
    live = start_server(
        tmp_path / "data",
        server={"language": "zh", "banner": "Our FTP.", "banners": {"zh-CN": "我们的 FTP。"}},
    )
    try:
        live.policy.set_message("permission.zh", "不行:{path} 不许 {perm}。")
        live.policy.set_message("prohibited_name", "Name {name} is not allowed here.")
        live.policy.add_rule(Rule(Action.DENY, (Subject.parse(USER),), "/ro", Perm.parse("STOR")))
        live.policy.set_option("", "forbidden_names", "*.exe")
        live.reload_policy()
        ftp = live.connect()
        assert ftp.getwelcome() == "220 我们的 FTP。"
        ftp.login(USER, "s3cret-pw")
        (live.files / "ro").mkdir()
        assert _refused(ftp, "STOR ro/x") == "550 不行:/ro/x 不许 STOR。"
        # changed in English only: the operator's English, not the catalogue's Chinese
        with pytest.raises(ftplib.error_perm) as caught:
            ftp.storbinary("STOR bad.exe", io.BytesIO(b"x"))
        assert str(caught.value) == "553 Name bad.exe is not allowed here."
        ftp.sendcmd("LANG EN")
        assert _refused(ftp, "STOR ro/x") == (
            "550 Permission denied: STOR is not allowed for you at /ro/x."
        )
    finally:
        live.stop()


def test_transfer_replies_in_chinese(live: LiveServer) -> None:
    (live.files / "f.bin").write_bytes(b"x" * 1000)
    ftp = live.login()
    ftp.sendcmd("LANG ZH")
    ftp.voidcmd("TYPE I")
    conn, _ = ftp.ntransfercmd("RETR f.bin")
    with conn:
        while conn.recv(65536):
            pass
    assert ftp.voidresp().startswith("226 传输完成:1000 字节,用时 ")
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.retrbinary("RETR missing.bin", lambda _: None)
    assert str(caught.value) == "550 没有这个文件或目录。"
