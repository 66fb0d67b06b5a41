"""The phone simulator in a real browser (headless Debian chromium driven by Playwright),
talking to the real bot (``twilio_bot``: ``rasa run`` + action server) through signed
Twilio webhooks: a whole WhatsApp conversation with tapped and typed numbered replies up to
the escalation with its ticket reference, then an SMS conversation with segment counts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lpse_assist.render import is_gsm7, sms_encoding, sms_segments
from tests.conftest import ROOT, TwilioBot
from tests.deploy.topology import free_port, tail

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, no sandbox (root in CI), and nothing that calls out to the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPLY_TIMEOUT_MS = 90_000  # the first turns wait for a cold model on a busy 2-core machine
SCREENSHOTS = ROOT / "results" / "simulator"


@pytest.fixture(scope="module")
def simulator(twilio_bot: TwilioBot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m lpse_assist.simulator`` on a free port, signing with the bot's token."""
    port = free_port()
    log = tmp_path_factory.mktemp("simulator") / "simulator.log"
    env = {**twilio_bot.env, "SIMULATOR_PORT": str(port)}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lpse_assist.simulator",
                "--webhook-url",
                twilio_bot.webhook_url,
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/config", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"simulator did not start:\n{tail(log)}")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def bot_messages(page: Page) -> Locator:
    return page.locator("main.chat:not([hidden]) [data-testid=bot-message]")


def send_and_wait(page: Page, text: str) -> Locator:
    """Type ``text``, send it, and return the locator of the new bot messages' last one."""
    before = bot_messages(page).count()
    page.fill("[data-testid=composer-input]", text)
    page.press("[data-testid=composer-input]", "Enter")
    return wait_for_reply(page, before)


def wait_for_reply(page: Page, before: int) -> Locator:
    page.wait_for_function(
        """([before]) => {
            const chat = document.querySelector('main.chat:not([hidden])');
            const bubbles = chat.querySelectorAll('[data-testid=bot-message]');
            const errors = chat.querySelectorAll('[data-testid=error]');
            return (bubbles.length > before || errors.length > 0)
                && document.querySelector('#typing').hidden;
        }""",
        arg=[before],
        timeout=REPLY_TIMEOUT_MS,
    )
    errors = page.locator("main.chat:not([hidden]) [data-testid=error]")
    assert errors.count() == 0, errors.all_inner_texts()
    return bot_messages(page).last


def tap_option(page: Page, title: str) -> Locator:
    """Tap the option with this title in the last bot message; returns the next reply."""
    before = bot_messages(page).count()
    last = bot_messages(page).last
    last.locator("[data-testid=option]", has_text=title).click()
    return wait_for_reply(page, before)


def test_whatsapp_then_sms_conversation_in_the_simulator(simulator: str, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 900, "height": 820})
    page = context.new_page()
    page.goto(simulator)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("[data-testid=phone-number]", "+6281299" + str(os.getpid() % 100000).zfill(5))
    page.press("[data-testid=phone-number]", "Tab")
    try:
        # --- WhatsApp: greeting with *bold* rendered bold and the menu as tappable options.
        greeting = send_and_wait(page, "halo")
        menu = bot_messages(page).last
        assert greeting.locator("strong").count() + menu.locator("strong").count() >= 1
        all_text = "\n".join(bot_messages(page).all_inner_texts())
        assert "*" not in all_text, "WhatsApp marks must be rendered, not shown"
        options = menu.locator("[data-testid=option]")
        assert options.count() >= 3
        assert options.first.inner_text().startswith("1. ")

        # Tap "Tidak bisa login": the bot asks which message appears.
        question = tap_option(page, "Tidak bisa login")
        assert question.locator("[data-testid=option]").count() == 6
        # The last option lets a user say the login was to another system, not SPSE.
        assert "Bukan SPSE" in question.locator("[data-testid=option]").last.inner_text()

        # Type the number of "Java Script error", as a phone user would.
        question_options = question.locator("[data-testid=option]").all_inner_texts()
        number = next(o.split(".")[0] for o in question_options if "Java Script" in o)
        answer = send_and_wait(page, number)
        answer_text = "\n".join(bot_messages(page).all_inner_texts()[-2:])
        assert "LPSE lain" in answer_text
        assert answer.locator("[data-testid=option]", has_text="Belum").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "whatsapp.png"))

        # Not solved: escalation with the ticket reference, in bold.
        escalation = tap_option(page, "Belum")
        reference = escalation.locator("strong", has_text=re.compile(r"^LPSE-\d{8}-\d{4}$"))
        assert reference.count() == 1
        page.screenshot(path=str(SCREENSHOTS / "whatsapp-escalation.png"))

        # --- SMS: plain text, segment count and encoding under each reply.
        page.click("[data-testid=medium-sms]")
        assert bot_messages(page).count() == 0  # a separate conversation
        question = send_and_wait(page, "gak bisa login")
        question_options = question.locator("[data-testid=option]").all_inner_texts()
        assert len(question_options) == 6
        number = next(o.split(".")[0] for o in question_options if "tersinkronisasi" in o)
        answer = send_and_wait(page, f"no {number}")
        body = answer.locator(".text").inner_text()
        assert "password tidak sesuai" in body
        assert answer.locator("strong").count() == 0 and "*" not in body
        meta = answer.locator("[data-testid=sms-meta]").inner_text()
        match = re.match(r"(\d+) SMS · (GSM-7|UCS-2) · (\d+) karakter", meta)
        assert match, meta
        # The figures are those of the exact TwiML body (kept on the bubble as data-body).
        raw = answer.get_attribute("data-body") or ""
        assert "password tidak sesuai" in raw and raw.endswith("2. Belum")
        assert int(match.group(1)) == sms_segments(raw) and int(match.group(3)) == len(raw)
        assert match.group(2) == sms_encoding(raw) == "GSM-7" and is_gsm7(raw)
        page.screenshot(path=str(SCREENSHOTS / "sms.png"))
    except BaseException:
        page.screenshot(path=str(SCREENSHOTS / "failure.png"))
        raise
    finally:
        context.close()
