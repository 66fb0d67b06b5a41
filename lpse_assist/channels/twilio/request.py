"""What Twilio sends: the signed form of a webhook call, read into what Rasa gets.

Every POST must carry a valid ``X-Twilio-Signature`` over the public URL and the form fields;
unsigned requests are refused before anything is read from them. Inputs without words become
intents (``/send_media``, ``/send_unsupported_media``, ``/send_empty``) so that every sentence
the user reads lives in ``domain.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sanic.request import Request
from twilio.request_validator import RequestValidator

from lpse_assist.intents import EMPTY_MESSAGE_INTENT, MEDIA_INTENT, UNSUPPORTED_MEDIA_INTENT
from lpse_assist.privacy import is_whatsapp
from lpse_assist.render import Medium

# Payloads sent to Rasa for inputs that carry no words (the domain answers them).
INTENT_MEDIA = f"/{MEDIA_INTENT}"
INTENT_UNSUPPORTED_MEDIA = f"/{UNSUPPORTED_MEDIA_INTENT}"
INTENT_EMPTY = f"/{EMPTY_MESSAGE_INTENT}"

# Longer bodies are cut before NLU: nobody describes a login problem in more words, and
# featurising thousands of characters only slows every replica down.
MAX_USER_TEXT_CHARS = 1000


def medium_of(sender: str) -> Medium:
    """``whatsapp`` for ``whatsapp:`` senders, else ``sms``."""
    return "whatsapp" if is_whatsapp(sender) else "sms"


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


def _first_header_value(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


class Signatures:
    """Twilio's request signatures: the public URL a request was signed for, and the check."""

    def __init__(self, auth_token: str, webhook_url: str) -> None:
        self.webhook_url = webhook_url
        # Without a token every signature would be computed with an empty key, which anyone
        # can do: refuse everything instead.
        self._validator = RequestValidator(auth_token) if auth_token else None

    @property
    def enabled(self) -> bool:
        """False without an auth token: then every request is refused."""
        return self._validator is not None

    @staticmethod
    def _origin(request: Request) -> str:
        proto = _first_header_value(request.headers.get("x-forwarded-proto")) or request.scheme
        host = (
            _first_header_value(request.headers.get("x-forwarded-host"))
            or request.headers.get("host")
            or request.host
        )
        return f"{proto}://{host}"

    def route_url(self, request: Request, route: str) -> str:
        """Public URL (no query) of a sibling route of this channel, e.g. ``status``."""
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            base = parts.path.rstrip("/").rsplit("/", 1)[0]
            return urlunsplit((parts.scheme, parts.netloc, f"{base}/{route}", "", ""))
        base = request.path.rstrip("/").rsplit("/", 1)[0]
        return f"{self._origin(request)}{base}/{route}"

    def signed_url(self, request: Request, route: str) -> str:
        """The URL Twilio signed for this request: public URL plus the query string."""
        if route == "webhook" and self.webhook_url:
            url = self.webhook_url
        else:
            url = self.route_url(request, route)
        if request.query_string and "?" not in url:
            url = f"{url}?{request.query_string}"
        return url

    def is_signed(self, request: Request, params: FormParams | None, route: str) -> bool:
        """True when ``request`` to ``route`` carries Twilio's valid signature of ``params``."""
        if self._validator is None or params is None:
            return False
        signature = request.headers.get("x-twilio-signature") or ""
        if not signature:
            return False
        try:
            return bool(
                self._validator.validate(self.signed_url(request, route), params, signature)
            )
        except (ValueError, TypeError):
            # A forged Host header ("host:abc") or odd parameters: not a request Twilio signed.
            return False

    def status_callback_url(self, request: Request, sender: str, inbound_sid: str) -> str:
        """Where Twilio reports the delivery of the reply to ``inbound_sid``."""
        # ":" left as is: HTTP clients and proxies tend to unescape "%3A" in a query, which
        # would change the URL Twilio signs. "+" must stay escaped (it would read as a space).
        query = urlencode({"conv": sender, "inbound": inbound_sid}, safe=":")
        return f"{self.route_url(request, 'status')}?{query}"
