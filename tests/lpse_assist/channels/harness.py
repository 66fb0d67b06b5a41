"""Test harness of the Twilio channel: the channel in a real Sanic server, a real Rasa Agent.

Everything is real except the dialogue policy: the Agent has Rasa's in-memory tracker and
lock stores and the templated NLG over a small test domain, and ``ScriptedProcessor`` stands
in for a trained model (it maps intents to responses from a fixed script). The local Twilio
stand-in runs in the same event loop and talks to the bot over real HTTP.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa.core.actions.action import create_bot_utterance
from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage, register
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from lpse_assist.channels.sender_limit import SenderLimiter
from lpse_assist.channels.twilio import TwilioInput
from lpse_assist.sessions import handle_with_tracker
from lpse_assist.twilio_local import LocalTwilio, Media, WebhookReply, inbound_form, post_signed
from lpse_assist.twilio_local.client import bot_number

# Fake credentials: the stand-in and the channel share them, nothing reaches Twilio.
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-token-not-a-secret"
SMS_NUMBER = "+15005550006"
WHATSAPP_NUMBER = "whatsapp:+14155238886"

LONG_PARAGRAPH = "Langkah " + " ".join(f"nomor-{i} dijelaskan dengan rinci." for i in range(25))

TEST_DOMAIN = {
    "version": "3.1",
    "intents": [
        "greet",
        "login_problem",
        "long_answer",
        "emoji_answer",
        "two_messages",
        "send_media",
        "send_unsupported_media",
        "send_empty",
        "ask_menu",
        "out_of_scope",
        "login_wrong_credentials",
        "forgot_password",
        "contact_support",
        "crash",
    ],
    "responses": {
        "utter_greet": [
            {"text": "Halo, selamat datang di *LPSE Assist*."},
            {"text": "Halo, selamat datang di LPSE Assist (SMS).", "channel": "sms"},
        ],
        "utter_menu": [
            {
                "text": "Pilih topik:",
                "buttons": [
                    {"title": "Tidak bisa login", "payload": "/login_problem"},
                    {"title": "Lupa password", "payload": "/forgot_password"},
                    {"title": "Hubungi helpdesk", "payload": "/contact_support"},
                ],
            }
        ],
        "utter_ask_login_message": [
            {
                "text": "Pesan apa yang muncul?",
                "buttons": [
                    {"title": "User ID atau Password salah", "payload": "/login_wrong_credentials"},
                    {"title": "Lainnya", "payload": "/contact_support"},
                ],
            }
        ],
        "utter_answer_login_wrong_credentials": [
            {"text": "*Login kembali* dengan User ID yang benar \U0001f642"},
            {"text": "Login kembali dengan User ID yang benar.", "channel": "sms"},
        ],
        "utter_answer_forgot_password": [{"text": "Klik *Lupa Password*."}],
        "utter_contact_support": [{"text": "Hubungi helpdesk LPSE."}],
        "utter_long": [{"text": "\n\n".join(f"{i}. {LONG_PARAGRAPH}" for i in range(12))}],
        # No SMS variation on purpose: the SMS sanitiser is the safety net.
        "utter_emoji": [
            {
                "text": "\u201cPenting\u201d \U0001f44d \u2014 klik "
                "\u2018Lupa\u2019\u2026 *tebal* \u20ac"
            }
        ],
        "utter_first": [{"text": "Pesan pertama."}],
        "utter_second": [{"text": "Pesan kedua."}],
        "utter_ask_type_message": [{"text": "Mohon *ketik pesan* yang muncul di layar."}],
        "utter_unsupported_media": [{"text": "Mohon kirim pesan teks."}],
        "utter_ask_empty_message": [{"text": "Pesan Anda kosong."}],
        "utter_default": [{"text": "Maaf, saya belum paham."}],
        "utter_sender_limit": [
            {"text": "Terlalu banyak pesan. Mohon *tunggu* sebentar."},
            {"text": "Terlalu banyak pesan (SMS). Mohon tunggu.", "channel": "sms"},
        ],
    },
}

SCRIPT: dict[str, list[str]] = {
    "greet": ["utter_greet", "utter_menu"],
    "ask_menu": ["utter_menu"],
    "login_problem": ["utter_ask_login_message"],
    "login_wrong_credentials": ["utter_answer_login_wrong_credentials"],
    "forgot_password": ["utter_answer_forgot_password"],
    "contact_support": ["utter_contact_support"],
    "long_answer": ["utter_long"],
    "emoji_answer": ["utter_emoji"],
    "two_messages": ["utter_first", "utter_second"],
    "send_media": ["utter_ask_type_message"],
    "send_unsupported_media": ["utter_unsupported_media"],
    "send_empty": ["utter_ask_empty_message"],
}

KEYWORDS = {
    "halo": "greet",
    "login": "login_problem",
    "panjang": "long_answer",
    "emoji": "emoji_answer",
    "dua": "two_messages",
    "boom": "crash",
}


class ScriptedProcessor:
    """Stands in for MessageProcessor: fixed script instead of a trained policy.

    It logs real Rasa events (UserUttered with the message_id, ActionExecuted, BotUttered
    built by Rasa's own ``create_bot_utterance``) into the real tracker store and sends bot
    messages to the output channel the way Rasa's processor does.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.domain = agent.domain
        self.nlg = agent.nlg
        self.tracker_store = agent.tracker_store
        self.received: list[UserMessage] = []

    @staticmethod
    def intent_of(text: str) -> str:
        if text.startswith("/"):
            return re.split(r"[{@]", text[1:], maxsplit=1)[0]
        lowered = text.lower()
        return next((i for k, i in KEYWORDS.items() if k in lowered), "out_of_scope")

    async def handle_message(self, message: UserMessage) -> None:
        """MessageProcessor.handle_message: load, then the steps below."""
        tracker = await self.get_tracker(message.sender_id)
        await handle_with_tracker(self, message, tracker)

    # The steps of MessageProcessor.handle_message that lpse_assist.sessions calls.

    async def get_tracker(self, sender_id: str) -> DialogueStateTracker:
        tracker: DialogueStateTracker = await self.tracker_store.get_or_create_tracker(sender_id)
        return tracker

    async def _update_tracker_session(self, *_: Any) -> None:
        return None

    async def _handle_message_with_tracker(
        self, message: UserMessage, tracker: DialogueStateTracker
    ) -> None:
        self.received.append(message)
        intent = self.intent_of(message.text or "")
        if intent == "crash":
            raise RuntimeError("scripted failure")
        tracker.update(
            UserUttered(
                message.text,
                {"name": intent, "confidence": 1.0},
                input_channel=message.input_channel,
                message_id=message.message_id,
                metadata=message.metadata,
            )
        )

    async def run_action_extract_slots(
        self, _: Any, tracker: DialogueStateTracker
    ) -> DialogueStateTracker:
        return tracker

    async def _run_prediction_loop(
        self, output_channel: Any, tracker: DialogueStateTracker
    ) -> None:
        intent = tracker.latest_message.intent.get("name") if tracker.latest_message else None
        for name in SCRIPT.get(str(intent), ["utter_default"]):
            generated = await self.nlg.generate(
                name,
                tracker,
                output_channel.name(),
                domain_responses=self.domain.responses,
            )
            assert generated is not None, name
            generated["utter_action"] = name
            bot_event = create_bot_utterance(generated)
            tracker.update(ActionExecuted(name))
            tracker.update(bot_event)
            await output_channel.send_response(tracker.sender_id, bot_event.message())
        tracker.update(ActionExecuted("action_listen"))

    async def run_anonymization_pipeline(self, _: DialogueStateTracker) -> None:
        return None

    async def save_tracker(self, tracker: DialogueStateTracker) -> None:
        await self.tracker_store.save(tracker)

    def texts(self) -> list[str]:
        """What Rasa received, in order."""
        return [m.text or "" for m in self.received]


def make_agent(
    tracker_store: TrackerStore | None = None, lock_store: LockStore | None = None
) -> tuple[Agent, ScriptedProcessor]:
    """A real Rasa Agent over the test domain, with the scripted processor."""
    domain = Domain.from_dict(TEST_DOMAIN)
    agent = Agent(
        domain=domain,
        tracker_store=tracker_store or InMemoryTrackerStore(domain),
        lock_store=lock_store or InMemoryLockStore(),
    )
    processor = ScriptedProcessor(agent)
    agent.processor = processor  # type: ignore[assignment]
    return agent, processor


@dataclass
class Bot:
    """One running bot replica: Sanic app with the Twilio channel registered as Rasa does."""

    app: Sanic
    channel: TwilioInput
    processor: ScriptedProcessor | None
    base_url: str
    server: Any

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/twilio/webhook"

    @property
    def status_url(self) -> str:
        return f"{self.base_url}/webhooks/twilio/status"

    async def stop(self) -> None:
        await stop_server(self.server)


def make_channel(
    api_base_url: str = "",
    webhook_url: str = "",
    auth_token: str = AUTH_TOKEN,
    sender_limit: SenderLimiter | None = None,
) -> TwilioInput:
    """The channel as credentials.yml would build it, with test values."""
    return TwilioInput(
        account_sid=ACCOUNT_SID,
        auth_token=auth_token,
        sms_number=SMS_NUMBER,
        whatsapp_number=WHATSAPP_NUMBER,
        webhook_url=webhook_url,
        api_base_url=api_base_url,
        send_timeout=2.0,
        send_attempts=3,
        sender_limit=sender_limit,
    )


async def start_bot(
    channel: TwilioInput,
    agent: Agent | None,
    on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None,
) -> Bot:
    """Serve ``channel`` on a free port, registered the way ``rasa run`` registers channels.

    ``agent=None`` runs without ``app.ctx.agent``; ``on_new_message`` replaces Rasa's handler.
    """
    app, base_url, server = await serve(channel, agent, on_new_message)
    processor = agent.processor if agent is not None else None
    return Bot(app, channel, processor, base_url, server)  # type: ignore[arg-type]


async def serve(
    channel: InputChannel,
    agent: Agent | None,
    on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None,
) -> tuple[Sanic, str, Any]:
    """Any input channel in a real Sanic server on a free port: the app, its URL, the server."""
    # Several apps start in one process here; test mode is how Sanic allows that.
    Sanic.test_mode = True
    app = Sanic(f"lpse_test_{uuid.uuid4().hex}")
    if agent is not None:
        app.ctx.agent = agent
    if on_new_message is None:
        register([channel], app, route="/webhooks/")
    else:
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    return app, f"http://127.0.0.1:{port}", server


async def stop_server(server: Any) -> None:
    """Stop a server started by ``serve``."""
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


@dataclass
class Twilio:
    """Sends what Twilio would send to a bot, signed with the test token."""

    session: aiohttp.ClientSession
    standin: LocalTwilio
    sent_sids: list[str] = field(default_factory=list)

    async def message(
        self,
        bot: Bot,
        from_: str,
        body: str | None = "",
        *,
        media: Sequence[Media] = (),
        message_sid: str | None = None,
        extra: Mapping[str, str] | None = None,
        drop: Sequence[str] = (),
        token: str | None = AUTH_TOKEN,
        url: str | None = None,
        signed_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebhookReply:
        """POST an inbound message to ``bot`` (``drop`` removes form fields before signing)."""
        form = inbound_form(
            account_sid=ACCOUNT_SID,
            from_=from_,
            to=bot_number(from_, SMS_NUMBER, WHATSAPP_NUMBER),
            body=body,
            media=media,
            message_sid=message_sid,
            extra=extra,
            drop=drop,
        )
        self.sent_sids.append(form.get("MessageSid", ""))
        return await post_signed(
            self.session,
            url or bot.webhook_url,
            form,
            token,
            signed_url=signed_url,
            headers=headers,
        )
