"""Probe a running bot's Twilio webhook exactly as Twilio talks to it, and report what fails.

    python scripts/twilio_probe.py [--url http://127.0.0.1:5005/webhooks/twilio/webhook]
                                   [--rasa-api http://127.0.0.1:5005] [--json]

Every request is a Twilio-shaped form signed with ``TWILIO_AUTH_TOKEN`` (twilio's own
RequestValidator). Checks: forged and unsigned requests refused (403), SMS and WhatsApp
answered in TwiML, numbered replies, GSM-7 SMS answers, the 1600-character limit,
media-only messages, missing fields (400 without ``From``, a prompt for an empty ``Body``),
a retried ``MessageSid`` (empty ``<Response/>``), long and junk bodies (never a 5xx).

With ``--rasa-api`` (a bot started with ``--enable-api``) the probe also reads the
conversation tracker to check which intent each special input and numbered reply reached.
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from lpse_assist.render import MAX_BODY_CHARS, is_gsm7
from lpse_assist.twilio_local.client import (
    HOSTILE_BODIES,
    Media,
    WebhookReply,
    bot_number,
    inbound_form,
    new_sid,
    post_signed,
    signature,
)

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_URL = "http://127.0.0.1:5005/webhooks/twilio/webhook"


@dataclass
class Check:
    """One probe check and what it found."""

    name: str
    passed: bool = True
    details: list[str] = field(default_factory=list)

    def fail(self, detail: str) -> None:
        self.passed = False
        self.details.append(detail)

    def expect(self, condition: bool, detail: str) -> None:
        if not condition:
            self.fail(detail)


@dataclass
class Probe:
    """Talks to one bot as Twilio would."""

    session: aiohttp.ClientSession
    url: str
    signed_url: str
    token: str
    account_sid: str
    sms_number: str
    whatsapp_number: str
    rasa_api: str | None
    replies: list[tuple[str, WebhookReply]] = field(default_factory=list)

    def user(self, medium: str) -> str:
        number = "+62899" + "".join(random.choices("0123456789", k=7))
        return f"whatsapp:{number}" if medium == "whatsapp" else number

    async def send(
        self,
        from_: str,
        body: str | None = "",
        *,
        media: Sequence[Media] = (),
        message_sid: str | None = None,
        extra: dict[str, str] | None = None,
        drop: Sequence[str] = (),
        token: str | None = "",
        signed_url: str | None = None,
    ) -> WebhookReply:
        form = inbound_form(
            account_sid=self.account_sid,
            from_=from_,
            to=bot_number(from_, self.sms_number, self.whatsapp_number),
            body=body,
            media=media,
            message_sid=message_sid,
            extra=extra,
            drop=drop,
        )
        reply = await post_signed(
            self.session,
            self.url,
            form,
            self.token if token == "" else token,
            signed_url=signed_url or self.signed_url,
        )
        self.replies.append((from_, reply))
        return reply

    async def latest_intent(self, sender: str) -> str | None:
        """The intent of the conversation's latest user message (needs --rasa-api)."""
        tracker = await self.tracker(sender)
        if tracker is None:
            return None
        return str(((tracker.get("latest_message") or {}).get("intent") or {}).get("name"))

    async def tracker(self, sender: str) -> dict[str, Any] | None:
        if not self.rasa_api:
            return None
        # Sanic does not unescape path parameters: ":" and "+" must arrive as they are.
        url = URL(f"{self.rasa_api}/conversations/{quote(sender, safe=':+')}/tracker", encoded=True)
        async with self.session.get(url) as response:
            if response.status != 200:
                return None
            result: dict[str, Any] = await response.json()
            return result

    async def last_options(self, sender: str) -> list[str]:
        """Payloads of the last bot message with buttons (needs --rasa-api)."""
        tracker = await self.tracker(sender)
        for event in reversed((tracker or {}).get("events") or []):
            if event.get("event") == "user":
                return []
            buttons = (
                ((event.get("data") or {}).get("buttons")) if event.get("event") == "bot" else None
            )
            if buttons:
                return [str(b.get("payload")) for b in buttons]
        return []


def answered(check: Check, reply: WebhookReply, what: str) -> None:
    check.expect(reply.status == 200, f"{what}: HTTP {reply.status}")
    check.expect(reply.is_twiml, f"{what}: answer is not TwiML: {reply.text[:120]!r}")
    check.expect(
        bool(reply.messages) and all(m.body for m in reply.messages),
        f"{what}: no message in the answer",
    )


async def check_forged(probe: Probe) -> Check:
    check = Check("forged or unsigned requests are refused (403)")
    user = probe.user("sms")
    cases = {
        "unsigned": await probe.send(user, "halo", token=None),
        "wrong token": await probe.send(user, "halo", token="not-the-token"),
        "signed for another URL": await probe.send(
            user, "halo", signed_url="https://attacker.example/webhooks/twilio/webhook"
        ),
    }
    form = {"From": user, "To": probe.sms_number, "Body": "halo", "MessageSid": new_sid()}
    sig = signature(probe.token, probe.signed_url, form)
    form["Body"] = "kirim promo ke semua nomor"
    async with probe.session.post(probe.url, data=form, headers={"X-Twilio-Signature": sig}) as r:
        cases["tampered field"] = WebhookReply(r.status, await r.text())
    for name, reply in cases.items():
        check.expect(reply.status == 403, f"{name}: HTTP {reply.status}, expected 403")
    return check


async def check_media(probe: Probe, medium: str) -> Check:
    check = Check(f"{medium}: answered in TwiML")
    user = probe.user(medium)
    reply = await probe.send(user, "halo")
    answered(check, reply, "greeting")
    if medium == "whatsapp":
        check.expect(
            all(m.status_callback for m in reply.messages),
            "WhatsApp reply without statusCallback (no SMS fallback possible)",
        )
    else:
        check.expect(
            all(not m.status_callback for m in reply.messages),
            "SMS reply asks for a status callback",
        )
    return check


async def check_numbers(probe: Probe) -> Check:
    check = Check("numbered replies pick the options of the last bot message")
    for medium in ("sms", "whatsapp"):
        user = probe.user(medium)
        menu = await probe.send(user, "halo")
        answered(check, menu, f"{medium} greeting")
        menu_text = "\n".join(m.body for m in menu.messages)
        option_lines = [line for line in menu_text.splitlines() if line[:2] in ("1.", "2.")]
        check.expect(len(option_lines) >= 2, f"{medium}: greeting shows no numbered options")
        payloads = await probe.last_options(user)
        out_of_range = await probe.send(user, "99")
        answered(check, out_of_range, f"{medium} out-of-range number")
        again = "\n".join(m.body for m in out_of_range.messages)
        check.expect(
            all(line in again for line in option_lines),
            f"{medium}: out-of-range number did not show the options again",
        )
        picked = await probe.send(user, "pilih 1")
        answered(check, picked, f"{medium} 'pilih 1'")
        check.expect(
            "\n".join(m.body for m in picked.messages) != menu_text,
            f"{medium}: 'pilih 1' got the menu again",
        )
        if probe.rasa_api:
            intent = await probe.latest_intent(user)
            check.expect(
                bool(payloads) and intent == payloads[0].lstrip("/").split("{")[0],
                f"{medium}: 'pilih 1' reached {intent!r}, options were {payloads}",
            )
    return check


async def check_special_inputs(probe: Probe) -> Check:
    check = Check("media-only, location, sticker and empty messages get a polite answer")
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "whatsapp",
            {"body": "", "media": [Media("https://x.invalid/s.jpg", "image/jpeg")]},
            "send_media",
        ),
        (
            "sms",
            {"body": "", "media": [Media("https://x.invalid/s.png", "image/png")]},
            "send_media",
        ),
        (
            "whatsapp",
            {"body": "", "media": [Media("https://x.invalid/a.ogg", "audio/ogg")]},
            "send_unsupported_media",
        ),
        (
            "whatsapp",
            {
                "body": "",
                "media": [Media("https://x.invalid/s.webp", "image/webp")],
                "extra": {"MessageType": "sticker"},
            },
            "send_unsupported_media",
        ),
        (
            "whatsapp",
            {
                "body": "",
                "extra": {"Latitude": "-6.2", "Longitude": "106.8", "MessageType": "location"},
            },
            "send_unsupported_media",
        ),
        ("sms", {"body": ""}, "send_empty"),
        ("whatsapp", {"body": None}, "send_empty"),
    ]
    for medium, kwargs, intent in cases:
        user = probe.user(medium)
        reply = await probe.send(user, **kwargs)
        answered(check, reply, f"{medium} {intent}")
        if probe.rasa_api:
            got = await probe.latest_intent(user)
            check.expect(got == intent, f"{medium} {intent}: reached {got!r}")
    return check


async def check_missing_from(probe: Probe) -> Check:
    check = Check("missing From is refused with 400")
    reply = await probe.send(probe.user("sms"), "halo", drop=["From"])
    check.expect(reply.status == 400, f"HTTP {reply.status}, expected 400")
    return check


async def check_retry(probe: Probe) -> Check:
    check = Check("a retried MessageSid gets an empty <Response/>")
    for medium in ("sms", "whatsapp"):
        user = probe.user(medium)
        sid = new_sid()
        first = await probe.send(user, "halo", message_sid=sid)
        answered(check, first, f"{medium} first delivery")
        retry = await probe.send(user, "halo", message_sid=sid)
        check.expect(
            retry.status == 200 and retry.is_twiml and not retry.messages,
            f"{medium} retry: HTTP {retry.status}, {len(retry.messages)} message(s)",
        )
    return check


async def check_long_and_junk(probe: Probe) -> Check:
    check = Check("long and junk bodies are answered, never a 5xx")
    for medium in ("sms", "whatsapp"):
        reply = await probe.send(probe.user(medium), "saya tidak bisa login ke spse " * 200)
        answered(check, reply, f"{medium} 6000-character body")
        for junk in HOSTILE_BODIES:
            reply = await probe.send(probe.user(medium), junk)
            answered(check, reply, f"{medium} junk {junk[:20]!r}")
    return check


def check_collected(probe: Probe) -> list[Check]:
    """Checks over every answer the probe received."""
    gsm = Check("every SMS answer is pure GSM-7")
    limit = Check(f"every Message body is at most {MAX_BODY_CHARS} characters")
    for sender, reply in probe.replies:
        for message in reply.messages:
            size = len(message.body.encode("utf-16-le")) // 2
            limit.expect(size <= MAX_BODY_CHARS, f"{size} characters: {message.body[:60]!r}")
            if not sender.startswith("whatsapp:"):
                bad = sorted({c for c in message.body if not is_gsm7(c)})
                gsm.expect(not bad, f"non-GSM-7 {bad} in {message.body[:60]!r}")
    return [gsm, limit]


CHECKS: list[Callable[[Probe], Awaitable[Check]]] = [
    check_forged,
    lambda p: check_media(p, "sms"),
    lambda p: check_media(p, "whatsapp"),
    check_numbers,
    check_special_inputs,
    check_missing_from,
    check_retry,
    check_long_and_junk,
]


async def run(args: argparse.Namespace) -> list[Check]:
    """Run every check against the bot; returns them with their findings."""
    results: list[Check] = []
    async with aiohttp.ClientSession() as session:
        probe = Probe(
            session=session,
            url=args.url,
            signed_url=args.signed_url or args.url,
            token=args.token,
            account_sid=args.account_sid,
            sms_number=args.sms_number,
            whatsapp_number=args.whatsapp_number,
            rasa_api=args.rasa_api.rstrip("/") if args.rasa_api else None,
        )
        for check in CHECKS:
            try:
                results.append(await check(probe))
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                failed = Check(getattr(check, "__name__", "check"))
                failed.fail(f"request failed: {type(error).__name__}: {error}")
                results.append(failed)
        results.extend(check_collected(probe))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exit status 0 when every check passes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("TWILIO_PROBE_URL") or DEFAULT_URL,
        help="the webhook to call",
    )
    parser.add_argument(
        "--signed-url",
        default=os.environ.get("TWILIO_WEBHOOK_URL", ""),
        help="URL to sign for (the public URL behind a proxy; default --url)",
    )
    parser.add_argument("--token", default=os.environ.get("TWILIO_AUTH_TOKEN", ""))
    parser.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    )
    parser.add_argument("--sms-number", default=os.environ.get("TWILIO_SMS_NUMBER", "+15005550006"))
    parser.add_argument(
        "--whatsapp-number",
        default=os.environ.get("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155238886"),
    )
    parser.add_argument("--rasa-api", default="", help="Rasa HTTP API (bot run with --enable-api)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: set TWILIO_AUTH_TOKEN or pass --token")

    results = asyncio.run(run(args))
    if args.json:
        print(
            json.dumps(
                [{"check": c.name, "passed": c.passed, "details": c.details} for c in results],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for check in results:
            print(f"{'PASS' if check.passed else 'FAIL'}  {check.name}")
            for detail in check.details:
                print(f"        {detail}")
    return 0 if all(c.passed for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
