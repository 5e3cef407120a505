"""`pasv explain`: the knowledge base covers the seed, recognises texts and decodes addresses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pasv.diagnostics.classify import classify_message
from pasv.diagnostics.explain import explain
from pasv.diagnostics.knowledge import LANGS, knowledge

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
# The reply codes that start a line in the seed document (`grep -oE '^[0-9]{3} '`).
SEED_CODES = (
    "110 120 125 150 200 202 211 212 213 214 215 220 221 225 226 227 230 250 257 331 332 350 "
    "421 425 426 450 451 452 500 501 502 503 504 530 532 550 551 552 553"
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def seed_codes() -> list[int]:
    return [int(c) for c in SEED_CODES.split()]


@pytest.mark.skipif(not SEED.is_dir(), reason="the seed document is not beside this checkout")
def test_the_code_list_is_the_seeds() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SEED.glob("*.txt"))
    assert sorted({int(c) for c in re.findall(r"^([1-5]\d\d) ", text, re.M)}) == seed_codes()


@pytest.mark.parametrize("code", seed_codes())
def test_every_seed_code_has_meaning_causes_and_fixes_in_both_languages(code: int) -> None:
    entry = knowledge().codes[code]
    for lang in LANGS:
        advice = entry[lang]
        assert advice.meaning and advice.causes and advice.fixes
        assert all(item.strip() for item in (*advice.causes, *advice.fixes))
    assert not CJK.search(entry["en"].meaning + "".join(entry["en"].fixes))
    for zh in ("zh-Hans", "zh-Hant"):
        assert CJK.search(entry[zh].meaning) and all(CJK.search(f) for f in entry[zh].fixes)


def test_every_known_text_has_both_languages() -> None:
    for entry in knowledge().texts:
        for lang in LANGS:
            advice = entry.advice[lang]
            assert advice.title and advice.meaning and advice.causes and advice.fixes, entry.kind
        assert CJK.search(entry.advice["zh-Hans"].title), entry.kind
        assert CJK.search(entry.advice["zh-Hant"].title), entry.kind


@pytest.mark.parametrize(
    ("line", "kind", "values"),
    [
        ("421 Too many users - please try again later.", "too_many_users", {}),
        ("530 Sorry, no ANONYMOUS access allowed.", "anonymous_refused", {}),
        ("530 Not logged in, unauthorized IP address.", "unauthorized_ip", {}),
        (
            "530 Not logged in, only 1 session(s) from same IP allowed at a time.",
            "session_limit_per_ip",
            {"n": "1"},
        ),
        (
            "530 Not logged in, only one session from same IP allowed at a time.",
            "session_limit_per_ip",
            {"n": "1"},
        ),
        ("550 Sorry, insufficient credit for download - upload first.", "insufficient_credit", {}),
        ("553 Prohibited file name: secret.txt", "prohibited_name", {"name": "secret.txt"}),
        ("552 Exceeded storage allocation.", "storage_exceeded", {}),
        (
            "421 Too many connection attempts from your address; banned for 15 minutes.",
            "banned",
            {"minutes": "15"},
        ),
        ("530 not logged in.", "login_incorrect", {}),
        ("530 Login incorrect.", "login_incorrect", {}),
        ("ERROR: [Data]: Connection refused", "data_connection_refused", {}),
        ("error: connection timed out", "connection_timed_out", {}),
        ("Disconnected from server.", "disconnected_at_connect", {}),
        ("Connection attempt failed. Waiting for retry...", "disconnected_at_connect", {}),
        ("響應: 530 Not logged in, unauthorized IP address", "unauthorized_ip", {}),
        ("501 REST offset 999 is beyond the end of the file (10 bytes).", "rest_beyond_end", {}),
        ("550 No name in /reports matches *.pdf.", "no_pattern_match", {}),
        ("450 No files found", "no_pattern_match", {}),
        (
            "451 log.txt became shorter while it was being sent: 9 bytes were due. Download it "
            "again. Transfer stopped after 4 bytes.",
            "file_shrank",
            {},
        ),
    ],
)
def test_well_known_texts_are_recognised(line: str, kind: str, values: dict[str, str]) -> None:
    [found] = explain(line)
    assert found.diagnosis is not None
    assert found.diagnosis.kind == kind
    assert found.diagnosis.values == values


def test_placeholders_are_filled_from_the_text() -> None:
    [found] = explain("421 Too many connection attempts from your address; banned for 15 minutes.")
    for lang in LANGS:
        rendered = found.render(lang)["specific"]
        texts = [rendered["title"], rendered["meaning"], *rendered["causes"], *rendered["fixes"]]
        assert "15" in rendered["meaning"] and not any("{" in t for t in texts)


def test_a_bare_code_gives_its_general_entry_without_a_specific_one() -> None:
    [found] = explain("425")
    rendered = found.render("zh-Hans")
    assert rendered["code"] == 425 and "specific" not in rendered
    assert rendered["general"]["meaning"] == knowledge().codes[425]["zh-Hans"].meaning


def test_a_code_without_an_entry_is_explained_by_its_digits() -> None:
    rendered = explain("431 Need some unavailable resource.")[0].render("en")
    assert rendered["recognised"]
    assert rendered["general"]["causes"][0].startswith("4xx")
    assert rendered["general"]["causes"][1].startswith("x3x")


def test_nonsense_is_not_recognised() -> None:
    [found] = explain("the printer is on fire")
    assert not found.recognised
    assert "unknown" in found.render("en")


def test_a_pasted_log_explains_each_meaningful_line() -> None:
    log = (
        "Connecting to 192.0.2.7, Port 21 (#1)\n"
        "227 Entering Passive Mode (60,165,133,154,13,31)\n"
        "ERROR: [Data]: Connection refused\n"
    )
    found = explain(log)
    assert [e.code for e in found] == [227, None]
    assert found[1].diagnosis is not None and found[1].diagnosis.kind == "data_connection_refused"


def test_227_is_decoded_with_the_arithmetic() -> None:
    [found] = explain("227 Entering Passive Mode (60,165,133,154,13,31)")
    decoded = found.render("en")["decoded"]
    assert (decoded["host"], decoded["port"], decoded["category"]) == (
        "60.165.133.154",
        3359,
        "public",
    )
    assert "13*256+31 = 3359" in decoded["explanation"][0]
    assert "13*256+31 = 3359" in found.render("zh-Hans")["decoded"]["explanation"][0]


def test_227_with_a_private_address_names_the_nat_setting() -> None:
    [found] = explain("227 Entering Passive Mode (172,16,101,104,7,254)")
    decoded = found.render("en")["decoded"]
    assert decoded["port"] == 7 * 256 + 254 == 2046
    assert decoded["category"] == "private"
    assert "passive.address" in decoded["explanation"][1]


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("227 Entering Passive Mode (0,0,0,0,195,80)", "unspecified"),
        ("227 Entering Passive Mode (127,0,0,1,195,80)", "loopback"),
        ("227 Entering Passive Mode (100,64,1,2,195,80)", "shared"),
        ("227 Entering Passive Mode (192,0,2,10,195,80)", "reserved"),
        ("227 Entering Passive Mode (169,254,3,4,195,80)", "link_local"),
        ("227 Entering Passive Mode (10,1,2,3,195,80)", "private"),
    ],
)
def test_address_categories(line: str, category: str) -> None:
    [found] = explain(line)
    assert found.decoding is not None and found.decoding.category == category
    assert found.decoding.port == 195 * 256 + 80


def test_229_is_decoded() -> None:
    [found] = explain("229 Entering Extended Passive Mode (|||50123|)")
    assert found.decoding is not None
    assert (found.decoding.host, found.decoding.port) == (None, 50123)
    assert "50123" in found.render("en")["decoded"]["explanation"][0]


def test_port_is_decoded_as_the_clients_address() -> None:
    [found] = explain("PORT 192,168,1,20,4,17")
    decoded = found.render("en")["decoded"]
    assert (decoded["host"], decoded["port"]) == ("192.168.1.20", 4 * 256 + 17)
    assert "4*256+17 = 1041" in decoded["explanation"][0]
    assert "passive mode" in decoded["explanation"][1]


def test_port_to_a_privileged_port_is_flagged() -> None:
    [found] = explain("命令: PORT 203,0,113,5,0,25")
    assert found.decoding is not None and found.decoding.port == 25
    assert any("below 1024" in line for line in found.decoding.lines("en"))


def test_eprt_is_decoded_for_ipv6_and_ipv4() -> None:
    [v6] = explain("EPRT |2|2001:db8::7|50001|")
    [v4] = explain("EPRT |1|10.0.0.9|50002|")
    assert v6.decoding is not None and v4.decoding is not None
    assert (v6.decoding.host, v6.decoding.port, v6.decoding.category) == (
        "2001:db8::7",
        50001,
        "reserved",
    )
    assert (v4.decoding.host, v4.decoding.port, v4.decoding.category) == (
        "10.0.0.9",
        50002,
        "private",
    )
    assert "IPv6" in v6.decoding.lines("en")[0]


def test_a_malformed_227_still_gets_the_code_entry() -> None:
    [found] = explain("227 Entering Passive Mode (999,1,2,3,4,5)")
    assert found.decoding is None and found.render("en")["general"]


@pytest.mark.parametrize(
    ("line", "problem", "said"),
    [
        ("227 Entering Passive Mode (999,1,2,3,4,5)", "octet", "999.1.2.3 is not an IPv4"),
        ("227 Entering Passive Mode (1,2,3,4,300,5)", "port", "300*256+5 = 76805 is beyond"),
        ("227 Entering Passive Mode (127,0,0,1,0,0)", "zero", "nobody can connect to port 0"),
        ("227 Entering Passive Mode", "missing", "no address in the form"),
        ("229 Entering Extended Passive Mode (|||0|)", "zero", "nobody can connect to port 0"),
        ("229 Entering Extended Passive Mode (|||70000|)", "port", "70000 is beyond"),
        ("229 Entering Extended Passive Mode (|||)", "missing", "no port in the form"),
    ],
)
def test_an_address_nobody_can_connect_to_is_said_to_be_a_broken_reply(
    line: str, problem: str, said: str
) -> None:
    [found] = explain(line)
    for lang in LANGS:
        out = found.render(lang)
        assert out["decoded"]["problem"] == problem and "unknown_text" not in out
        assert len(out["decoded"]["explanation"]) == 2
        # The code's meaning only: its fixes are for a well-formed reply ("decode the numbers")
        assert out["general"]["meaning"]
        assert out["general"]["causes"] == out["general"]["fixes"] == []
    english = found.render("en")["decoded"]["explanation"]
    assert said in english[0]
    other = "EPSV (229) instead of PASV" if line.startswith("227") else "PASV (227) instead"
    assert "broken" in english[1] and other in english[1]
    assert "SITE PASVINFO" in found.render("zh-Hans")["decoded"]["explanation"][1]


def test_a_bare_227_or_229_is_not_called_broken() -> None:
    for code in ("227", "229"):
        [found] = explain(code)
        assert "decoded" not in found.render("en")


@pytest.mark.parametrize(
    ("line", "kind"),
    [  # Windows' own messages, as IIS FTP passes them on in Chinese Windows (zh-CN, zh-TW)
        ("550 系统找不到指定的文件。", "not_found"),
        ("550 系統找不到指定的檔案。", "not_found"),
        ("550 系统找不到指定的路径。", "not_found"),
        ("550 拒绝访问。", "permission_denied"),
        ("550 存取被拒。", "permission_denied"),
        ("452 磁盘空间不足。", "disk_full"),
        ("452 磁碟空間不足。", "disk_full"),
        ("550 另一个程序正在使用此文件，进程无法访问。", "file_busy"),
        ("550 程序無法存取檔案，因為檔案正由另一個程序使用。", "file_busy"),
        # strerror() in Chinese locales, as ProFTPD built with NLS sends them
        ("550 a.txt: 没有那个文件或目录", "not_found"),
        ("550 a.txt: 权限不够", "permission_denied"),
        ("552 a.bin: 设备上没有空间", "disk_full"),
        # localised servers' own wordings
        ("530 用户名或密码错误", "login_incorrect"),
        ("530 密碼錯誤", "login_incorrect"),
        ("530 不允许匿名登录", "anonymous_refused"),
        ("421 服务器连接数已满，请稍后再试。", "too_many_users"),
        ("421 來自同一 IP 位址的連線過多", "session_limit_per_ip"),
        ("421 您的 IP 已被封禁 30 分钟", "banned"),
        # the customary replies as localised servers word them
        ("553 禁止的文件名: a.txt", "prohibited_name"),
        ("553 文件名不允许", "prohibited_name"),
        ("530 未登录,未经授权的 IP 地址", "unauthorized_ip"),
        ("530 未登入,未經授權的 IP 位址", "unauthorized_ip"),
        ("421 用户太多,请稍后再试", "too_many_users"),
        ("421 使用者太多,請稍後再試", "too_many_users"),
        ("421 来自同一 IP 的用户太多", "session_limit_per_ip"),
        ("550 下载积分不足,请先上传", "insufficient_credit"),
        ("550 流量不足", "insufficient_credit"),
        ("552 超出存储分配", "storage_exceeded"),
        ("552 超出儲存配額", "storage_exceeded"),
        ("425 无法打开数据连接", "data_connection_failed"),
        ("425 無法開啟資料連線", "data_connection_failed"),
        ("426 连接关闭,传输中止", "transfer_aborted"),
        ("426 連線關閉,傳輸中止", "transfer_aborted"),
    ],
)
def test_chinese_replies_of_real_servers_are_recognised(line: str, kind: str) -> None:
    [found] = explain(line)
    out = found.render("zh-Hans")
    assert out["kind"] == kind and "unknown_text" not in out
    assert out["specific"]["fixes"] and CJK.search(out["specific"]["title"])


def test_a_425_names_a_wrong_server_among_its_causes() -> None:
    """425 from the server the client should not be talking to: the address to check."""
    [found] = explain("425 Can't open data connection.")
    assert found.diagnosis is not None and found.diagnosis.kind == "data_connection_failed"
    for lang, words in (("en", "another FTP server"), ("zh-Hans", "不是其账户所在的 FTP 服务器"),
                        ("zh-Hant", "不是其賬戶所在的 FTP 伺服器")):  # fmt: skip
        assert any(words in cause for cause in found.render(lang)["specific"]["causes"])


@pytest.mark.parametrize(
    ("message", "kind"),
    [  # Chinese Windows' WinSock messages (zh-CN, zh-TW) and glibc's zh_CN/zh_TW strerror()
        ("由于目标计算机积极拒绝,无法连接。", "connection_refused"),
        ("由於目標電腦拒絕連線,因此無法連線。", "connection_refused"),
        ("拒绝连接", "connection_refused"),
        ("由于连接方在一段时间后没有正确答复或连接的主机没有反应,连接尝试失败。",
         "connection_timed_out"),
        ("連線嘗試失敗,因為連線對象有一段時間並未正確回應,或是連線建立失敗,因為連線的主機無法回應。",
         "connection_timed_out"),
        ("连接超时", "connection_timed_out"),
        ("連線逾時", "connection_timed_out"),
        ("错误: 20 秒后无活动,连接超时", "connection_timed_out"),
        ("远程主机强迫关闭了一个现有的连接。", "disconnected_at_connect"),
        ("現有連線已被遠端主機強制關閉。", "disconnected_at_connect"),
        ("连接被对方重设", "disconnected_at_connect"),
        ("你的主机中的软件中止了一个已建立的连接。", "disconnected_at_connect"),
        ("套接字操作尝试一个无法连接的主机。", "host_unreachable"),
        ("没有到主机的路由", "host_unreachable"),
        ("网络不可达", "host_unreachable"),
        ("不知道这样的主机。", "dns_failure"),
        ("未知的名称或服务", "dns_failure"),
        ("域名解析暂时失败", "dns_failure"),
    ],
)  # fmt: skip
def test_chinese_client_errors_are_recognised(message: str, kind: str) -> None:
    [found] = explain(message)
    assert found.diagnosis is not None and found.diagnosis.kind == kind
    on_data = classify_message(message, "data")
    if kind in ("connection_refused", "connection_timed_out"):
        assert on_data is not None and on_data.kind == f"data_{kind}"
