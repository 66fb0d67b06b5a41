"""Phone simulator backend: one static page, and an API that talks to the bot like Twilio.

The browser never talks to the bot. It posts what the user typed to ``POST /api/send``; this
backend builds the form Twilio would send (``From``, ``To``, ``Body``, ``MessageSid``, ...),
signs it with ``TWILIO_AUTH_TOKEN`` (twilio's ``RequestValidator.compute_signature``), posts
it to the bot's ``/webhooks/twilio/webhook`` and reads the TwiML reply. Each ``<Message>`` is
returned as the phone would show it: WhatsApp formatting as HTML, or SMS plain text with its
encoding and segment count (``lpse_assist.render``), and its trailing numbered options so the
page can make them tappable. What the page shows is therefore exactly what a phone gets.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from lpse_assist.privacy import mask_phone
from lpse_assist.render import sms_encoding, sms_segments
from lpse_assist.twilio_local.client import inbound_form, post_signed

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_TEXT_CHARS = 4000
_PHONE = re.compile(r"^\+\d{8,15}$")
_OPTION_LINE = re.compile(r"^(\d{1,2})\. (.+)$")

# WhatsApp's formatting marks, on HTML-escaped text. A mark only counts when it encloses
# text without spaces at its inner edges, as WhatsApp does ("5 * 3 * 2" stays as it is).
_WHATSAPP_MARKS = [
    (re.compile(r"```(.+?)```", re.DOTALL), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), r"<del>\1</del>"),
]


def whatsapp_html(text: str) -> str:
    """HTML of a WhatsApp message: escaped, with *bold*, _italic_, ~strike~, ```mono```."""
    escaped = html.escape(text, quote=False)
    for pattern, replacement in _WHATSAPP_MARKS:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def options_of(body: str) -> list[dict[str, Any]]:
    """The numbered options at the end of a message (``1. Title`` lines, numbered 1..n).

    The channel puts options after a blank line, so a numbered list of steps inside an
    answer is not taken for options.
    """
    paragraphs = body.rstrip().split("\n\n")
    lines = paragraphs[-1].split("\n")
    options = []
    for expected, line in enumerate(lines, start=1):
        match = _OPTION_LINE.match(line.strip())
        if not match or int(match.group(1)) != expected:
            return []
        options.append({"number": expected, "title": match.group(2).strip()})
    if len(paragraphs) == 1 and len(options) < 2:
        return []
    return options


def message_view(body: str, medium: str) -> dict[str, Any]:
    """One ``<Message>`` as the page shows it."""
    options = options_of(body)
    if medium == "whatsapp":
        rendered = whatsapp_html(body)
    else:
        rendered = html.escape(body, quote=False)  # SMS has no formatting at all
    view: dict[str, Any] = {"body": body, "html": rendered, "options": options}
    if medium == "sms":
        view.update(encoding=sms_encoding(body), segments=sms_segments(body), chars=len(body))
    return view


@dataclass(frozen=True)
class SimulatorConfig:
    """Where the bot is and how to sign for it."""

    webhook_url: str
    auth_token: str
    account_sid: str
    sms_number: str
    whatsapp_number: str
    # The URL the bot validates signatures against (TWILIO_WEBHOOK_URL), if not webhook_url.
    signed_url: str = ""


def _health_url(webhook_url: str) -> str:
    return webhook_url.rsplit("/", 1)[0] + "/"


class Simulator:
    """The aiohttp application of the simulator."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.app = web.Application(client_max_size=64 * 1024)
        self.app.add_routes(
            [
                web.get("/", self._index),
                web.get("/api/config", self._config),
                web.get("/api/health", self._health),
                web.post("/api/send", self._send),
                web.static("/static", STATIC, show_index=False),
            ]
        )
        self.app.on_cleanup.append(self._close_session)  # type: ignore[arg-type]
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _close_session(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _index(self, _: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _config(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "sms_number": self.config.sms_number,
                "whatsapp_number": self.config.whatsapp_number.removeprefix("whatsapp:"),
                "webhook_url": self.config.webhook_url,
            }
        )

    async def _health(self, _: web.Request) -> web.Response:
        session = await self._client()
        try:
            async with session.get(
                _health_url(self.config.webhook_url), timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                up = response.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            up = False
        return web.json_response({"bot": "up" if up else "down"})

    async def _send(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"error": "JSON body expected"}, status=400)
        medium = str(payload.get("medium") or "")
        phone = str(payload.get("phone") or "").strip()
        text = str(payload.get("text") or "")[:MAX_TEXT_CHARS]
        if medium not in ("whatsapp", "sms"):
            return web.json_response({"error": "medium must be whatsapp or sms"}, status=400)
        if not _PHONE.match(phone):
            return web.json_response({"error": "phone must look like +62812..."}, status=400)
        sender = f"whatsapp:{phone}" if medium == "whatsapp" else phone
        to = self.config.whatsapp_number if medium == "whatsapp" else self.config.sms_number
        form = inbound_form(account_sid=self.config.account_sid, from_=sender, to=to, body=text)
        session = await self._client()
        try:
            reply = await post_signed(
                session,
                self.config.webhook_url,
                form,
                self.config.auth_token,
                signed_url=self.config.signed_url or None,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            logger.warning(
                "Bot unreachable at %s (%s).", self.config.webhook_url, type(error).__name__
            )
            return web.json_response(
                {
                    "error": f"Bot tidak dapat dihubungi di {self.config.webhook_url}. "
                    "Sudah menjalankan `make run`?"
                },
                status=502,
            )
        logger.info(
            "%s message from %s: HTTP %d, %d message(s).",
            medium,
            mask_phone(sender),
            reply.status,
            len(reply.messages),
        )
        if reply.status == 403:
            return web.json_response(
                {
                    "error": "Bot menolak tanda tangan (403): TWILIO_AUTH_TOKEN simulator dan bot "
                    "berbeda, atau TWILIO_WEBHOOK_URL tidak cocok."
                },
                status=502,
            )
        if reply.status != 200 or not reply.is_twiml:
            return web.json_response(
                {"error": f"Jawaban bot tidak terduga: HTTP {reply.status}"}, status=502
            )
        return web.json_response(
            {
                "message_sid": form["MessageSid"],
                "medium": medium,
                "messages": [message_view(m.body, medium) for m in reply.messages],
            }
        )


async def start(config: SimulatorConfig, host: str, port: int) -> web.AppRunner:
    """Serve the simulator; returns the runner (``await runner.cleanup()`` stops it)."""
    simulator = Simulator(config)
    runner = web.AppRunner(simulator.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
