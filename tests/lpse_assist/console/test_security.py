"""The console's security controls, each proven over real HTTP against the aiohttp app:
sessions on every route but login and static files, CSRF on every state change, login
throttling per account and per address, cookie flags, escaping, masked numbers."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from lpse_assist.console.app import create_app
from lpse_assist.console.tables import sessions_table
from lpse_assist.handover import handover_table
from tests.lpse_assist.console.conftest import (
    PASSWORD,
    WA_USER,
    add_event,
    csrf_of,
    login,
    open_ticket,
    with_settings,
)

# What may answer without a session (the issue: the login page and static files).
PUBLIC = {("GET", "/login"), ("POST", "/login")}


def _routes(app: web.Application) -> list[tuple[str, str, bool]]:
    """(method, path with a placeholder filled in, is_static) for every route of the app."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        static = "directory" in info
        if static:
            path = f"{info['prefix']}/console.css"
        path = re.sub(r"\{reference\}", "LPSE-20260101-0001", path)
        assert "{" not in path, f"a new placeholder in {path}: teach this test its value"
        found.append((route.method, path, static))
    return found


async def test_every_route_but_login_and_static_needs_a_session(services: Any) -> None:
    open_ticket(services.tickets)
    app = create_app(services)
    routes = _routes(app)
    assert len(routes) >= 13  # the test must see the app's routes, not an empty list
    async with TestClient(TestServer(app)) as client:
        checked = 0
        for method, path, static in routes:
            if method == "HEAD":
                continue
            for cookie in ("", "not-a-session-token"):
                client.session.cookie_jar.clear()
                if cookie:
                    client.session.cookie_jar.update_cookies({"lpse_console_session": cookie})
                response = await client.request(method, path, allow_redirects=False)
                if static or (method, path) in PUBLIC:
                    assert response.status in (200, 403 if method == "POST" else 200), path
                    continue
                checked += 1
                if method == "GET" and not path.startswith("/api/"):
                    assert response.status == 302, (method, path)
                    assert response.headers["Location"] == "/login"
                else:
                    assert response.status == 401, (method, path, response.status)
                body = await response.text()
                assert WA_USER.split(":")[1] not in body and "LPSE-2026" not in body
        assert checked >= 2 * 11


async def test_static_files_and_login_page_are_public(client: TestClient) -> None:
    assert (await client.get("/static/console.js")).status == 200
    page = await client.get("/login")
    assert page.status == 200 and "Masuk" in await page.text()


async def test_state_changes_need_the_sessions_csrf_token(
    client: TestClient, services: Any
) -> None:
    ticket = open_ticket(services.tickets)
    assert (await login(client)).status == 302
    path = f"/tickets/{ticket.reference}/take"
    for data, headers in (({}, {}), ({"csrf": "wrong"}, {}), ({}, {"X-CSRF-Token": "wrong"})):
        response = await client.post(path, data=data, headers=headers, allow_redirects=False)
        assert response.status == 403
    assert services.handover.mode_of(WA_USER) is None  # nothing happened
    token = await csrf_of(client)
    response = await client.post(path, data={"csrf": token}, allow_redirects=False)
    assert response.status == 302
    assert services.handover.mode_of(WA_USER).agent == "siti"
    # Logout is a state change too.
    assert (await client.post("/logout", allow_redirects=False)).status == 403
    assert (await client.get("/", allow_redirects=False)).status == 200


async def test_login_form_needs_its_own_token(client: TestClient) -> None:
    response = await client.post(
        "/login", data={"name": "siti", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403
    assert "lpse_console_session" not in response.cookies


async def test_login_is_throttled_per_account(client: TestClient, services: Any) -> None:
    for _ in range(services.settings.login_account_failures):
        assert (await login(client, password="salah")).status == 401
    # Even the right password now waits; another account from the same address does not.
    blocked = await login(client)
    assert blocked.status == 429 and "Terlalu banyak" in await blocked.text()
    assert (await login(client, name="admin")).status == 302


async def test_login_is_throttled_per_address(services: Any) -> None:
    limited = with_settings(services, login_address_failures=3)
    async with TestClient(TestServer(create_app(limited))) as client:
        for name in ("a1", "a2", "a3"):
            assert (await login(client, name=name, password="salah")).status == 401
        assert (await login(client)).status == 429


async def test_trusted_proxy_address_counts_not_the_proxys(services: Any) -> None:
    limited = with_settings(services, login_address_failures=2, trust_proxy=True)
    async with TestClient(TestServer(create_app(limited))) as client:
        for name in ("a1", "a2"):
            headers = {"X-Forwarded-For": "203.0.113.9"}
            assert (await login(client, name=name, password="x", headers=headers)).status == 401
        other = await login(client, headers={"X-Forwarded-For": "198.51.100.7"})
        assert other.status == 302
        again = await login(client, headers={"X-Forwarded-For": "203.0.113.9"})
        assert again.status == 429


async def test_session_cookie_flags(services: Any) -> None:
    async with TestClient(TestServer(create_app(services))) as client:
        response = await login(client)
        cookie = response.cookies["lpse_console_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert int(cookie["max-age"]) == 3600
        assert not cookie["secure"]  # plain http on loopback
        assert len(cookie.value) >= 40
    # Behind the trusted proxy over HTTPS: Secure.
    proxied = with_settings(services, trust_proxy=True)
    async with TestClient(TestServer(create_app(proxied))) as client:
        response = await login(client, headers={"X-Forwarded-Proto": "https"})
        assert response.cookies["lpse_console_session"]["secure"]
    # The same header from an untrusted peer changes nothing.
    async with TestClient(TestServer(create_app(services))) as client:
        response = await login(client, headers={"X-Forwarded-Proto": "https"})
        assert not response.cookies["lpse_console_session"]["secure"]


async def test_expired_and_logged_out_sessions_are_refused(
    client: TestClient, services: Any
) -> None:
    assert (await login(client)).status == 302
    assert (await client.get("/api/inbox")).status == 200
    with services.tickets.engine.begin() as conn:
        conn.execute(update(sessions_table).values(expires_at=sessions_table.c.created_at))
    assert (await client.get("/api/inbox")).status == 401
    assert (await login(client)).status == 302
    token = await csrf_of(client)
    assert (await client.post("/logout", data={"csrf": token}, allow_redirects=False)).status == 302
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_a_password_reset_ends_the_accounts_sessions(
    client: TestClient, services: Any
) -> None:
    assert (await login(client)).status == 302
    services.store.set_agent("siti", "kata-sandi-baru-456")
    assert (await client.get("/api/inbox")).status == 401
    assert (await login(client)).status == 401


async def test_user_text_is_escaped_everywhere(client: TestClient, services: Any) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ticket = open_ticket(services.tickets)
    add_event(services.tickets, WA_USER, "user", {"text": attack})
    add_event(services.tickets, WA_USER, "bot", {"text": "Halo", "metadata": {}})
    services.handover.take(ticket, "siti")
    services.handover.store_inbound(WA_USER, "SM1", attack, "whatsapp")
    assert (await login(client)).status == 302
    page = await (await client.get(f"/tickets/{ticket.reference}")).text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 2
    token = await csrf_of(client, f"/tickets/{ticket.reference}")
    await client.post(f"/tickets/{ticket.reference}/close", data={"csrf": token, "note": attack})
    closed = await (await client.get("/closed")).text()
    assert "<script>alert" not in closed and "&lt;script&gt;" in closed
    headers = (await client.get("/")).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]


async def test_numbers_are_masked_except_on_the_ticket_page(
    client: TestClient, services: Any
) -> None:
    ticket = open_ticket(services.tickets)
    services.tickets.ensure_schema()
    assert (await login(client)).status == 302
    digits = WA_USER.split("+")[1]
    for path in ("/", "/api/inbox", "/closed"):
        assert digits not in await (await client.get(path)).text(), path
    assert "masked-k1" in await (await client.get("/api/inbox")).text()
    page = await (await client.get(f"/tickets/{ticket.reference}")).text()
    assert WA_USER in page


async def test_audit_trail_is_for_admins(client: TestClient, services: Any) -> None:
    ticket = open_ticket(services.tickets)
    assert (await login(client)).status == 302
    token = await csrf_of(client)
    await client.post(f"/tickets/{ticket.reference}/take", data={"csrf": token})
    assert (await client.get("/audit")).status == 403
    client.session.cookie_jar.clear()
    assert (await login(client, name="admin")).status == 302
    trail = await (await client.get("/audit")).text()
    assert "mengambil" in trail and ticket.reference in trail and "siti" in trail
    assert services.handover.holders() == {ticket.reference: "siti"}
    assert handover_table.name == "lpse_handover"
