"""The helpdesk console: an aiohttp web app, server-rendered (Jinja2, everything escaped),
with a little JavaScript that polls two JSON routes so new tickets and new messages appear
by themselves.

Security, in the middleware (every route goes through it):

* every route needs a live session except ``GET/POST /login`` and ``/static/``;
* every state change (any method but GET/HEAD) must carry the session's CSRF token (form
  field ``csrf`` or header ``X-CSRF-Token``); the login form carries a login token that must
  match its own cookie (double submit), so nobody can sign a user into another account;
* session cookies are random tokens (only their hash is stored), HttpOnly, SameSite=Strict,
  Secure over HTTPS, and expire (``CONSOLE_SESSION_HOURS``);
* logins are throttled per account and per address (``CONSOLE_LOGIN_*``);
* responses carry a strict Content-Security-Policy (no inline script) and ``no-store``.

Phone numbers are masked everywhere but the ticket page itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import or_, select

from lpse_assist.console.store import Agent, ConsoleStore
from lpse_assist.handover import (
    IN,
    MAX_REPLY_CHARS,
    NOTICE,
    OUT,
    HandoverMessage,
    SqlHandover,
)
from lpse_assist.privacy import mask_phone
from lpse_assist.settings import ConsoleSettings, HelpdeskHoursSettings
from lpse_assist.tickets import CLOSED, OPEN, Ticket, TicketStore, tickets_table
from lpse_assist.transcript import BOT, USER, documents_asked, read_lines

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "lpse_console_session"
LOGIN_COOKIE = "lpse_console_login"
PUBLIC = {("GET", "/login"), ("POST", "/login")}
STATIC_PREFIX = "/static/"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_LOGIN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_REFERENCE = re.compile(r"^LPSE-\d{8}-\d{4,6}$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Messages shown after an action: fixed texts chosen by code, never text from the URL.
NOTICES = {
    "taken": "Tiket diambil: asisten otomatis tidak lagi menjawab pengguna ini.",
    "sent": "Balasan dikirim.",
    "failed": "Balasan GAGAL dikirim; lihat status di percakapan.",
    "closed": "Tiket ditutup; pengguna sudah diberi tahu dan asisten otomatis menjawab lagi.",
    "released": "Percakapan dikembalikan ke asisten otomatis; pengguna sudah diberi tahu.",
    "empty": "Tulis pesan atau catatan terlebih dahulu.",
    "is_closed": "Tiket ini sudah ditutup.",
}
# Delivery states of an agent's message as staff read them (Twilio's name in brackets).
STATUS_LABELS = {
    "sending": "sedang dikirim",
    "sent": "terkirim ke Twilio (sent)",
    "delivered": "diterima pengguna (delivered)",
    "read": "dibaca (read)",
    "undelivered": "TIDAK sampai (undelivered)",
    "failed": "GAGAL dikirim (failed)",
}
ACTION_LABELS = {
    "login": "masuk",
    "logout": "keluar",
    "take": "mengambil",
    "reply": "membalas",
    "close": "menutup",
    "release": "mengembalikan ke bot",
}


@dataclass(frozen=True)
class Services:
    """What the console reads and writes."""

    settings: ConsoleSettings
    tickets: TicketStore
    handover: SqlHandover
    store: ConsoleStore


SESSION_KEY = "lpse_console_session"  # request key of the live Session
SERVICES = web.AppKey("services", Services)
TEMPLATES = web.AppKey("templates", Environment)


# --------------------------------------------------------------------------- helpers


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    """ "12 menit", "3 jam 5 menit", "2 hari": how long ago, in Indonesian."""
    if moment is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - moment).total_seconds()))
    if seconds < 60:
        return "< 1 menit"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} menit"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} jam {minutes} menit" if minutes else f"{hours} jam"
    return f"{hours // 24} hari"


def _client_address(request: web.Request, settings: ConsoleSettings) -> str:
    if settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            # nginx appends the address it saw: the last entry is the one to believe.
            return forwarded.split(",")[-1].strip()[:64]
    return (request.remote or "unknown")[:64]


def _is_https(request: web.Request, settings: ConsoleSettings) -> bool:
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "1"
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return settings.trust_proxy and proto == "https"


def _set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    services: Services,
    name: str,
    value: str,
    max_age: int,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=(services.settings.base_path or "") + "/",
        httponly=True,
        samesite="Strict",
        secure=_is_https(request, services.settings),
    )


def _tokens_match(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def _waiting_since(ticket: Ticket, messages: list[HandoverMessage]) -> datetime | None:
    """Since when the user waits: the ticket, or their first message after the last agent
    reply; ``None`` when the agent answered last."""
    waiting: datetime | None = ticket.created_at
    for message in messages:
        if message.direction == OUT:
            waiting = None
        elif message.direction == IN and waiting is None:
            waiting = message.created_at
    return waiting


def _waiting_order(row: dict[str, Any]) -> int:
    seconds = int(row["waiting_seconds"])
    return -seconds if seconds >= 0 else 1


def _normalise_number(query: str) -> str:
    digits = re.sub(r"\D", "", query)
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


# --------------------------------------------------------------------------- middleware


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """CSP and friends on every response; nothing but static files is cached."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException) and response.status >= 400:
        raise response
    return response


@web.middleware
async def require_session(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A live session for everything but the login page and static files; CSRF on changes."""
    if (request.method, request.path) in PUBLIC or (
        request.method in ("GET", "HEAD") and request.path.startswith(STATIC_PREFIX)
    ):
        return await handler(request)
    services = request.app[SERVICES]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await asyncio.to_thread(services.store.session, token) if token else None
    if session is None:
        if request.method in SAFE_METHODS and not request.path.startswith("/api/"):
            raise web.HTTPFound(services.settings.base_path + "/login")
        return web.json_response({"error": "Silakan masuk terlebih dahulu."}, status=401)
    if request.method not in SAFE_METHODS:
        given = request.headers.get("X-CSRF-Token", "")
        if not given and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            given = str((await request.post()).get("csrf", ""))
        if not _tokens_match(given, session.csrf_token):
            logger.warning(
                "Refused a %s %s without a valid CSRF token.", request.method, request.path
            )
            return web.json_response({"error": "Token CSRF tidak sah."}, status=403)
    request[SESSION_KEY] = session
    return await handler(request)


# --------------------------------------------------------------------------- the console


class Console:
    """Route handlers."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # ----------------------------------------------------------------- rendering

    def render(
        self, request: web.Request, template: str, status: int = 200, **values: Any
    ) -> web.Response:
        env = request.app[TEMPLATES]
        session = request.get(SESSION_KEY)
        body = env.get_template(template).render(
            base=self.services.settings.base_path,
            agent=session.agent if session else None,
            csrf=session.csrf_token if session else "",
            notice=NOTICES.get(request.query.get("pesan", ""), ""),
            **values,
        )
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    def redirect(self, path: str, notice: str = "") -> web.HTTPFound:
        suffix = f"?pesan={notice}" if notice else ""
        return web.HTTPFound(f"{self.services.settings.base_path}{path}{suffix}")

    # ----------------------------------------------------------------- login

    async def login_page(self, request: web.Request) -> web.Response:
        return await self._login_form(request)

    async def _login_form(
        self, request: web.Request, error: str = "", status: int = 200
    ) -> web.Response:
        # One login token per browser: a second tab, or a request the browser makes on its
        # own (favicon, redirected to this page), must not invalidate the form already shown.
        token = request.cookies.get(LOGIN_COOKIE, "")
        if not _LOGIN_TOKEN.match(token):
            token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status=status, login_token=token, error=error)
        _set_cookie(response, request, self.services, LOGIN_COOKIE, token, 3600)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name = str(form.get("name", "")).strip()[:64]
        password = str(form.get("password", ""))[:1024]
        if not _tokens_match(
            str(form.get("login_token", "")), request.cookies.get(LOGIN_COOKIE, "")
        ):
            return await self._login_form(
                request, "Formulir kedaluwarsa. Silakan coba lagi.", status=403
            )
        settings = self.services.settings
        store = self.services.store
        address = _client_address(request, settings)
        by_account, by_address = await asyncio.to_thread(
            store.recent_failures, name, address, settings.login_window_minutes
        )
        if (
            by_account >= settings.login_account_failures
            or by_address >= settings.login_address_failures
        ):
            logger.warning("Login throttled (account %r, address %s).", name, address)
            return await self._login_form(
                request,
                f"Terlalu banyak percobaan gagal. Coba lagi dalam "
                f"{settings.login_window_minutes:.0f} menit.",
                status=429,
            )
        agent = await asyncio.to_thread(store.authenticate, name, password)
        if agent is None:
            await asyncio.to_thread(store.record_failure, name, address)
            logger.info("Failed login for %r from %s.", name, address)
            return await self._login_form(request, "Nama atau kata sandi salah.", status=401)
        await asyncio.to_thread(store.clear_failures, name)
        token, _ = await asyncio.to_thread(store.open_session, agent, settings.session_hours)
        await asyncio.to_thread(store.audit, agent.name, "login", "", f"dari {address}")
        response = self.redirect("/")
        _set_cookie(
            response,
            request,
            self.services,
            SESSION_COOKIE,
            token,
            int(settings.session_hours * 3600),
        )
        response.del_cookie(LOGIN_COOKIE, path=(settings.base_path or "") + "/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        await asyncio.to_thread(
            self.services.store.close_session, request.cookies.get(SESSION_COOKIE, "")
        )
        await asyncio.to_thread(self.services.store.audit, session.agent.name, "logout")
        response = self.redirect("/login")
        response.del_cookie(SESSION_COOKIE, path=(self.services.settings.base_path or "") + "/")
        return response

    # ----------------------------------------------------------------- inbox

    def _inbox_rows(self) -> list[dict[str, Any]]:
        tickets = list(reversed(self.services.tickets.list(status=OPEN, limit=500)))
        holders = self.services.handover.holders()
        by_ticket: dict[str, list[HandoverMessage]] = {}
        for message in self.services.handover.messages_of([t.reference for t in tickets]):
            by_ticket.setdefault(message.reference, []).append(message)
        now = datetime.now(timezone.utc)
        rows = []
        for ticket in tickets:
            waiting_since = _waiting_since(ticket, by_ticket.get(ticket.reference, []))
            rows.append(
                {
                    "reference": ticket.reference,
                    "topic": ticket.topic,
                    "medium": "WhatsApp"
                    if ticket.channel == "whatsapp"
                    else ticket.channel.upper(),
                    "number": ticket.sender_masked,
                    "created": ticket.local_time(self.services.tickets.zone),
                    "waiting": _ago(waiting_since, now) if waiting_since else "dijawab",
                    "waiting_seconds": int((now - waiting_since).total_seconds())
                    if waiting_since
                    else -1,
                    "holder": holders.get(ticket.reference, ""),
                }
            )
        # Oldest waiting first; answered ones after them.
        rows.sort(key=_waiting_order)
        return rows

    async def inbox(self, request: web.Request) -> web.Response:
        rows = await asyncio.to_thread(self._inbox_rows)
        return self.render(request, "inbox.html", rows=rows)

    async def inbox_api(self, request: web.Request) -> web.Response:
        rows = await asyncio.to_thread(self._inbox_rows)
        return web.json_response({"tickets": rows})

    # ----------------------------------------------------------------- closed tickets

    def _search_closed(self, query: str) -> list[Ticket]:
        table = tickets_table
        statement = (
            select(table).where(table.c.status == CLOSED).order_by(table.c.id.desc()).limit(100)
        )
        query = query.strip()[:64]
        if query:
            conditions = [table.c.reference.like(f"%{query.upper()}%")]
            digits = _normalise_number(query)
            if len(digits) >= 4:
                conditions.append(table.c.conversation_id.like(f"%{digits}%"))
            statement = statement.where(or_(*conditions))
        self.services.tickets.ensure_schema()
        with self.services.tickets.engine.connect() as conn:
            return [Ticket.from_row(r) for r in conn.execute(statement).mappings()]

    async def closed(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")
        tickets = await asyncio.to_thread(self._search_closed, query)
        zone = self.services.tickets.zone
        rows = [
            {
                "reference": t.reference,
                "topic": t.topic,
                "number": t.sender_masked,
                "created": t.local_time(zone),
                "closed": t.closed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if t.closed_at
                else "-",
                "note": t.close_note or "",
            }
            for t in tickets
        ]
        return self.render(request, "closed.html", rows=rows, query=query)

    # ----------------------------------------------------------------- audit

    async def audit(self, request: web.Request) -> web.Response:
        session = request[SESSION_KEY]
        if not session.agent.is_admin:
            return self.render(request, "error.html", status=403, message="Khusus admin.")
        entries = await asyncio.to_thread(self.services.store.audit_trail, None, 500)
        return self.render(request, "audit.html", entries=self._audit_view(entries))

    def _audit_view(self, entries: list[Any]) -> list[dict[str, str]]:
        zone = self.services.tickets.zone
        return [
            {
                "at": e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                "agent": e.agent,
                "action": ACTION_LABELS.get(e.action, e.action),
                "reference": e.reference,
                "detail": e.detail,
            }
            for e in entries
        ]

    # ----------------------------------------------------------------- one ticket

    async def _ticket(self, request: web.Request) -> Ticket:
        reference = request.match_info["reference"].upper()
        if not _REFERENCE.match(reference):
            raise web.HTTPNotFound(text="Tiket tidak ditemukan.")
        ticket = await asyncio.to_thread(self.services.tickets.get, reference)
        if ticket is None:
            raise web.HTTPNotFound(text="Tiket tidak ditemukan.")
        return ticket

    def _conversation(self, ticket: Ticket) -> dict[str, Any]:
        """The ticket's conversation: bot and user lines from the tracker store, merged with
        the human part (user messages kept for the agent, agent replies with status)."""
        zone = self.services.tickets.zone
        lines = read_lines(self.services.tickets.engine, ticket.conversation_id)
        items: list[dict[str, Any]] = [
            {
                "at": line.at,
                "author": line.author,
                "text": line.text,
                "agent": "",
                "status": "",
                "note": "",
            }
            for line in lines
        ]
        for message in self.services.handover.messages(ticket.reference):
            author = {IN: USER, NOTICE: BOT}.get(message.direction, "agent")
            items.append(
                {
                    "at": message.created_at.timestamp(),
                    "author": author,
                    "text": message.body,
                    "agent": message.agent,
                    "status": message.status if message.direction == OUT else "",
                    "status_label": STATUS_LABELS.get(message.status, message.status),
                    "medium": message.medium,
                    "note": message.note,
                }
            )
        items.sort(key=lambda item: item["at"])
        for item in items:
            item["time"] = (
                datetime.fromtimestamp(item["at"], tz=timezone.utc)
                .astimezone(zone)
                .strftime("%d-%m %H:%M")
            )
        mode = self.services.handover.mode_of(ticket.conversation_id)
        route = self.services.handover.route(ticket.conversation_id)
        return {
            "messages": items,
            "documents": documents_asked(lines),
            "holder": mode.agent if mode and mode.reference == ticket.reference else "",
            "human": mode is not None,
            "status": ticket.status,
            "route_note": route.note,
            "route_medium": route.medium,
        }

    async def ticket_page(self, request: web.Request) -> web.Response:
        ticket = await self._ticket(request)
        conversation = await asyncio.to_thread(self._conversation, ticket)
        trail = await asyncio.to_thread(self.services.store.audit_trail, ticket.reference, 100)
        return self.render(
            request,
            "ticket.html",
            ticket=ticket,
            created=ticket.local_time(self.services.tickets.zone),
            # The whole number: only here, for a signed-in agent.
            number=ticket.conversation_id or ticket.sender_masked,
            conversation=conversation,
            audit=self._audit_view(trail),
            max_reply=MAX_REPLY_CHARS,
            bot=BOT,
            user=USER,
        )

    async def ticket_api(self, request: web.Request) -> web.Response:
        ticket = await self._ticket(request)
        conversation = await asyncio.to_thread(self._conversation, ticket)
        return web.json_response(conversation)

    async def take(self, request: web.Request) -> web.StreamResponse:
        ticket = await self._ticket(request)
        agent = request[SESSION_KEY].agent
        if ticket.status != OPEN:
            raise self.redirect(f"/tickets/{ticket.reference}", "is_closed")
        await asyncio.to_thread(self.services.handover.take, ticket, agent.name)
        await self._audit(agent, "take", ticket)
        raise self.redirect(f"/tickets/{ticket.reference}", "taken")

    async def reply(self, request: web.Request) -> web.StreamResponse:
        ticket = await self._ticket(request)
        agent = request[SESSION_KEY].agent
        body = str((await request.post()).get("body", "")).strip()
        if ticket.status != OPEN:
            raise self.redirect(f"/tickets/{ticket.reference}", "is_closed")
        if not body:
            raise self.redirect(f"/tickets/{ticket.reference}", "empty")
        message = await self.services.handover.agent_message_out(ticket, agent.name, body)
        await self._audit(agent, "reply", ticket, f"{message.medium}, {message.status}")
        notice = "sent" if message.status == "sent" else "failed"
        raise self.redirect(f"/tickets/{ticket.reference}", notice)

    async def close(self, request: web.Request) -> web.StreamResponse:
        ticket = await self._ticket(request)
        agent = request[SESSION_KEY].agent
        note = str((await request.post()).get("note", "")).strip()[:500]
        if ticket.status != OPEN:
            raise self.redirect(f"/tickets/{ticket.reference}", "is_closed")
        if not note:
            raise self.redirect(f"/tickets/{ticket.reference}", "empty")
        await asyncio.to_thread(self.services.tickets.close, ticket.reference, note)
        await self.services.handover.release(ticket, agent.name, note, closed=True)
        await self._audit(agent, "close", ticket, note)
        raise self.redirect(f"/tickets/{ticket.reference}", "closed")

    async def release(self, request: web.Request) -> web.StreamResponse:
        ticket = await self._ticket(request)
        agent = request[SESSION_KEY].agent
        if ticket.status != OPEN:
            raise self.redirect(f"/tickets/{ticket.reference}", "is_closed")
        await self.services.handover.release(ticket, agent.name, "", closed=False)
        await self._audit(agent, "release", ticket)
        raise self.redirect(f"/tickets/{ticket.reference}", "released")

    async def _audit(self, agent: Agent, action: str, ticket: Ticket, detail: str = "") -> None:
        await asyncio.to_thread(
            self.services.store.audit, agent.name, action, ticket.reference, detail
        )
        logger.info(
            "%s: %s %s (%s).",
            agent.name,
            action,
            ticket.reference,
            mask_phone(ticket.conversation_id),
        )


QUEUE_CHECK_SECONDS = 60.0


async def queue_loop(services: Services, hours: HelpdeskHoursSettings) -> None:
    """Every minute: tell users whose ticket nobody took that they wait in the queue."""
    while True:
        try:
            tickets = await asyncio.to_thread(services.tickets.list, OPEN, 500)
            told = await services.handover.queue_notices(
                tickets, hours, services.tickets.zone, datetime.now(timezone.utc)
            )
            if told:
                logger.info("Queue notice sent for %s.", ", ".join(told))
        except Exception:
            logger.exception("Queue notices failed; trying again in a minute.")
        await asyncio.sleep(QUEUE_CHECK_SECONDS)


def create_app(services: Services, hours: HelpdeskHoursSettings | None = None) -> web.Application:
    """The console application (nothing connects until the first request)."""
    app = web.Application(
        middlewares=[security_headers, require_session], client_max_size=64 * 1024
    )
    app[SERVICES] = services
    app[TEMPLATES] = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    console = Console(services)
    if hours is not None and hours.queue_minutes:
        app.cleanup_ctx.append(_background(queue_loop(services, hours)))
    app.add_routes(
        [
            web.get("/login", console.login_page),
            web.post("/login", console.login),
            web.post("/logout", console.logout),
            web.get("/", console.inbox),
            web.get("/api/inbox", console.inbox_api),
            web.get("/closed", console.closed),
            web.get("/audit", console.audit),
            web.get("/tickets/{reference}", console.ticket_page),
            web.get("/api/tickets/{reference}", console.ticket_api),
            web.post("/tickets/{reference}/take", console.take),
            web.post("/tickets/{reference}/reply", console.reply),
            web.post("/tickets/{reference}/close", console.close),
            web.post("/tickets/{reference}/release", console.release),
            web.static("/static", HERE / "static", show_index=False),
        ]
    )
    return app


def _background(
    coroutine: Coroutine[Any, Any, None],
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run


def default_services(settings: ConsoleSettings) -> Services:
    """Services on the tracker store's database, from the process's settings."""
    from lpse_assist.handover import handover_service
    from lpse_assist.tickets import ticket_store

    store = ticket_store()
    handover = handover_service()
    return Services(settings, store, handover, ConsoleStore(store.engine))


async def start(
    services: Services, host: str, port: int, hours: HelpdeskHoursSettings | None = None
) -> web.AppRunner:
    """Serve the console (and its queue notices when ``hours`` say so); returns the runner
    (``await runner.cleanup()`` stops it)."""
    runner = web.AppRunner(create_app(services, hours), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
