"""The REST channel over real HTTP: a typed number picks an option by the Twilio channel's rule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from lpse_assist.channels.choices import INTENT_MENU
from lpse_assist.channels.rest import RestInput
from tests.lpse_assist.channels.harness import ScriptedProcessor, make_agent, serve, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="function")


class RestBot:
    """The REST channel in a real Sanic server with a real Agent; ``say`` posts as a client."""

    def __init__(self, session: aiohttp.ClientSession, url: str, processor: Any) -> None:
        self.session = session
        self.url = f"{url}/webhooks/rest/webhook"
        self.processor: ScriptedProcessor = processor
        self.sender = f"rest-{uuid.uuid4().hex[:10]}"

    async def say(self, text: str) -> list[dict[str, Any]]:
        async with self.session.post(self.url, json={"sender": self.sender, "message": text}) as r:
            assert r.status == 200
            replies: list[dict[str, Any]] = await r.json()
            return replies


@pytest_asyncio.fixture(loop_scope="function")
async def rest() -> AsyncIterator[RestBot]:
    agent, processor = make_agent()
    _, url, server = await serve(RestInput(), agent)
    async with aiohttp.ClientSession() as session:
        yield RestBot(session, url, processor)
    await stop_server(server)


def payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


@pytest.mark.parametrize(
    ("answer", "payload"), [("2", "/forgot_password"), ("no 3", "/contact_support")]
)
async def test_numbered_reply_picks_the_option(rest: RestBot, answer: str, payload: str) -> None:
    await rest.say("halo")
    await rest.say(answer)
    assert rest.processor.texts()[-1] == payload


async def test_out_of_range_number_shows_the_options_again(rest: RestBot) -> None:
    greeting = await rest.say("halo")
    menu = [r for r in greeting if r.get("buttons")]
    again = await rest.say("7")
    assert again == menu  # the same question with the same options, as Rasa sent it
    assert rest.processor.texts() == ["halo"]  # nothing new was said to Rasa
    await rest.say("1")  # the options still stand
    assert rest.processor.texts()[-1] == "/login_problem"


async def test_number_without_options_asks_for_the_menu(rest: RestBot) -> None:
    replies = await rest.say("2")
    assert rest.processor.texts() == [INTENT_MENU]
    assert payloads(replies)[0] == "/login_problem"


async def test_text_goes_to_rasa_unchanged(rest: RestBot) -> None:
    await rest.say("halo")
    await rest.say("lupa password 2")
    assert rest.processor.texts()[-1] == "lupa password 2"
