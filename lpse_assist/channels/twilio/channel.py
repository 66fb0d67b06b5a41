"""The Twilio input channel: routes, one turn per message, the status callback.

The parts live beside it: ``request`` (form, signature, what Rasa gets), ``records``
(idempotency and reply records), ``fallback`` (SMS version of a failed WhatsApp reply),
``output`` (collectors and TwiML); numbered replies are ``lpse_assist.channels.choices``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from lpse_assist import rasa_speedups
from lpse_assist.background import BackgroundTasks
from lpse_assist.channels.choices import resolve_choice
from lpse_assist.channels.sender_limit import SenderLimiter, Verdict, limit_notice
from lpse_assist.channels.twilio.fallback import FAILED_STATUSES, SmsFallback
from lpse_assist.channels.twilio.output import FALLBACK_REPLY_TEXT, collector_for, twiml_response
from lpse_assist.channels.twilio.records import (
    RecentIds,
    ReplyStore,
    already_handled,
    record_reply,
    reply_store_for,
)
from lpse_assist.channels.twilio.request import (
    FormParams,
    Signatures,
    classify_input,
    medium_of,
    parse_form,
)
from lpse_assist.handover import divert_to_helpdesk, record_delivery
from lpse_assist.privacy import mask_phone
from lpse_assist.production import refuse_development_secrets
from lpse_assist.render import Medium, render_turn
from lpse_assist.sessions import bound_session, handle_with_tracker, load_tracker
from lpse_assist.settings import twilio_settings
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)


@dataclass
class _Turn:
    bodies: list[str] = field(default_factory=list)
    duplicate: bool = False
    recorded: bool = False


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

        if given.get("production") is True:  # credentials.production.yml
            refuse_development_secrets(
                pick("auth_token", settings.auth_token), pick("webhook_url", settings.webhook_url)
            )
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
        sender_limit: SenderLimiter | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number
        self.webhook_url = webhook_url.strip()
        self.signatures = Signatures(auth_token, self.webhook_url)
        if not self.signatures.enabled:
            logger.error("TWILIO_AUTH_TOKEN is empty: every Twilio request will be refused.")
        self.sender = TwilioRestSender(
            account_sid, auth_token, api_base_url, send_timeout, send_attempts
        )
        self._seen = RecentIds(recent_ids)
        # SENDER_LIMIT_PER_MINUTE, counted in Redis (production) or memory (sender_limit.py).
        self.sender_limit = sender_limit or SenderLimiter.from_settings()
        self._records = BackgroundTasks()
        self._reply_store: ReplyStore | None = None
        self._reply_store_of: Any = None
        self.fallback = SmsFallback(self.sender, sms_number, recent_ids, self._records.wait)

    # ----------------------------------------------------------------- routes

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes ``GET /``, ``POST /webhook`` and ``POST /status``."""
        rasa_speedups.install()  # Rasa's per-message waste removed (lpse_assist/rasa_speedups.py)
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
        """Wait until reply records and SMS fallback sends are done (tests, shutdown)."""
        await self._records.wait()
        await self.fallback.wait()

    def _status_callback_url(self, request: Request, sender: str, inbound_sid: str) -> str:
        return self.signatures.status_callback_url(request, sender, inbound_sid)

    # ----------------------------------------------------------------- webhook

    async def _webhook(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        params = parse_form(request)
        if not self.signatures.is_signed(request, params, "webhook"):
            logger.warning("Refused a Twilio webhook call with a missing or wrong signature.")
            return response.text("Forbidden", status=403)
        assert params is not None  # is_signed is False for an unreadable form

        sender = params.first("From").strip()
        if not sender:
            return response.text("Missing 'From'", status=400)
        message_sid = (params.first("MessageSid") or params.first("SmsMessageSid")).strip()[:64]
        medium = medium_of(sender)
        masked = mask_phone(sender)

        verdict = await self.sender_limit.check(sender, message_sid)
        if verdict is not Verdict.ALLOW:  # over the limit: the notice once, then nothing
            notice = verdict is Verdict.NOTICE
            return twiml_response(await limit_notice(request, sender, medium) if notice else [])

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
        # One tracker load serves the idempotency check, the numbered choice and Rasa's turn.
        replies = self._replies(agent)
        async with agent.lock_store.lock(sender):
            processor = agent.processor
            tracker = await load_tracker(processor, sender)
            # The record lookup is a database query: in a worker thread, so the event loop
            # serves other conversations meanwhile.
            if message_sid and (
                already_handled(tracker.events, message_sid)
                or await asyncio.to_thread(replies.handled, message_sid)
            ):
                return _Turn(duplicate=True)

            choice = resolve_choice(text, tracker.events)
            if choice is not None:
                metadata["twilio"]["choice"] = choice.number
                if choice.repeat is not None:
                    # No option of that number: show the same options again. Nothing new was
                    # said, so no Rasa turn; the reply record marks the MessageSid done.
                    messages = [choice.repeat]
                    if message_sid:
                        await record_reply(agent, replies, tracker, message_sid, medium, messages)
                    return _Turn(render_turn(messages, medium), recorded=bool(message_sid))
                text = choice.payload or text

            tracker, _ = await bound_session(processor, tracker)
            collector = collector_for(medium)
            message = self._user_message(text, collector, sender, message_sid, metadata)
            await handle_with_tracker(processor, message, tracker)
        if message_sid:
            # After the answer: the user event (with the MessageSid) is saved, which is what
            # a retry is checked against; the record is for the SMS fallback, whose status
            # callback comes after WhatsApp tried to deliver, and for retries across a new
            # session.
            self._records.start(
                self._record(agent, replies, tracker, message_sid, medium, collector.messages)
            )
        return _Turn(render_turn(collector.messages, medium), recorded=bool(message_sid))

    async def _record(
        self,
        agent: Any,
        replies: ReplyStore,
        tracker: Any,
        message_sid: str,
        medium: Medium,
        messages: list[dict[str, Any]],
    ) -> None:
        try:
            await record_reply(agent, replies, tracker, message_sid, medium, messages)
        except Exception:
            logger.exception("Could not record the reply to message %s.", message_sid)

    def _replies(self, agent: Any) -> ReplyStore:
        """The reply records on the agent's tracker store database (made on first use)."""
        store = agent.tracker_store
        if self._reply_store is None or self._reply_store_of is not store:
            self._reply_store = reply_store_for(store)
            self._reply_store_of = store
        return self._reply_store

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

    # ----------------------------------------------------------------- status callback

    async def _status(self, request: Request) -> HTTPResponse:
        params = parse_form(request)
        if not self.signatures.is_signed(request, params, "status"):
            logger.warning("Refused a Twilio status callback with a missing or wrong signature.")
            return response.text("Forbidden", status=403)
        assert params is not None

        status = (params.first("MessageStatus") or params.first("SmsStatus")).strip().lower()
        if request.args.get("handover"):  # a helpdesk agent's message (lpse_assist.handover)
            await record_delivery(request.args["handover"][0], params.first("MessageSid"), status)
            return response.text("", status=200)
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
            self.fallback.start(conversation, inbound_sid, bodies)
        return response.text("", status=200)

    async def _claim_fallback(
        self,
        request: Request,
        conversation: str,
        inbound_sid: str,
        status: str,
        params: FormParams,
    ) -> list[str]:
        agent = getattr(request.app.ctx, "agent", None)
        replies = self._replies(agent) if agent is not None and agent.is_ready() else None
        failed_sid = params.first("MessageSid")[:64]
        return await self.fallback.claim(replies, conversation, inbound_sid, status, failed_sid)
