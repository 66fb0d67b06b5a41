"""The helpdesk console in a real browser (headless Debian chromium driven by Playwright),
with the real bot (``twilio_bot``: ``rasa run`` + action server + local Twilio stand-in):

a WhatsApp user escalates through the signed Twilio webhook; an agent (created with the
console's ``agent`` command, password on stdin) signs in and sees the ticket appear in the
inbox without reloading; replies, and the reply reaches the stand-in addressed to that user;
the user's next message shows in the console and gets no bot answer; the agent closes with a
note, the user is told, and the bot answers again. Screenshots go to results/console/
(docs/helpdesk.md shows them)."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from lpse_assist.console.store import ConsoleStore
from lpse_assist.tickets import TicketStore
from tests.conftest import ROOT, TwilioBot
from tests.deploy.topology import free_port, tail
from tests.lpse_assist.simulator.test_simulator_browser import browser  # noqa: F401 (fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

AGENT, PASSWORD = "petugas.uji", "sandi-uji-" + str(os.getpid())
REFERENCE = re.compile(r"LPSE-\d{8}-\d{4}")
SCREENSHOTS = ROOT / "results" / "console"
UI_TIMEOUT_MS = 30_000


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def console(twilio_bot: TwilioBot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m lpse_assist.console`` on the bot's database, sending through the stand-in;
    an agent account made with the ``agent`` command (removed afterwards, so later tests
    see a bot without a console)."""
    env = {
        **twilio_bot.env,
        "CONSOLE_PORT": str(free_port()),
        # The public webhook URL: Twilio reports deliveries to the bot's /status next to it.
        "TWILIO_WEBHOOK_URL": twilio_bot.webhook_url,
    }
    created = subprocess.run(
        [sys.executable, "-m", "lpse_assist.console", "agent", AGENT],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    log = tmp_path_factory.mktemp("console") / "console.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "lpse_assist.console"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{env['CONSOLE_PORT']}"
    store = TicketStore(f"sqlite:///{twilio_bot.env['TRACKER_DB']}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/login", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"console did not start:\n{tail(log)}")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        ConsoleStore(store.engine).remove_agent(AGENT)
        store.dispose()
        # Numbers are masked in the console's log, messages are not logged at all.
        assert not re.search(r"\+62\d{9,}", log.read_text(errors="replace"))


def say(bot: TwilioBot, user: str, body: str) -> list[str]:
    result = bot.inbound(**{"from": user, "body": body})
    assert result["http_status"] == 200, result
    return [m["body"] for m in result["messages"]]


def test_escalation_reply_user_message_close_in_the_console(
    twilio_bot: TwilioBot,
    console: str,
    browser: Browser,  # noqa: F811
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bot = twilio_bot
    user = "whatsapp:+62877" + "".join(random.choices("0123456789", k=7))
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        # --- the agent signs in; the inbox is open before the user escalates.
        page.goto(console)
        page.wait_for_selector("[data-testid=login-name]")
        page.screenshot(path=str(SCREENSHOTS / "login.png"))
        page.fill("[data-testid=login-name]", AGENT)
        page.fill("[data-testid=login-password]", PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_selector("[data-testid=inbox]")
        page.wait_for_selector("body[data-ready=true]")

        # --- a WhatsApp user escalates through the signed webhook.
        assert "Lainnya" in "\n".join(say(bot, user, "gak bisa login"))
        assert "LPSE lain" in "\n".join(say(bot, user, "2"))
        escalation = "\n".join(say(bot, user, "2"))
        found = REFERENCE.findall(escalation)
        assert len(found) == 1, escalation
        reference = found[0]
        # The helpdesk answers here: no local reference to take to LKPP's numbers.
        assert "akan membalas di percakapan ini" in escalation
        assert "Sebutkan nomor ini" not in escalation

        # --- the ticket appears in the inbox by itself, number masked.
        row = page.locator(f"[data-testid=ticket-row][data-reference='{reference}']")
        row.wait_for()
        row_text = row.inner_text()
        assert "login_javascript_error" in row_text and "WhatsApp" in row_text
        assert "****" in row_text and user.split("+")[1] not in row_text
        assert "belum diambil" in row_text
        page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

        # --- the ticket page: the whole conversation, the whole number, the documents.
        row.locator("a").click()
        page.wait_for_selector("body[data-page=ticket][data-ready=true]")
        assert page.inner_text("[data-testid=full-number]") == user
        users = page.locator("[data-testid=msg-user]").all_inner_texts()
        assert any("gak bisa login" in text for text in users)
        assert page.locator("[data-testid=msg-bot]").count() >= 3
        assert page.locator("[data-testid=documents]").count() == 1

        reply = "Selamat siang, saya petugas helpdesk LPSE. Mohon kirim User ID Anda."
        page.fill("[data-testid=reply-body]", reply)
        page.click("[data-testid=reply-send]")
        assert "Balasan dikirim" in page.inner_text("[data-testid=notice]")
        delivered = page.locator("[data-testid=delivery]").last.inner_text()
        assert "WHATSAPP" in delivered and "sent" in delivered
        assert page.inner_text("[data-testid=holder]") == AGENT

        # --- the reply reaches the Twilio stand-in, addressed to that user.
        sent = wait_for(lambda: [m for m in bot.sent(to=user) if m["body"] == reply])
        assert len(sent) == 1 and sent[0]["via"] == "rest", bot.logs()
        assert sent[0]["from"] == bot.env["TWILIO_WHATSAPP_NUMBER"]
        # Twilio reports the delivery to the bot; the console shows it by itself.
        assert sent[0]["status_callback"].startswith(bot.webhook_url.rsplit("/", 1)[0])
        assert bot.status(sent[0]["sid"], "delivered")["http_status"] == 200
        page.locator("[data-testid=delivery]", has_text="diterima pengguna").wait_for()

        # --- the user answers: no bot answer, the message shows in the console by itself.
        assert say(bot, user, "User ID saya budi_cv <b>maju</b>") == []
        page.locator("[data-testid=msg-user]", has_text="budi_cv <b>maju</b>").wait_for()
        page.screenshot(path=str(SCREENSHOTS / "ticket.png"), full_page=True)

        # --- the agent closes with a note; the user is told; the bot answers again.
        page.fill("[data-testid=close-note]", "User ID sudah diaktifkan kembali.")
        page.click("[data-testid=close]")
        assert "Tiket ditutup" in page.inner_text("[data-testid=notice]")
        assert page.inner_text("[data-testid=ticket-status]") == "ditutup"
        closing = wait_for(
            lambda: [m for m in bot.sent(to=user) if "User ID sudah diaktifkan" in m["body"]]
        )
        assert closing and "Catatan petugas" in closing[0]["body"]
        assert say(bot, user, "halo"), "the bot must answer again after closing"

        # --- closed tickets: found by the number as staff type it; the audit trail.
        page.goto(f"{console}/closed?q=0{user.split('+62')[1]}")
        assert reference in page.inner_text("main")
        page.goto(f"{console}/tickets/{reference}")
        trail = page.inner_text("[data-testid=audit]")
        assert "menutup" in trail and "membalas" in trail and AGENT in trail

        # --- a phone-sized browser: the inbox still reads.
        phone = browser.new_context(viewport={"width": 390, "height": 780})
        phone.add_cookies(context.cookies())  # type: ignore[arg-type]
        mobile = phone.new_page()
        mobile.goto(f"{console}/tickets/{reference}")
        mobile.wait_for_selector("body[data-ready=true]")
        mobile.screenshot(path=str(SCREENSHOTS / "phone.png"))
        phone.close()
    except BaseException:
        page.screenshot(path=str(SCREENSHOTS / "failure.png"))
        raise
    finally:
        context.close()
