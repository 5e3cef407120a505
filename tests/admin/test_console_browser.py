"""The web console clicked through in headless Debian Chromium (Selenium, /usr/bin/chromedriver).

Screenshots of every page land in test-artifacts/console/ (PASV_ARTIFACTS moves them).
"""

from __future__ import annotations

import ftplib
import io
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.admin.support import AdminServer, admin_server_fixture, wait_for

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("PASV_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
    reason="Debian chromium and chromium-driver are installed by make test",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path / "data")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,1000",
        "--lang=en",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


SIZE = 4 << 20


def _download(server: AdminServer, into: bytearray) -> None:
    with server.ftp() as bob:
        bob.retrbinary("RETR big.bin", into.extend)


class Console:
    def __init__(self, driver: WebDriver, base: str, shots: Path) -> None:
        self.driver, self.base, self.shots = driver, base, shots

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def fill(self, element_id: str, text: str) -> None:
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def click(self, element_id: str) -> None:
        """Click something that loads a page, and wait for the new page."""
        self.press(self.driver.find_element(By.ID, element_id))

    def press(self, element: WebElement) -> None:
        self.driver.execute_script("window.pasvOldPage = true")
        element.click()
        self.wait_for_new_page()

    def run_and_wait(self, script: str) -> None:
        self.driver.execute_script("window.pasvOldPage = true")
        self.driver.execute_script(script)
        self.wait_for_new_page()

    def wait_for_new_page(self) -> None:
        """Until the page the click led to has loaded (a new document has no pasvOldPage)."""
        WebDriverWait(self.driver, 20, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return !window.pasvOldPage && document.readyState === 'complete'"
            )
        )

    def text(self, element_id: str = "") -> str:
        if not element_id:
            return str(self.driver.find_element(By.TAG_NAME, "body").text)
        return str(self.driver.find_element(By.ID, element_id).text)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        return path


def test_the_console_is_clicked_through(server: AdminServer, browser: WebDriver) -> None:
    shots = ARTIFACTS / "console"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    ui = Console(browser, server.base, shots)

    # log in: a wrong token first, then the right one; the token is never in a URL
    ui.open("/console/")
    assert "/console/login" in browser.current_url
    ui.fill("token", "pasv_wrong")
    ui.click("login-token")
    assert "Login failed" in ui.text("login-error")
    ui.shot("01-login")
    ui.fill("token", server.write_token)
    ui.click("login-token")
    assert ui.text("session-count") == "0"
    assert server.write_token not in browser.current_url

    # add a user, then log in as it over FTP so the dashboard has a live session
    ui.open("/console/users")
    ui.fill("new-user", "carol")
    ui.fill("new-password", "carol-pw")
    ui.click("user-add-button")
    assert "User added: carol" in ui.text()
    assert "carol" in ui.text("users")
    ui.shot("02-users")
    carol = server.ftp("carol", "carol-pw")
    carol.voidcmd("NOOP")

    def carol_is_live() -> bool:
        ui.open("/console/")
        return "carol" in ui.text("sessions") and "NOOP" in ui.text("sessions")

    wait_for(carol_is_live, what="carol's session on the dashboard")

    # a deny rule for carol's address: her open session is ended, her next login refused, and
    # the console shows it
    ui.open("/console/rules")
    ui.driver.find_element(By.CSS_SELECTOR, "#ip-action option[value=deny]").click()
    ui.fill("ip-network", "127.0.0.0/8")
    ui.fill("ip-user", "carol")
    ui.click("ip-add-button")
    assert "127.0.0.0/8" in ui.text("ip-rules")
    ui.driver.find_element(By.CSS_SELECTOR, "#rule-action option[value=deny]").click()
    ui.fill("rule-perms", "RETR")
    ui.fill("rule-path", "/private")
    ui.fill("rule-to", "carol")
    ui.click("rule-add-button")
    assert "/private" in ui.text("rules")
    ui.shot("03-rules")

    def refused() -> bool:
        try:
            server.ftp("carol", "carol-pw").quit()
        except ftplib.error_perm as exc:
            return str(exc).startswith("530")
        return False

    wait_for(refused, what="carol's login refused")

    def dashboard_shows_both() -> bool:
        ui.open("/console/")
        text = ui.text("events")
        return "login refused" in text and "unauthorized IP address" in text

    wait_for(dashboard_shows_both, what="the refusal on the dashboard")
    with pytest.raises(ftplib.error_temp, match=r"^421 .*no longer allowed for carol"):
        carol.voidcmd("NOOP")  # the session open before the rule was ended with the reason
    carol.close()
    assert "carol" not in ui.text("sessions")

    # the user editor: bob's downloads limited, so one runs long enough to be seen live
    with server.ftp() as bob:
        bob.storbinary("STOR big.bin", io.BytesIO(os.urandom(SIZE)))
    ui.open("/console/users")
    form = ui.driver.find_element(By.CSS_SELECTOR, "form[data-user=bob]")
    field = form.find_element(By.NAME, "settings")
    field.clear()
    field.send_keys("download_rate=400K quota_bytes=1G")
    ui.press(form.find_element(By.TAG_NAME, "button"))
    assert "Saved: bob" in ui.text()

    def server_has_it() -> bool:  # both settings were written together: the quota shows both
        with server.ftp() as probe:
            return "Quota:" in probe.sendcmd("SITE QUOTA")

    wait_for(server_has_it, what="bob's new settings in the running server")
    got = bytearray()
    downloader = threading.Thread(target=_download, args=(server, got))
    downloader.start()
    try:

        def live_transfer() -> bool:
            with server.api() as api:
                samples = api.get("/api/v1/throughput").json()
            if sum(x["download"] > 0 for x in samples) < 2:
                return False  # the chart shows a line once two samples saw the download
            ui.open("/console/")
            rows = ui.text("sessions")
            return "download /big.bin" in rows and "KiB/s" in rows

        wait_for(live_transfer, timeout=15, what="the download live on the dashboard")
        ui.shot("04-dashboard")
    finally:
        downloader.join(30)
    assert len(got) == SIZE
    ui.open("/console/log")
    assert "login refused" in ui.text("events") and "ip.add" in ui.text("audit")
    ui.shot("05-log")

    # ban and unban an address
    ui.open("/console/bans")
    ui.fill("ban-address", "192.0.2.7")
    ui.click("ban-add-button")
    assert "192.0.2.7" in ui.text("bans")
    ui.shot("06-bans")
    ui.press(ui.driver.find_element(By.CSS_SELECTOR, "#bans button.unban"))
    assert "Unbanned: 192.0.2.7" in ui.text()
    assert "192.0.2.7" not in ui.text("bans")

    # why was this refused?
    ui.open("/console/why")
    ui.fill("why-user", "carol")
    ui.fill("why-perm", "RETR")
    ui.fill("why-path", "/private/report.pdf")
    ui.click("why-button")
    answer = ui.text("why-answer")
    assert "Denied" in answer and "deny RETR on /private to carol" in answer
    ui.shot("07-why")

    # transfers, searched
    with server.ftp() as bob:
        bob.storlines("STOR console-note.txt", io.BytesIO(b"hello\n"))
    ui.open("/console/transfers?user=bob&path=console-note")
    assert "console-note.txt" in ui.text("transfers")
    ui.shot("08-transfers")

    # in Chinese
    ui.click("lang-zh-Hans")
    ui.open("/console/why?user=carol&perm=RETR&path=/private/x")
    assert "为什么被拒绝" in ui.text() and "拒绝" in ui.text("why-answer")
    ui.shot("09-why-zh-Hans")

    # a form posted without the CSRF token changes nothing
    ui.open("/console/bans")
    ui.run_and_wait(
        "document.querySelector('#ban-add input[name=csrf]').value = 'forged';"
        "document.getElementById('ban-address').value = '192.0.2.9';"
        "document.getElementById('ban-add').submit();"
    )
    assert "CSRF" in ui.text()
    ui.open("/console/bans")
    assert "192.0.2.9" not in ui.text("bans")

    ui.click("logout")
    ui.open("/console/users")
    assert "/console/login" in browser.current_url
