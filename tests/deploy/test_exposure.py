"""The production profile as deployed: nginx (docker/nginx.conf) in front of two Rasa replicas
that load credentials.production.yml, with PostgreSQL and Redis, all real processes.

Only Twilio's webhook and status callback are reachable; the REST channel is neither proxied
by nginx nor served by a replica; the per-sender limit is counted once across replicas; a
replica with development secrets refuses to start.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.load import nginx_process
from lpse_assist.production import DEVELOPMENT_AUTH_TOKEN
from lpse_assist.twilio_local import WebhookReply, inbound_form, post_signed
from tests.deploy.conftest import require_binaries
from tests.deploy.conversation import response_text
from tests.deploy.topology import ROOT, Process, Topology, free_port, tail

PRODUCTION_CREDENTIALS = ROOT / "credentials.production.yml"
LIMIT = 3
AUTH_TOKEN = uuid.uuid4().hex
ACCOUNT_SID = "AC" + "2" * 32


@pytest.fixture(scope="module")
def production() -> Iterator[tuple[Topology, str]]:
    """The production topology behind nginx: (topology, nginx base URL)."""
    require_binaries(extra=("nginx",))
    workdir = Path(tempfile.mkdtemp(prefix="lpse-exposure-"))
    topology = Topology(
        workdir,
        replicas=2,
        credentials=PRODUCTION_CREDENTIALS,
        enable_api=False,  # as the image runs it
        extra_env={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SENDER_LIMIT_PER_MINUTE": str(LIMIT),
        },
    )
    nginx_port = free_port()
    nginx = nginx_process(workdir / "nginx", nginx_port, topology.replica_ports)
    try:
        topology.start()
        topology.start_processes([nginx])
        yield topology, f"http://127.0.0.1:{nginx_port}"
    finally:
        nginx.stop()
        topology.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def twilio_message(
    session: aiohttp.ClientSession, base_url: str, sender: str, body: str
) -> WebhookReply:
    form = inbound_form(account_sid=ACCOUNT_SID, from_=sender, to="+15005550006", body=body)
    return await post_signed(session, f"{base_url}/webhooks/twilio/webhook", form, AUTH_TOKEN)


def new_sms_sender() -> str:
    return "+62857" + str(uuid.uuid4().int)[:8]


async def test_rest_channel_and_rasa_api_are_not_reachable_through_nginx(
    production: tuple[Topology, str],
) -> None:
    _, nginx = production
    async with aiohttp.ClientSession() as session:
        payload = {"sender": "whatsapp:+6281234567890", "message": "belum"}
        for path in ("/webhooks/rest/webhook", "/webhooks/rest/webhook/"):
            async with session.post(f"{nginx}{path}", json=payload) as reply:
                assert reply.status == 404, path
        for path in (
            "/webhooks/rest/",
            "/webhooks/twilio/",
            "/conversations/whatsapp:+6281234567890/tracker",
            "/model/parse",
            "/status",
            "/",
        ):
            async with session.get(f"{nginx}{path}") as reply:
                assert reply.status == 404, path
        async with session.get(f"{nginx}/healthz") as reply:
            assert reply.status == 200


async def test_rest_channel_is_not_served_by_a_production_replica(
    production: tuple[Topology, str],
) -> None:
    topology, _ = production
    async with aiohttp.ClientSession() as session:
        for index in range(2):
            url = f"{topology.replica_url(index)}/webhooks/rest/webhook"
            async with session.post(url, json={"sender": "dev", "message": "halo"}) as reply:
                assert reply.status == 404, url
            # The replica is up and serves Twilio's routes.
            async with session.get(f"{topology.replica_url(index)}/webhooks/twilio/") as reply:
                assert reply.status == 200


async def test_twilio_webhook_works_through_nginx(production: tuple[Topology, str]) -> None:
    _, nginx = production
    async with aiohttp.ClientSession() as session:
        reply = await twilio_message(session, nginx, new_sms_sender(), "halo")
        assert reply.status == 200 and reply.is_twiml and reply.messages, reply.text
        unsigned = inbound_form(account_sid=ACCOUNT_SID, from_=new_sms_sender(), to="+1", body="x")
        forged = await post_signed(
            session, f"{nginx}/webhooks/twilio/webhook", unsigned, DEVELOPMENT_AUTH_TOKEN
        )
        assert forged.status == 403  # the development token signs nothing here


async def test_sender_limit_is_shared_by_the_replicas(production: tuple[Topology, str]) -> None:
    topology, nginx = production
    replicas = [topology.replica_url(0), topology.replica_url(1)]
    noisy, quiet = new_sms_sender(), new_sms_sender()
    notice = response_text("utter_sender_limit")
    async with aiohttp.ClientSession() as session:
        answers = []
        for n in range(LIMIT + 3):  # alternating replicas: each sees only half the messages
            reply = await twilio_message(session, replicas[n % 2], noisy, "halo")
            assert reply.status == 200 and reply.is_twiml, reply.text
            answers.append([m.body for m in reply.messages])
        assert all(a and notice not in a for a in answers[:LIMIT]), answers
        assert answers[LIMIT:] == [[notice], [], []]
        # Someone else, through nginx, in the same minute: answered as usual.
        other = await twilio_message(session, nginx, quiet, "halo")
        assert other.messages and notice not in [m.body for m in other.messages]


def test_production_replica_refuses_development_secrets(production: tuple[Topology, str]) -> None:
    topology, _ = production
    env = topology.env()
    env["TWILIO_AUTH_TOKEN"] = DEVELOPMENT_AUTH_TOKEN
    log = topology.workdir / "logs" / "rasa-dev-secrets.log"
    process = Process(
        "rasa-dev-secrets",
        [
            *topology._rasa(),
            "run",
            "--model",
            str(topology.model),
            "--endpoints",
            str(topology.endpoints),
            "--credentials",
            str(PRODUCTION_CREDENTIALS),
            "--interface",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ],
        log,
    )
    process.start(env, ROOT)
    try:
        assert process.popen is not None
        deadline = time.monotonic() + topology.startup_timeout
        while process.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert process.popen.poll() not in (None, 0), tail(log)
        assert "refuses to start in production" in log.read_text(errors="replace")
        assert "TWILIO_AUTH_TOKEN is the development value" in log.read_text(errors="replace")
    finally:
        process.stop()
