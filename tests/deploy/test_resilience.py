"""A custom action whose server fails still answers the user: apology plus support contacts.

Rasa's real RemoteAction calls a real HTTP action server (aiohttp, on a free loopback port)
that is down, hangs, fails or rejects; the answer is rendered by the NLG Rasa builds from
``nlg: {type: lpse_assist.resilience.ResilientNLG}``. The whole path through `rasa run` with
the trained model is in ``test_replicas.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from lpse_assist import resilience
from lpse_assist.resilience import SERVICE_UNAVAILABLE_RESPONSE, ResilientNLG
from lpse_assist.settings import reset_settings_cache
from tests.deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[2]
SENDER = "whatsapp:+6281234567890"
# Used only when domain.yml does not have the response yet; the text the lead adds.
PROPOSED_TEXT = (
    "Maaf, layanan LPSE Assist sedang mengalami gangguan sehingga pesan Anda belum dapat "
    "diproses. Silakan hubungi kontak berikut atau coba lagi beberapa saat lagi:"
)


class SmsChannel(CollectingOutputChannel):
    @classmethod
    def name(cls) -> str:
        return "sms"


@pytest.fixture(scope="module")
def domain() -> Domain:
    """The project's domain, plus the apology if domain.yml does not have it yet."""
    content = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    content["responses"].setdefault(SERVICE_UNAVAILABLE_RESPONSE, [{"text": PROPOSED_TEXT}])
    return Domain.from_dict(content)


@pytest.fixture
def nlg(domain: Domain) -> Iterator[NaturalLanguageGenerator]:
    """The NLG exactly as Rasa creates it from the endpoints file (which installs the hook)."""
    resilience.uninstall()
    generator = NaturalLanguageGenerator.create(
        EndpointConfig(type="lpse_assist.resilience.ResilientNLG"), domain
    )
    yield generator
    resilience.uninstall()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest_asyncio.fixture
async def action_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Factory: an HTTP action server answering with ``handler``; returns its webhook URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/webhook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}/webhook"

    yield start
    for runner in runners:
        await runner.cleanup()


def tracker(domain: Domain) -> DialogueStateTracker:
    state = DialogueStateTracker(SENDER, domain.slots)
    state.update(UserUttered("belum", intent={"name": "deny", "confidence": 1.0}))
    return state


async def run(
    url: str, nlg: NaturalLanguageGenerator, domain: Domain, channel: Any = None
) -> list[Any]:
    action = RemoteAction("action_escalate_support", EndpointConfig(url=url))
    return await action.run(channel or CollectingOutputChannel(), nlg, tracker(domain), domain)


def texts(events: list[Any]) -> list[str]:
    return [event.text for event in events if isinstance(event, BotUttered)]


def default_text(domain: Domain, name: str, channel: str | None = None) -> str:
    for variation in domain.responses[name]:
        if variation.get("channel") == channel:
            return str(variation["text"])
    return str(domain.responses[name][0]["text"])


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/webhook"  # nothing listens there


async def test_unreachable_action_server_answers_with_apology_and_contacts(
    nlg: NaturalLanguageGenerator, domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lpse_assist.resilience"):
        events = await run(closed_port_url(), nlg, domain)
    said = texts(events)
    assert said[0] == default_text(domain, SERVICE_UNAVAILABLE_RESPONSE)
    assert default_text(domain, "utter_contact_lpse_support") in said
    assert "*Call Center LKPP*: (021) 2993 5577 / (021) 5020 5577" in said
    assert all(isinstance(e, BotUttered) for e in events)  # no slot or dialogue change
    failure = [r for r in caplog.records if r.name == "lpse_assist.resilience"]
    assert failure and failure[0].levelno == logging.ERROR
    assert "+62812****7890" in failure[0].getMessage()
    assert "+6281234567890" not in caplog.text  # the number is masked


async def test_sms_users_get_the_sms_variations(
    nlg: NaturalLanguageGenerator, domain: Domain
) -> None:
    said = texts(await run(closed_port_url(), nlg, domain, SmsChannel()))
    assert default_text(domain, "utter_contact_lpse_support", "sms") in said
    assert "Call Center LKPP: (021) 2993 5577 / (021) 5020 5577" in said


async def test_server_error_gets_the_same_answer(
    nlg: NaturalLanguageGenerator, domain: Domain, action_server: Any
) -> None:
    async def crash(_: web.Request) -> web.Response:
        return web.Response(status=500, text="Traceback ...")

    said = texts(await run(await action_server(crash), nlg, domain))
    assert said[0] == default_text(domain, SERVICE_UNAVAILABLE_RESPONSE)


async def test_hung_action_server_answers_after_the_timeout(
    nlg: NaturalLanguageGenerator,
    domain: Domain,
    action_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTION_SERVER_TIMEOUT", "1")
    reset_settings_cache()
    release = asyncio.Event()

    async def hang(_: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), timeout=30)
        return web.json_response({"events": [], "responses": []})

    url = await action_server(hang)
    try:
        said = texts(await asyncio.wait_for(run(url, nlg, domain), timeout=20))
    finally:
        release.set()
        monkeypatch.delenv("ACTION_SERVER_TIMEOUT")
        reset_settings_cache()
    assert said[0] == default_text(domain, SERVICE_UNAVAILABLE_RESPONSE)


async def test_working_action_server_is_untouched(
    nlg: NaturalLanguageGenerator, domain: Domain, action_server: Any
) -> None:
    async def escalate(_: web.Request) -> web.Response:
        return web.json_response(
            {"events": [], "responses": [{"response": "utter_escalate_general"}]}
        )

    said = texts(await run(await action_server(escalate), nlg, domain))
    assert said == [default_text(domain, "utter_escalate_general")]


async def test_a_rejection_is_left_to_rasa(
    nlg: NaturalLanguageGenerator, domain: Domain, action_server: Any
) -> None:
    async def reject(_: web.Request) -> web.Response:
        body: dict[str, Any] = {"action_name": "action_escalate_support", "error": "no"}
        return web.json_response(body, status=400)

    with pytest.raises(ActionExecutionRejection):
        await run(await action_server(reject), nlg, domain)


async def test_without_the_domain_response_the_contacts_still_come(
    nlg: NaturalLanguageGenerator, domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(nlg, ResilientNLG)
    responses = {k: v for k, v in domain.responses.items() if k != SERVICE_UNAVAILABLE_RESPONSE}
    nlg.responses = responses
    with caplog.at_level(logging.WARNING, logger="lpse_assist.resilience"):
        said = texts(await run(closed_port_url(), nlg, domain))
    assert said[0] == default_text(domain, "utter_contact_lpse_support")
    assert any(SERVICE_UNAVAILABLE_RESPONSE in r.getMessage() for r in caplog.records)


async def test_broken_contacts_file_still_names_lpse_support(
    nlg: NaturalLanguageGenerator, domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("contacts unavailable")

    monkeypatch.setattr("actions.support.send_contacts", broken)
    said = texts(await run(closed_port_url(), nlg, domain))
    assert said == [
        default_text(domain, SERVICE_UNAVAILABLE_RESPONSE),
        default_text(domain, "utter_contact_lpse_support"),
    ]


def test_install_wraps_once_and_uninstall_restores(nlg: NaturalLanguageGenerator) -> None:
    wrapped = RemoteAction.run
    assert resilience.install() is False  # the NLG fixture installed it already
    assert RemoteAction.run is wrapped
    resilience.uninstall()
    assert not getattr(RemoteAction.run, "_lpse_resilient", False)


def test_both_endpoints_files_load_the_resilient_nlg() -> None:
    for name in ("endpoints.yml", "endpoints.production.yml"):
        content = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        assert content["nlg"] == {"type": "lpse_assist.resilience.ResilientNLG"}, name


def test_domain_has_the_apology_for_a_failing_action_server() -> None:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    assert SERVICE_UNAVAILABLE_RESPONSE in responses, (
        f"add {SERVICE_UNAVAILABLE_RESPONSE} to domain.yml (text in docs/deployment.md)"
    )


async def test_a_slot_check_that_fails_stays_silent(
    nlg: NaturalLanguageGenerator, domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    # action_check_outage_notice runs as a slot mapping after greetings and login problems:
    # with the action server down, the greeting or answer that follows must not be preceded
    # by the apology (the escalation above still gets it).
    action = RemoteAction("action_check_outage_notice", EndpointConfig(url=closed_port_url()))
    with caplog.at_level(logging.WARNING, logger="lpse_assist.resilience"):
        events = await action.run(CollectingOutputChannel(), nlg, tracker(domain), domain)
    assert events == []
    assert any("action_check_outage_notice" in r.getMessage() for r in caplog.records)
