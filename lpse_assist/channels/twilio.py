"""Twilio channel: WhatsApp and SMS users on one webhook, answered in the same HTTP response.

Routes (Rasa mounts them under ``/webhooks/twilio``):

* ``POST /webhook``: a message from a user, form-encoded by Twilio. ``whatsapp:+62...`` senders
  are WhatsApp users, plain ``+62...`` senders SMS users. The user sees the bot's answer as one
  or a few messages (TwiML ``<Message>`` elements, each at most 1600 characters).
* ``POST /status``: Twilio's delivery report for a WhatsApp reply. When WhatsApp could not
  deliver it (``undelivered``/``failed``), the user receives the SMS version of the same reply
  from ``TWILIO_SMS_NUMBER`` instead, once.
* ``GET /``: health check.

Every POST must carry a valid ``X-Twilio-Signature`` (403 otherwise) and nothing unsigned is
processed. The conversation id is the full ``From`` value, so the same person on SMS and on
WhatsApp has two conversations, each rendered for its medium (Rasa picks ``channel: sms`` /
``channel: whatsapp`` response variations by the output channel's name).

Inputs without words are sent to Rasa as intents, so every sentence the user reads lives in
``domain.yml``: ``/send_media`` (image without text), ``/send_unsupported_media`` (location,
audio, video, sticker, document, contact) and ``/send_empty`` (nothing at all). A bare number
("2", "no 2", "pilih 2") picks an option of the last bot message, read from the tracker; a
bare number when there were no options asks for the menu (``/ask_menu``).

Idempotency: Twilio's ``MessageSid`` becomes the ``message_id`` of the user event. A message
whose id is already in the tracker (shared by all replicas) is answered with an empty
``<Response/>``; the check and the processing run under the agent's lock for that sender.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.core.events import AgentUttered, BotUttered, Event, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from lpse_assist.handover import divert_to_helpdesk
from lpse_assist.intents import EMPTY_MESSAGE_INTENT, MEDIA_INTENT, UNSUPPORTED_MEDIA_INTENT
from lpse_assist.privacy import mask_phone
from lpse_assist.render import Medium, message_buttons, render_turn
from lpse_assist.settings import twilio_settings
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)

# Payloads sent to Rasa for inputs that carry no words (the domain answers them).
INTENT_MEDIA = f"/{MEDIA_INTENT}"
INTENT_UNSUPPORTED_MEDIA = f"/{UNSUPPORTED_MEDIA_INTENT}"
INTENT_EMPTY = f"/{EMPTY_MESSAGE_INTENT}"
# A bare number when the last bot message had no options: show the menu (a trained intent).
INTENT_MENU = "/ask_menu"

# The only sentence the channel writes itself. Used when Rasa fails (exception, no model
# loaded): then no domain response can be rendered, and Twilio must still get a 200 (a 5xx
# would only make Twilio log an error and the user would hear nothing). GSM-7 only, so it is
# one SMS segment.
FALLBACK_REPLY_TEXT = (
    "Maaf, layanan sedang mengalami gangguan. Silakan coba lagi beberapa saat lagi."
)

# Longer bodies are cut before NLU: nobody describes a login problem in more words, and
# featurising thousands of characters only slows every replica down.
MAX_USER_TEXT_CHARS = 1000

# Kinds of the AgentUttered events this channel appends to the tracker. AgentUttered changes
# no dialogue state (no slot, no featurised turn), is stored by every tracker store, and so
# is shared by all replicas.
REPLY_RECORD_KIND = "lpse_twilio_reply"
FALLBACK_CLAIM_KIND = "lpse_twilio_sms_fallback"

FAILED_STATUSES = frozenset({"undelivered", "failed"})

# "2", "2.", "2)", "#2", "no 2", "no. 2", "nomor 2", "pilih 2", "pilih no 2", "opsi 2".
_CHOICE_RE = re.compile(
    r"^(?:(?:pilih|pilihan|opsi|nomor|nomer|nmr|no|angka|option)\s*\.?\s*){0,2}"
    r"#?\s*(\d{1,3})\s*[.)]?$",
    re.IGNORECASE,
)

# Message keys that are not template variables when a response is rendered again for SMS
# (some also clash with NaturalLanguageGenerator.generate's own parameters).
_NOT_TEMPLATE_VARIABLES = frozenset(
    {
        "text",
        "buttons",
        "quick_replies",
        "elements",
        "attachment",
        "image",
        "custom",
        "timestamp",
        "recipient_id",
        "utter_action",
        "tracker",
        "output_channel",
        "domain_responses",
        "response",
    }
)


# --------------------------------------------------------------------------- helpers


def medium_of(sender: str) -> Medium:
    """``whatsapp`` for ``whatsapp:`` senders, else ``sms``."""
    return "whatsapp" if sender.lower().startswith("whatsapp:") else "sms"


class FormParams(dict[str, list[str]]):
    """Form fields as Twilio sent them, every value kept (also empty ones).

    Empty values matter: Twilio signs ``Body=`` of an image-only message too, and Sanic's own
    ``request.form`` drops blank fields, which would make such a message fail validation.
    ``getlist`` is what twilio's RequestValidator looks for.
    """

    def getlist(self, name: str) -> list[str]:
        """All values of a field (what RequestValidator signs)."""
        return list(self.get(name, []))

    def first(self, name: str) -> str:
        """First value of a field, or ``""``."""
        values = self.get(name) or [""]
        return values[0]


def parse_form(request: Request) -> FormParams | None:
    """The form fields of a Twilio request, or ``None`` if the body cannot be read as a form."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return FormParams()
    try:
        body = (request.body or b"").decode("utf-8")
        return FormParams(parse_qs(body, keep_blank_values=True, max_num_fields=500))
    except (UnicodeDecodeError, ValueError):
        return None


def clean_text(raw: str, medium: Medium) -> str:
    """User text as NLU gets it: no control characters, tidy whitespace, at most 1000 chars."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if medium == "sms":
        # Some carriers turn "@" into "¡" on the way (GSM-7 code point clash).
        text = text.replace("¡", "@")
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "\n":
            kept.append(ch)
        elif category == "Cc":
            kept.append(" ")  # tabs, NUL, escape codes: keep words apart, drop the code
        elif category in ("Cf", "Cs", "Co", "Cn"):
            continue  # invisible formatting (bidi overrides), broken surrogates, unassigned
        else:
            kept.append(ch)
    text = "".join(kept)
    text = re.sub(r"[ \u00a0]{2,}", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > MAX_USER_TEXT_CHARS:
        text = text[:MAX_USER_TEXT_CHARS].rstrip()
    # A leading "/" would make Rasa read the text as an intent (and entities) chosen by the
    # user; only the channel may send intents.
    return text.lstrip("/").strip()


def parse_choice(text: str) -> int | None:
    """The option number in a bare numbered reply ("2", "no 2", "pilih 2"), else ``None``."""
    match = _CHOICE_RE.match(text.strip())
    return int(match.group(1)) if match else None


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def classify_input(params: FormParams, medium: Medium) -> tuple[str, dict[str, Any]]:
    """What to send to Rasa for this Twilio message, and the metadata stored with it.

    Text goes to NLU; inputs without words become the intents ``/send_media``,
    ``/send_unsupported_media`` or ``/send_empty`` (the domain answers them).
    """
    text = clean_text(params.first("Body"), medium)
    num_media = min(max(_int(params.first("NumMedia").strip()), 0), 10)
    media_types = [params.first(f"MediaContentType{i}").strip().lower() for i in range(num_media)]
    message_type = params.first("MessageType").strip().lower()
    is_location = bool(params.first("Latitude") and params.first("Longitude")) or (
        message_type == "location"
    )
    metadata: dict[str, Any] = {
        "twilio": {
            "medium": medium,
            "num_media": num_media,
            "media_types": media_types,
            "message_type": message_type or None,
        }
    }
    if is_location:
        return INTENT_UNSUPPORTED_MEDIA, metadata
    if num_media and not text:
        # WhatsApp stickers arrive as image/webp: not a screenshot of an error message.
        is_screenshot = message_type != "sticker" and any(
            t.startswith("image/") and t != "image/webp" for t in media_types
        )
        return (INTENT_MEDIA if is_screenshot else INTENT_UNSUPPORTED_MEDIA), metadata
    if not text:
        return INTENT_EMPTY, metadata
    return text, metadata


# --------------------------------------------------------------------------- tracker reading


def already_handled(events: Iterable[Event], message_sid: str) -> bool:
    """True when the tracker shows this MessageSid was processed (by any replica)."""
    for event in events:
        if isinstance(event, UserUttered) and event.message_id == message_sid:
            return True
        if _record_of(event, REPLY_RECORD_KIND, message_sid) is not None:
            return True
    return False


def last_bot_message_with_options(events: Sequence[Event]) -> dict[str, Any] | None:
    """The last bot message with options since the user last spoke, as a Rasa message dict."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, BotUttered):
            message = event.message()
            if message_buttons(message):
                return message
    return None


def _record_of(event: Event, kind: str, inbound_sid: str) -> dict[str, Any] | None:
    if not isinstance(event, AgentUttered) or not isinstance(event.data, dict):
        return None
    data = event.data
    if data.get("kind") == kind and data.get("inbound_sid") == inbound_sid:
        return data
    return None


def find_reply_record(events: Iterable[Event], inbound_sid: str) -> dict[str, Any] | None:
    """The reply this channel recorded for an inbound MessageSid (with its SMS rendering)."""
    for event in events:
        record = _record_of(event, REPLY_RECORD_KIND, inbound_sid)
        if record is not None:
            return record
    return None


def fallback_claimed(events: Iterable[Event], inbound_sid: str) -> bool:
    """True when some replica already took on the SMS fallback of this reply."""
    return any(_record_of(e, FALLBACK_CLAIM_KIND, inbound_sid) is not None for e in events)


# --------------------------------------------------------------------------- output channels


class _TurnCollector(CollectingOutputChannel):
    """Collects the bot messages of one turn whole (text, buttons and response name)."""

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Keep the full message: the channel renders options itself and needs the response
        # name (utter_action) to render the SMS version of a WhatsApp reply.
        self.messages.append(dict(message))


class SmsCollector(_TurnCollector):
    """Output channel of SMS users: Rasa picks ``channel: sms`` response variations."""

    @classmethod
    def name(cls) -> str:
        return "sms"


class WhatsAppCollector(_TurnCollector):
    """Output channel of WhatsApp users: Rasa picks ``channel: whatsapp`` variations."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"


def collector_for(medium: Medium) -> _TurnCollector:
    """A fresh collecting output channel named after the medium."""
    return WhatsAppCollector() if medium == "whatsapp" else SmsCollector()


# --------------------------------------------------------------------------- the channel


@dataclass
class _Turn:
    bodies: list[str] = field(default_factory=list)
    duplicate: bool = False
    recorded: bool = False


class _RecentIds:
    """A small LRU set: a fast path for Twilio retries that hit this replica again."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, item: str) -> bool:
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        return False

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


def _first_header_value(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def twiml_response(bodies: Sequence[str], status_callback: str | None = None) -> HTTPResponse:
    """TwiML reply: one ``<Message>`` per body (none for an empty ``<Response/>``)."""
    twiml = MessagingResponse()
    for body in bodies:
        if status_callback:
            twiml.message(body, status_callback=status_callback)
        else:
            twiml.message(body)
    return response.text(str(twiml), content_type="application/xml; charset=utf-8")


class TwilioInput(InputChannel):
    """WhatsApp and SMS through Twilio on one webhook, signed, answered in TwiML."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Values from ``credentials.yml``; anything empty there comes from the environment."""
        settings = twilio_settings()
        given = credentials or {}

        def pick(key: str, default: str) -> str:
            return str(given.get(key) or "").strip() or default

        return cls(
            account_sid=pick("account_sid", settings.account_sid),
            auth_token=pick("auth_token", settings.auth_token),
            sms_number=pick("sms_number", settings.sms_number),
            whatsapp_number=pick("whatsapp_number", settings.whatsapp_number),
            webhook_url=pick("webhook_url", settings.webhook_url),
            api_base_url=pick("api_base_url", settings.api_base_url),
            send_timeout=settings.send_timeout,
            send_attempts=settings.send_attempts,
        )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sms_number: str,
        whatsapp_number: str,
        webhook_url: str = "",
        api_base_url: str = "",
        send_timeout: float = 10.0,
        send_attempts: int = 3,
        recent_ids: int = 4096,
    ) -> None:
        self.account_sid = account_sid
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number
        self.webhook_url = webhook_url.strip()
        # Without a token every signature would be computed with an empty key, which anyone
        # can do: refuse everything instead.
        self._validator = RequestValidator(auth_token) if auth_token else None
        if self._validator is None:
            logger.error("TWILIO_AUTH_TOKEN is empty: every Twilio request will be refused.")
        self.sender = TwilioRestSender(
            account_sid, auth_token, api_base_url, send_timeout, send_attempts
        )
        self._seen = _RecentIds(recent_ids)
        self._claimed = _RecentIds(recent_ids)
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- routes

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes ``GET /``, ``POST /webhook`` and ``POST /status``."""
        blueprint = Blueprint("lpse_twilio_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                return await self._webhook(request, on_new_message)
            except Exception:
                # Whatever went wrong, Twilio gets a 200 and the user a short apology.
                logger.exception("Twilio webhook failed; answering with the fixed fallback.")
                return twiml_response([FALLBACK_REPLY_TEXT])

        @blueprint.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            try:
                return await self._status(request)
            except Exception:
                logger.exception("Twilio status callback failed.")
                return response.text("", status=200)

        return blueprint

    def get_output_channel(self) -> OutputChannel | None:
        """None: a reply needs the medium of the conversation, which only a webhook knows."""
        return None

    async def wait_for_background_sends(self) -> None:
        """Wait until SMS fallback sends started by status callbacks are done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ----------------------------------------------------------------- URLs and signatures

    @staticmethod
    def _origin(request: Request) -> str:
        proto = _first_header_value(request.headers.get("x-forwarded-proto")) or request.scheme
        host = (
            _first_header_value(request.headers.get("x-forwarded-host"))
            or request.headers.get("host")
            or request.host
        )
        return f"{proto}://{host}"

    def _route_url(self, request: Request, route: str) -> str:
        """Public URL (no query) of a sibling route of this channel, e.g. ``status``."""
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            base = parts.path.rstrip("/").rsplit("/", 1)[0]
            return urlunsplit((parts.scheme, parts.netloc, f"{base}/{route}", "", ""))
        base = request.path.rstrip("/").rsplit("/", 1)[0]
        return f"{self._origin(request)}{base}/{route}"

    def _signed_url(self, request: Request, route: str) -> str:
        """The URL Twilio signed for this request: public URL plus the query string."""
        if route == "webhook" and self.webhook_url:
            url = self.webhook_url
        else:
            url = self._route_url(request, route)
        if request.query_string and "?" not in url:
            url = f"{url}?{request.query_string}"
        return url

    def _is_signed(self, request: Request, params: FormParams | None, url: str) -> bool:
        if self._validator is None or params is None:
            return False
        signature = request.headers.get("x-twilio-signature") or ""
        if not signature:
            return False
        try:
            return bool(self._validator.validate(url, params, signature))
        except (ValueError, TypeError):
            # A forged Host header ("host:abc") or odd parameters: not a request Twilio signed.
            return False

    def _status_callback_url(self, request: Request, sender: str, inbound_sid: str) -> str:
        # ":" left as is: HTTP clients and proxies tend to unescape "%3A" in a query, which
        # would change the URL Twilio signs. "+" must stay escaped (it would read as a space).
        query = urlencode({"conv": sender, "inbound": inbound_sid}, safe=":")
        return f"{self._route_url(request, 'status')}?{query}"

    # ----------------------------------------------------------------- webhook

    async def _webhook(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        params = parse_form(request)
        if not self._is_signed(request, params, self._signed_url(request, "webhook")):
            logger.warning("Refused a Twilio webhook call with a missing or wrong signature.")
            return response.text("Forbidden", status=403)
        assert params is not None  # _is_signed is False for an unreadable form

        sender = params.first("From").strip()
        if not sender:
            return response.text("Missing 'From'", status=400)
        message_sid = (params.first("MessageSid") or params.first("SmsMessageSid")).strip()[:64]
        medium = medium_of(sender)
        masked = mask_phone(sender)

        if message_sid and message_sid in self._seen:
            logger.info("Twilio retried message %s from %s: already answered.", message_sid, masked)
            return twiml_response([])

        text, metadata = classify_input(params, medium)
        logger.info(
            "Twilio %s message %s from %s (%d characters).",
            medium,
            message_sid or "-",
            masked,
            len(text),
        )
        if await divert_to_helpdesk(sender, message_sid, text, medium):
            return twiml_response([])  # an agent holds the conversation (human handover)
        try:
            turn = await self._handle_turn(
                request, on_new_message, sender, message_sid, text, medium, metadata
            )
        except Exception:
            logger.exception("Rasa failed on message %s from %s.", message_sid or "-", masked)
            return twiml_response([FALLBACK_REPLY_TEXT])

        if message_sid:
            self._seen.add(message_sid)
        if turn.duplicate:
            logger.info("Message %s from %s was already processed.", message_sid, masked)
            return twiml_response([])
        callback = None
        if medium == "whatsapp" and turn.recorded and message_sid:
            callback = self._status_callback_url(request, sender, message_sid)
        return twiml_response(turn.bodies, callback)

    async def _handle_turn(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        sender: str,
        message_sid: str,
        text: str,
        medium: Medium,
        metadata: dict[str, Any],
    ) -> _Turn:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None:
            # Not inside `rasa run` (a bare Sanic app): Rasa's handler does the work, without
            # the tracker-based features (numbered replies, shared idempotency, SMS fallback).
            collector = collector_for(medium)
            await on_new_message(self._user_message(text, collector, sender, message_sid, metadata))
            return _Turn(render_turn(collector.messages, medium))
        if not agent.is_ready():
            raise RuntimeError("Rasa has no model loaded")

        # agent.handle_message would take this same lock again, so the processor is called
        # directly: the idempotency check and the processing must be one critical section.
        async with agent.lock_store.lock(sender):
            tracker = await agent.tracker_store.retrieve(sender)
            events: list[Event] = list(tracker.events) if tracker is not None else []
            if message_sid and already_handled(events, message_sid):
                return _Turn(duplicate=True)

            choice = parse_choice(text)
            if choice is not None:
                metadata["twilio"]["choice"] = choice
                options_message = last_bot_message_with_options(events)
                if options_message is None:
                    text = INTENT_MENU
                else:
                    buttons = message_buttons(options_message)
                    if not 1 <= choice <= len(buttons):
                        # Out of range: show the same options again. Nothing new was said,
                        # so no Rasa turn; a record in the tracker marks the MessageSid done.
                        messages = [options_message]
                        recorded = await self._record_reply(
                            agent, tracker, message_sid, medium, messages
                        )
                        return _Turn(render_turn(messages, medium), recorded=recorded)
                    button = buttons[choice - 1]
                    text = str(button.get("payload") or button.get("title") or "")

            collector = collector_for(medium)
            await agent.processor.handle_message(
                self._user_message(text, collector, sender, message_sid, metadata)
            )
            recorded = False
            if medium == "whatsapp":
                tracker = await agent.tracker_store.retrieve(sender)
                recorded = await self._record_reply(
                    agent, tracker, message_sid, medium, collector.messages
                )
            return _Turn(render_turn(collector.messages, medium), recorded=recorded)

    def _user_message(
        self,
        text: str,
        collector: OutputChannel,
        sender: str,
        message_sid: str,
        metadata: dict[str, Any],
    ) -> UserMessage:
        return UserMessage(
            text,
            collector,
            sender,
            input_channel=self.name(),
            message_id=message_sid or None,
            metadata=metadata,
        )

    async def _record_reply(
        self,
        agent: Any,
        tracker: Any,
        message_sid: str,
        medium: Medium,
        messages: Sequence[Mapping[str, Any]],
    ) -> bool:
        """Store what was answered to ``message_sid`` (and its SMS rendering for WhatsApp).

        The record lives in the tracker so that any replica can answer Twilio's status
        callback for this reply, and so that a retried MessageSid is recognised even when
        no user event was logged (out-of-range numbers).
        """
        if not message_sid or tracker is None:
            return False
        data: dict[str, Any] = {
            "kind": REPLY_RECORD_KIND,
            "inbound_sid": message_sid,
            "medium": medium,
        }
        if medium == "whatsapp":
            data["sms_bodies"] = await self._sms_bodies(agent, tracker, messages)
        tracker.update(AgentUttered(data=data))
        await agent.tracker_store.save(tracker)
        return True

    async def _sms_bodies(
        self, agent: Any, tracker: Any, messages: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """The SMS rendering of a WhatsApp reply: each response generated again for ``sms``."""
        processor = agent.processor
        nlg = getattr(processor, "nlg", None) or agent.nlg
        domain = getattr(processor, "domain", None) or agent.domain
        responses = domain.responses if domain is not None else {}
        sms_messages: list[Mapping[str, Any]] = []
        for message in messages:
            sms_messages.append(await self._sms_version(nlg, tracker, responses, message))
        return render_turn(sms_messages, "sms")

    @staticmethod
    async def _sms_version(
        nlg: Any, tracker: Any, responses: Any, message: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        name = message.get("utter_action")
        if not isinstance(name, str) or not name:
            return message  # text from a custom action: to_gsm7 is all we can do
        variables = {
            k: v
            for k, v in message.items()
            if isinstance(k, str) and k not in _NOT_TEMPLATE_VARIABLES
        }
        try:
            generated = await nlg.generate(
                name, tracker, "sms", domain_responses=responses, **variables
            )
        except Exception:
            # A broken SMS variation must not cost the user the WhatsApp answer.
            logger.warning(
                "Could not render %s for SMS; using the WhatsApp text.", name, exc_info=True
            )
            return message
        if not generated:
            return message
        if not message_buttons(generated) and message_buttons(message):
            # Buttons added by a custom action are not part of the response template.
            generated = {**generated, "buttons": message_buttons(message)}
        return dict(generated)

    # ----------------------------------------------------------------- status callback

    async def _status(self, request: Request) -> HTTPResponse:
        params = parse_form(request)
        if not self._is_signed(request, params, self._signed_url(request, "status")):
            logger.warning("Refused a Twilio status callback with a missing or wrong signature.")
            return response.text("Forbidden", status=403)
        assert params is not None

        status = (params.first("MessageStatus") or params.first("SmsStatus")).strip().lower()
        if status not in FAILED_STATUSES:
            return response.text("", status=200)
        conversation = (request.args.get("conv") or "").strip()
        inbound_sid = (request.args.get("inbound") or "").strip()
        if not conversation or not inbound_sid:
            logger.warning("Status callback without conv/inbound parameters; ignored.")
            return response.text("Missing conv or inbound", status=400)
        if medium_of(conversation) != "whatsapp":
            return response.text("", status=200)  # only WhatsApp replies fall back to SMS

        logger.info(
            "WhatsApp reply to %s (message %s) is %s (error %s).",
            mask_phone(conversation),
            inbound_sid,
            status,
            params.first("ErrorCode") or "-",
        )
        bodies = await self._claim_fallback(request, conversation, inbound_sid, status, params)
        if bodies:
            self._spawn(self._send_fallback(conversation, inbound_sid, bodies))
        return response.text("", status=200)

    async def _claim_fallback(
        self,
        request: Request,
        conversation: str,
        inbound_sid: str,
        status: str,
        params: FormParams,
    ) -> list[str]:
        """The SMS bodies to send if this replica is the first to take on the fallback.

        The claim is an event in the shared tracker, written under the conversation lock
        before sending: one reply can fail in several parts and Twilio reports each (and
        ``failed`` may follow ``undelivered``), possibly to different replicas. Claiming
        first means at most one SMS version per reply; the send itself is retried.
        """
        if inbound_sid in self._claimed:
            return []
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            logger.warning("No Rasa agent: cannot look up the reply for the SMS fallback.")
            return []
        async with agent.lock_store.lock(conversation):
            store = agent.tracker_store
            full = await store.retrieve_full_tracker(conversation)
            events: list[Event] = list(full.events) if full is not None else []
            record = find_reply_record(events, inbound_sid)
            if record is None:
                logger.warning("No recorded reply for message %s; no SMS fallback.", inbound_sid)
                return []
            if fallback_claimed(events, inbound_sid):
                self._claimed.add(inbound_sid)
                return []
            bodies = [str(b) for b in record.get("sms_bodies") or [] if str(b).strip()]
            # Written to the latest session only: SQL tracker stores append events by their
            # position in the current session, so a full tracker must not be saved back.
            tracker = await store.retrieve(conversation)
            if tracker is None:
                return []
            tracker.update(
                AgentUttered(
                    data={
                        "kind": FALLBACK_CLAIM_KIND,
                        "inbound_sid": inbound_sid,
                        "status": status,
                        "failed_message_sid": params.first("MessageSid")[:64],
                    }
                )
            )
            await store.save(tracker)
        self._claimed.add(inbound_sid)
        return bodies

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # Twilio wants a quick answer to the callback; the send (with retries) runs after it.
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_fallback(self, conversation: str, inbound_sid: str, bodies: list[str]) -> None:
        to = conversation.split(":", 1)[1]
        masked = mask_phone(to)
        if not self.sms_number:
            logger.error("TWILIO_SMS_NUMBER is empty: cannot send the SMS version to %s.", masked)
            return
        try:
            sids = await self.sender.send(to, self.sms_number, bodies)
        except Exception:
            logger.exception("SMS fallback to %s crashed.", masked)
            return
        if len(sids) == len(bodies):
            logger.info(
                "Sent the SMS version of reply %s to %s (%d part(s)).",
                inbound_sid,
                masked,
                len(sids),
            )
        else:
            logger.error(
                "SMS version of reply %s to %s: sent %d of %d part(s).",
                inbound_sid,
                masked,
                len(sids),
                len(bodies),
            )
