"""A limit per sender on the Twilio webhook: a script cannot make the bot work without end.

Each sender may send ``SENDER_LIMIT_PER_MINUTE`` messages (default 20; 0 turns the limit off)
in a window of one minute that starts with their first message. The first message over the
limit gets one short notice (``utter_sender_limit`` from domain.yml, rendered by the agent's
NLG without running the dialogue); further messages get an empty TwiML answer and are not
processed until the window has passed. Other senders are not affected.

The counters are shared by all replicas: in Redis in the production profile (``REDIS_HOST``
set, the same server as the lock store, keys ``lpseassist:limit:<hash of the sender>``), in
memory in the embedded default (one process). A retry of the same ``MessageSid`` does not
count twice: it gets the verdict of its first delivery. When Redis cannot be reached the
message is let through (the limit protects capacity; losing users' messages would be worse).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rasa.shared.core.trackers import DialogueStateTracker
from sanic.request import Request

from lpse_assist.privacy import mask_phone
from lpse_assist.render import Medium, render_turn
from lpse_assist.settings import SenderLimitSettings, sender_limit_settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# The notice (domain.yml): the only answer over the limit.
SENDER_LIMIT_RESPONSE = "utter_sender_limit"
KEY_PREFIX = "lpseassist:limit:"
# Memory counters: forget finished windows every so many messages.
PRUNE_EVERY = 1024

# One round trip, atomic: the position of this message in the sender's window. A MessageSid
# seen before returns its first position; the window (key) expires a minute after its first
# message. Message ids are kept only up to the notice: later ones are dropped anyway.
_HIT_SCRIPT = """
if ARGV[1] ~= '' then
  local seen = redis.call('HGET', KEYS[1], ARGV[1])
  if seen then return tonumber(seen) end
end
local n = redis.call('HINCRBY', KEYS[1], '#', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if ARGV[1] ~= '' and n <= tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], ARGV[1], n) end
return n
"""


class Verdict(enum.Enum):
    """What the webhook does with a message."""

    ALLOW = "allow"  # process it
    NOTICE = "notice"  # the first over the limit: answer with the notice only
    DROP = "drop"  # over the limit: empty answer, nothing processed


class Counter(Protocol):
    """Counts a sender's messages in the current window."""

    async def hit(self, sender: str, message_sid: str, keep_ids_until: int) -> int:
        """This message's position in the sender's window (a retry: its first position)."""


@dataclass
class _Window:
    started: float
    count: int = 0
    ids: dict[str, int] = field(default_factory=dict)


class MemoryCounter:
    """Counters of one process (the embedded default)."""

    def __init__(
        self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._hits = 0

    async def hit(self, sender: str, message_sid: str, keep_ids_until: int) -> int:
        now = self.clock()
        self._hits += 1
        if self._hits % PRUNE_EVERY == 0:
            self._windows = {
                s: w for s, w in self._windows.items() if now - w.started < self.window
            }
        current = self._windows.get(sender)
        if current is None or now - current.started >= self.window:
            current = self._windows[sender] = _Window(started=now)
        if message_sid and message_sid in current.ids:
            return current.ids[message_sid]
        current.count += 1
        if message_sid and current.count <= keep_ids_until:
            current.ids[message_sid] = current.count
        return current.count


class RedisCounter:
    """Counters in Redis, shared by every replica (the production profile)."""

    def __init__(self, settings: SenderLimitSettings, window: float = WINDOW_SECONDS) -> None:
        self.settings = settings
        self.window_ms = int(window * 1000)
        self._client: Any = None
        self._script: Any = None

    def _connect(self) -> Any:
        # Created on first use, in the event loop that serves the webhook.
        if self._script is None:
            from redis.asyncio import Redis

            self._client = Redis(
                host=self.settings.redis_host,
                port=self.settings.redis_port,
                password=self.settings.redis_password or None,
                db=self.settings.redis_db,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
            self._script = self._client.register_script(_HIT_SCRIPT)
        return self._script

    async def hit(self, sender: str, message_sid: str, keep_ids_until: int) -> int:
        # The key holds a hash, never the phone number.
        key = KEY_PREFIX + hashlib.sha256(sender.encode()).hexdigest()[:32]
        script = self._connect()
        result = await script(keys=[key], args=[message_sid, self.window_ms, keep_ids_until])
        return int(result)


class SenderLimiter:
    """The per-sender limit of the Twilio webhook."""

    def __init__(self, per_minute: int, counter: Counter) -> None:
        self.per_minute = max(0, per_minute)
        self.counter = counter

    @classmethod
    def from_settings(cls, settings: SenderLimitSettings | None = None) -> SenderLimiter:
        """Redis when ``REDIS_HOST`` is set (production profile), else memory."""
        settings = settings or sender_limit_settings()
        counter: Counter = RedisCounter(settings) if settings.redis_host else MemoryCounter()
        return cls(settings.per_minute, counter)

    @property
    def enabled(self) -> bool:
        """False when ``SENDER_LIMIT_PER_MINUTE`` is 0."""
        return self.per_minute > 0

    async def check(self, sender: str, message_sid: str) -> Verdict:
        """Count this message and say what to do with it."""
        if not self.enabled:
            return Verdict.ALLOW
        try:
            position = await self.counter.hit(sender, message_sid, self.per_minute + 1)
        except Exception:
            logger.warning("Sender limit unavailable; message let through.", exc_info=True)
            return Verdict.ALLOW
        if position <= self.per_minute:
            return Verdict.ALLOW
        if position == self.per_minute + 1:
            logger.warning(
                "%s sent more than %d messages in a minute: notice sent, further messages "
                "ignored until the minute is over.",
                mask_phone(sender),
                self.per_minute,
            )
            return Verdict.NOTICE
        return Verdict.DROP


async def limit_notice(request: Request, sender: str, medium: Medium) -> list[str]:
    """The notice's message bodies for ``medium``, from the domain through the agent's NLG
    (no dialogue turn, nothing stored); [] when no agent or response is there."""
    agent = getattr(request.app.ctx, "agent", None)
    domain = getattr(agent, "domain", None)
    nlg = getattr(getattr(agent, "processor", None), "nlg", None) or getattr(agent, "nlg", None)
    if domain is None or nlg is None:
        return []
    tracker = DialogueStateTracker(sender, domain.slots)
    try:
        message = await nlg.generate(
            SENDER_LIMIT_RESPONSE, tracker, medium, domain_responses=domain.responses
        )
    except Exception:
        logger.warning("Could not render %s.", SENDER_LIMIT_RESPONSE, exc_info=True)
        return []
    return render_turn([message], medium) if message else []
