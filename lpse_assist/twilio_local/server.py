"""A local stand-in for Twilio, for tests and demos without an account or a phone.

It plays both sides Twilio plays for the bot:

* **Twilio -> bot**: it sends signed webhooks for a simulated user's message and signed status
  callbacks for the replies (``POST /_local/inbound``, ``POST /_local/status``).
* **bot -> Twilio**: it serves the REST endpoint the real twilio client calls to create a
  message (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, Basic auth checked, the
  same JSON and error shapes as Twilio), when ``TWILIO_API_BASE_URL`` points at it.

Everything a user would receive (TwiML replies and REST sends) is recorded and listed at
``GET /_local/messages``. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from lpse_assist.privacy import is_whatsapp
from lpse_assist.render import sms_segments
from lpse_assist.twilio_local.client import (
    API_VERSION,
    Media,
    WebhookReply,
    bot_number,
    inbound_form,
    new_sid,
    post_signed,
)

logger = logging.getLogger(__name__)

# Twilio's error codes for the checks the stand-in makes.
_ERRORS = {
    "auth": (401, 20003, "Authenticate"),
    "to": (400, 21604, "A 'To' phone number is required."),
    "from": (400, 21603, "A 'From' phone number is required."),
    "body": (400, 21602, "Message body is required."),
    "too_long": (400, 21617, "The concatenated message body exceeds the 1600 character limit."),
}
# WhatsApp's "failed to send" error, what Twilio reports with an undelivered message.
WHATSAPP_UNDELIVERED_ERROR = "63016"


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _now_rfc2822() -> str:
    return email.utils.formatdate(usegmt=True)


class LocalTwilio:
    """The stand-in: an aiohttp app plus the record of every message "sent" to users."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        webhook_url: str,
        sms_number: str,
        whatsapp_number: str,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.webhook_url = webhook_url
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number
        self.outbound: list[dict[str, Any]] = []
        self.status_callbacks: list[dict[str, Any]] = []
        # HTTP statuses to answer the next REST creates with (to test the bot's retries).
        self.rest_failures: list[int] = []
        self.rest_attempts = 0
        self.app = web.Application()
        self.app.add_routes(
            [
                web.post(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json",
                    self._create_message,
                ),
                web.get("/_local/health", self._health),
                web.get("/_local/messages", self._list_messages),
                web.delete("/_local/messages", self._clear_messages),
                web.post("/_local/inbound", self._inbound),
                web.post("/_local/status", self._status),
                web.post("/_local/rest-failures", self._set_rest_failures),
            ]
        )
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----------------------------------------------------------------- Twilio -> bot

    def default_to(self, from_: str) -> str:
        """The bot's number a user writes to: WhatsApp number for WhatsApp users, else SMS."""
        return bot_number(from_, self.sms_number, self.whatsapp_number)

    async def send_inbound(
        self,
        from_: str,
        body: str | None = "",
        *,
        to: str | None = None,
        media: Sequence[Media] = (),
        message_sid: str | None = None,
        extra: Mapping[str, str] | None = None,
        delivery: str | None = None,
    ) -> dict[str, Any]:
        """Deliver a user's message to the bot as Twilio would; record and return the reply.

        ``delivery`` (``delivered``, ``undelivered``, ``failed``) then reports that status for
        every reply message that asked for a status callback, as Twilio does.
        """
        form = inbound_form(
            account_sid=self.account_sid,
            from_=from_,
            to=to or self.default_to(from_),
            body=body,
            media=media,
            message_sid=message_sid,
            extra=extra,
        )
        async with aiohttp.ClientSession() as session:
            reply = await post_signed(session, self.webhook_url, form, self.auth_token)
        recorded = self._record_twiml(reply, form)
        for message in recorded:
            if delivery and message.get("status_callback"):
                await self.send_status(message["sid"], "sent")
                await self.send_status(message["sid"], delivery)
        return {
            "message_sid": form["MessageSid"],
            "http_status": reply.status,
            "is_twiml": reply.is_twiml,
            "twiml": reply.text,
            "messages": recorded,
        }

    def _record_twiml(self, reply: WebhookReply, form: Mapping[str, str]) -> list[dict[str, Any]]:
        recorded = []
        for message in reply.messages:
            item = {
                "sid": new_sid("SM"),
                "via": "twiml",
                "in_reply_to": form["MessageSid"],
                "to": form["From"],
                "from": form["To"],
                "body": message.body,
                "status": "queued",
                "status_callback": message.status_callback,
                "num_segments": sms_segments(message.body),
            }
            self.outbound.append(item)
            recorded.append(item)
        return recorded

    async def send_status(
        self, message_sid: str, status: str, error_code: str | None = None
    ) -> int | None:
        """Send a signed status callback for a recorded message; returns the bot's HTTP status."""
        message = next((m for m in self.outbound if m["sid"] == message_sid), None)
        if message is None or not message.get("status_callback"):
            return None
        message["status"] = status
        form = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": message["from"],
            "To": message["to"],
            "ApiVersion": API_VERSION,
        }
        if is_whatsapp(message["to"]):
            form["ChannelPrefix"] = "whatsapp"
        if status in ("undelivered", "failed"):
            form["ErrorCode"] = error_code or WHATSAPP_UNDELIVERED_ERROR
        async with aiohttp.ClientSession() as session:
            reply = await post_signed(session, message["status_callback"], form, self.auth_token)
        self.status_callbacks.append(
            {"message_sid": message_sid, "status": status, "http_status": reply.status}
        )
        return reply.status

    # ----------------------------------------------------------------- bot -> Twilio (REST)

    async def _create_message(self, request: web.Request) -> web.Response:
        self.rest_attempts += 1
        auth_header = request.headers.get("Authorization", "")
        try:
            auth = aiohttp.BasicAuth.decode(auth_header) if auth_header else None
        except ValueError:
            auth = None
        if (
            auth is None
            or request.match_info["account_sid"] != self.account_sid
            or auth.login != self.account_sid
            or auth.password != self.auth_token
        ):
            return _error(*_ERRORS["auth"])
        if self.rest_failures:
            status = self.rest_failures.pop(0)
            return _error(status, 20500 if status >= 500 else 20429, "Simulated failure")
        form = await request.post()
        to = str(form.get("To", ""))
        from_ = str(form.get("From", ""))
        body = str(form.get("Body", ""))
        media = [str(v) for v in form.getall("MediaUrl", [])]
        if not to:
            return _error(*_ERRORS["to"])
        if not from_ and not form.get("MessagingServiceSid"):
            return _error(*_ERRORS["from"])
        if not body and not media:
            return _error(*_ERRORS["body"])
        if len(body) > 1600:
            return _error(*_ERRORS["too_long"])
        sid = new_sid("SM")
        now = _now_rfc2822()
        item = {
            "sid": sid,
            "via": "rest",
            "to": to,
            "from": from_,
            "body": body,
            "status": "queued",
            "status_callback": str(form.get("StatusCallback", "")) or None,
            "num_segments": sms_segments(body),
        }
        self.outbound.append(item)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        return web.json_response(
            {
                "account_sid": self.account_sid,
                "api_version": API_VERSION,
                "body": body,
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": from_,
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": str(len(media)),
                "num_segments": str(item["num_segments"]),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
                "to": to,
                "uri": uri,
            },
            status=201,
        )

    # ----------------------------------------------------------------- control endpoints

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "webhook_url": self.webhook_url})

    async def _list_messages(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        messages = [m for m in self.outbound if not to or m["to"] == to]
        return web.json_response(
            {
                "messages": messages,
                "status_callbacks": self.status_callbacks,
                "rest_attempts": self.rest_attempts,
            }
        )

    async def _clear_messages(self, _: web.Request) -> web.Response:
        self.outbound.clear()
        self.status_callbacks.clear()
        self.rest_attempts = 0
        return web.json_response({"status": "cleared"})

    async def _inbound(self, request: web.Request) -> web.Response:
        data = await request.json()
        media = [
            Media(url=str(m.get("url", "")), content_type=str(m.get("content_type", "")))
            for m in data.get("media") or []
        ]
        result = await self.send_inbound(
            str(data.get("from", "")),
            data.get("body", ""),
            to=data.get("to"),
            media=media,
            message_sid=data.get("message_sid"),
            extra={str(k): str(v) for k, v in (data.get("extra") or {}).items()},
            delivery=data.get("delivery"),
        )
        return web.json_response(result)

    async def _status(self, request: web.Request) -> web.Response:
        data = await request.json()
        status = await self.send_status(
            str(data.get("message_sid", "")), str(data.get("status", "")), data.get("error_code")
        )
        if status is None:
            return web.json_response({"error": "unknown message or no status callback"}, status=404)
        return web.json_response({"http_status": status})

    async def _set_rest_failures(self, request: web.Request) -> web.Response:
        data = await request.json()
        self.rest_failures = [int(s) for s in data.get("statuses") or []]
        return web.json_response({"rest_failures": self.rest_failures})


async def serve_forever(standin: LocalTwilio, host: str, port: int) -> None:
    """Run the stand-in until cancelled (Ctrl-C)."""
    base_url = await standin.start(host, port)
    logger.info("Local Twilio on %s, webhooks go to %s", base_url, standin.webhook_url)
    print(f"Local Twilio listening on {base_url}", flush=True)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        await standin.stop()
