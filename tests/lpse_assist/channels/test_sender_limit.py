"""The per-sender limit of the Twilio webhook: one notice over the limit, then nothing until
the window passes; other senders unaffected; retries not counted twice; two replicas share
the count through a real Redis (Debian's redis-server)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lpse_assist.channels.sender_limit import (
    MemoryCounter,
    RedisCounter,
    SenderLimiter,
    Verdict,
)
from lpse_assist.render import is_gsm7
from lpse_assist.settings import SenderLimitSettings
from tests.deploy.conftest import require_binaries
from tests.deploy.topology import Topology
from tests.lpse_assist.channels.harness import Twilio

LIMIT = 3
NOTICE_WHATSAPP = "Terlalu banyak pesan. Mohon *tunggu* sebentar."
NOTICE_SMS = "Terlalu banyak pesan (SMS). Mohon tunggu."


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bodies(reply: Any) -> list[str]:
    return [m.body for m in reply.messages]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Topology]:
    """A real redis-server on a free loopback port, with a password (as in production)."""
    require_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="lpse-limit-redis-"))
    topology = Topology(workdir, replicas=0)
    topology.start_redis()
    try:
        yield topology
    finally:
        topology.redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def redis_settings(redis: Topology, per_minute: int = LIMIT) -> SenderLimitSettings:
    return SenderLimitSettings(
        per_minute=per_minute,
        redis_host="127.0.0.1",
        redis_port=redis.redis_port,
        redis_password=redis.redis_password,
        redis_db=3,
    )


# ------------------------------------------------------------------------- the counters


async def test_memory_counter_window_retries_and_other_senders() -> None:
    clock = Clock()
    limiter = SenderLimiter(LIMIT, MemoryCounter(clock=clock))
    verdicts = [await limiter.check("+62811", f"SM{n}") for n in range(6)]
    assert verdicts == [Verdict.ALLOW] * LIMIT + [Verdict.NOTICE, Verdict.DROP, Verdict.DROP]
    # A retry of an allowed message keeps its verdict and does not count again.
    assert await limiter.check("+62811", "SM1") is Verdict.ALLOW
    assert await limiter.check("+62811", "SM3") is Verdict.NOTICE
    assert await limiter.check("+62822", "SMx") is Verdict.ALLOW  # someone else
    clock.now += 59.9
    assert await limiter.check("+62811", "SM7") is Verdict.DROP
    clock.now += 0.2  # the window has passed
    assert await limiter.check("+62811", "SM8") is Verdict.ALLOW


async def test_zero_turns_the_limit_off() -> None:
    limiter = SenderLimiter(0, MemoryCounter())
    assert not limiter.enabled
    assert {await limiter.check("+62811", "") for _ in range(100)} == {Verdict.ALLOW}


async def test_redis_counter_counts_once_per_message_sid(redis_server: Topology) -> None:
    limiter = SenderLimiter(LIMIT, RedisCounter(redis_settings(redis_server)))
    sender = "whatsapp:+6281100000501"
    first = await limiter.check(sender, "SMr1")
    retries = [await limiter.check(sender, "SMr1") for _ in range(10)]
    assert first is Verdict.ALLOW and set(retries) == {Verdict.ALLOW}
    rest = [await limiter.check(sender, f"SMr{n}") for n in range(2, 6)]
    assert rest == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE, Verdict.DROP]


async def test_redis_keys_hold_no_phone_number_and_expire(redis_server: Topology) -> None:
    import redis

    settings = redis_settings(redis_server)
    await SenderLimiter(LIMIT, RedisCounter(settings)).check("+6281100000777", "SMk")
    client = redis.Redis(
        host="127.0.0.1", port=settings.redis_port, password=settings.redis_password, db=3
    )
    try:
        keys = [k.decode() for k in client.keys("lpseassist:limit:*")]
        assert keys and not any("6281100000777" in k for k in keys)
        assert all(0 < client.pttl(k) <= 60_000 for k in keys)
    finally:
        client.close()


async def test_unreachable_redis_lets_messages_through() -> None:
    settings = SenderLimitSettings(LIMIT, "127.0.0.1", 1, "", 0)  # nothing listens on port 1
    limiter = SenderLimiter(LIMIT, RedisCounter(settings))
    assert [await limiter.check("+62811", f"SM{n}") for n in range(5)] == [Verdict.ALLOW] * 5


# ------------------------------------------------------------------------- over the webhook


async def test_sender_over_the_limit_gets_one_notice_then_nothing(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str, wa_user: str
) -> None:
    bot = await bots(sender_limit=SenderLimiter(LIMIT, MemoryCounter()))
    for _ in range(LIMIT):
        reply = await twilio.message(bot, sms_user, "halo")
        assert reply.status == 200 and "selamat datang" in bodies(reply)[0]
    notice = await twilio.message(bot, sms_user, "halo")
    assert notice.status == 200 and notice.is_twiml
    assert bodies(notice) == [NOTICE_SMS] and is_gsm7(NOTICE_SMS)
    for _ in range(3):
        silent = await twilio.message(bot, sms_user, "halo")
        assert silent.status == 200 and silent.is_twiml and bodies(silent) == []
    # Nothing over the limit reached Rasa.
    assert bot.processor is not None and len(bot.processor.received) == LIMIT
    # Other senders are unaffected; a WhatsApp user over the limit gets the WhatsApp text.
    other = await twilio.message(bot, wa_user, "halo")
    assert "selamat datang" in bodies(other)[0]
    for _ in range(LIMIT - 1):
        await twilio.message(bot, wa_user, "halo")
    assert bodies(await twilio.message(bot, wa_user, "halo")) == [NOTICE_WHATSAPP]


async def test_twilio_retries_do_not_count_twice(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str
) -> None:
    bot = await bots(sender_limit=SenderLimiter(LIMIT, MemoryCounter()))
    first = await twilio.message(bot, sms_user, "halo", message_sid="SMretry0000000000000001")
    assert bodies(first)
    for _ in range(5):  # Twilio retrying the same message: answered as a duplicate
        retry = await twilio.message(bot, sms_user, "halo", message_sid="SMretry0000000000000001")
        assert retry.status == 200 and bodies(retry) == []
    for _ in range(LIMIT - 1):  # ... and the sender still has the rest of the limit
        assert bodies(await twilio.message(bot, sms_user, "halo"))
    assert bodies(await twilio.message(bot, sms_user, "halo")) == [NOTICE_SMS]


async def test_two_replicas_share_the_count_in_redis(
    bots: Callable[..., Any], twilio: Twilio, redis_server: Topology, sms_user: str
) -> None:
    settings = redis_settings(redis_server)
    replicas = [await bots(sender_limit=SenderLimiter.from_settings(settings)) for _ in range(2)]
    answers = []
    for n in range(LIMIT + 3):  # alternating replicas, as a load balancer would
        reply = await twilio.message(replicas[n % 2], sms_user, "halo")
        assert reply.status == 200
        answers.append(bodies(reply))
    assert all("selamat datang" in a[0] for a in answers[:LIMIT])
    assert answers[LIMIT:] == [[NOTICE_SMS], [], []]
    processed = sum(len(r.processor.received) for r in replicas if r.processor is not None)
    assert processed == LIMIT
