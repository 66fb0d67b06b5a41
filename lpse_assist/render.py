"""Turn Rasa bot messages into the text a phone shows, for WhatsApp and for SMS.

Pure functions only (no I/O except the ``--report`` command), so the Twilio channel, the
tests and the trainers' report all render a reply the same way.

* WhatsApp gets the domain text as written (``*bold*``, short paragraphs).
* SMS gets plain GSM-7 text: a single non-GSM character (curly quote, emoji) switches the
  whole message to UCS-2 and cuts a segment from 153 to 67 characters, which basic phones
  on slow networks pay for. ``to_gsm7`` is the safety net behind the ``channel: sms``
  variations of the domain.
* Buttons become a numbered list (``1. Title``) on both media; the user answers with the number.

Run ``python -m lpse_assist.render --report domain.yml`` to list the SMS segment count of
every response an SMS user can receive.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Medium = Literal["sms", "whatsapp"]

# Twilio rejects a Message body longer than 1600 characters.
MAX_BODY_CHARS = 1600

# GSM 03.38 default alphabet. ESC (0x1B) introduces the extension table and is not a
# character of its own, so it is left out.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each of these costs two septets (ESC + the character). Form feed is
# left out: phones show it as garbage.
GSM7_EXTENSION = frozenset("^{}\\[~]|€")
GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

SMS_SINGLE_GSM7, SMS_MULTI_GSM7 = 160, 153
SMS_SINGLE_UCS2, SMS_MULTI_UCS2 = 70, 67

# Characters that often come from word processors and chat apps, with a GSM-7 stand-in.
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u2022\u00b7\u25cf\u25aa\u25e6\u2023\u2043", "-"),
    **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000\t", " "),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f\u20e3", ""),
    "\u2026": "...",
    "\u2192": "->",
    "\u2190": "<-",
    "\u21d2": "=>",
    "\u00d7": "x",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u2122": "TM",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\r\n": "\n",
}
_REPLACE_RE = re.compile(
    "|".join(re.escape(k) for k in sorted(_REPLACEMENTS, key=len, reverse=True))
)

# WhatsApp markdown: *bold*, _italic_, ~strike~, `code`, ```block```. Only markers that
# enclose text are removed, so "*123#" (a USSD code) and "user_id" survive.
_MARKDOWN_RES = [
    re.compile(r"```(.+?)```", re.DOTALL),
    re.compile(r"(?<![\w*])\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*(?![\w*])"),
    re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"),
    re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"),
    re.compile(r"`([^`\n]+)`"),
]


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (so the SMS is not sent as UCS-2)."""
    return all(ch in GSM7_ALL for ch in text)


def sms_encoding(text: str) -> str:
    """The encoding an SMS carrier uses for this text: ``GSM-7`` or ``UCS-2``."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def sms_segments(text: str) -> int:
    """How many SMS segments the text costs (what the user's phone receives and we pay for).

    GSM-7: 160 septets alone, 153 per segment when concatenated; extension characters take
    two septets and are never split. UCS-2: 70 code units alone, 67 when concatenated;
    characters outside the BMP (emoji) take two units and are never split.
    """
    if not text:
        return 0
    if is_gsm7(text):
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, multi = SMS_SINGLE_GSM7, SMS_MULTI_GSM7
    else:
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi = SMS_SINGLE_UCS2, SMS_MULTI_UCS2
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for unit in units:
        if used + unit > multi:
            segments += 1
            used = 0
        used += unit
    return segments


def strip_markdown(text: str) -> str:
    """Remove WhatsApp emphasis markers, keeping the words they enclose."""
    for pattern in _MARKDOWN_RES:
        text = pattern.sub(r"\1", text)
    return text


def _transliterate(ch: str) -> str:
    """GSM-7 stand-in for one character: itself, its decomposed base letters, or nothing."""
    if ch in GSM7_ALL:
        return ch
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(c for c in decomposed if c in GSM7_ALL)
    # A decomposition that lost everything (emoji, CJK, symbols) is dropped: a stray "?"
    # in the middle of an instruction would confuse more than a missing pictogram.
    return kept


def _tidy_whitespace(text: str) -> str:
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def to_gsm7(text: str) -> str:
    """SMS-safe text: no markdown, straight quotes, no emoji, only GSM-7 characters."""
    text = unicodedata.normalize("NFC", text)
    text = strip_markdown(text)
    text = _REPLACE_RE.sub(lambda m: _REPLACEMENTS[m.group(0)], text)
    text = "".join(_transliterate(ch) for ch in text)
    return _tidy_whitespace(text)


def numbered_options(buttons: Sequence[Mapping[str, Any]]) -> str:
    """Buttons as the numbered list the user answers with a number: ``1. Title`` per line."""
    lines = []
    for index, button in enumerate(buttons, start=1):
        title = str(button.get("title") or "").strip()
        if not title:
            # The number must still line up with the button's position, so an untitled
            # button shows its payload rather than disappearing.
            title = str(button.get("payload") or "").lstrip("/").replace("_", " ")
        lines.append(f"{index}. {title}")
    return "\n".join(lines)


def message_buttons(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The options of one Rasa bot message (``buttons``, else ``quick_replies``)."""
    for key in ("buttons", "quick_replies"):
        value = message.get(key)
        if isinstance(value, list) and value:
            return [b for b in value if isinstance(b, Mapping)]
    return []


def render_message(message: Mapping[str, Any], medium: Medium) -> str:
    """One Rasa bot message as the user reads it: text, image link, numbered options."""
    parts: list[str] = []
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        parts.append(text.strip())
    image = message.get("image")
    if isinstance(image, str) and image.strip():
        parts.append(image.strip())
    buttons = message_buttons(message)
    if buttons:
        parts.append(numbered_options(buttons))
    rendered = "\n\n".join(parts)
    return to_gsm7(rendered) if medium == "sms" else rendered


def _units(text: str) -> int:
    """Length as Twilio counts it (UTF-16 code units, so an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _hard_cut(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        size = _units(ch)
        if used + size > limit:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += size
    if current:
        pieces.append("".join(current))
    return pieces


# Where a long text may be cut, best first: paragraph, line, word, anywhere.
_SEPARATORS = ("\n\n", "\n", " ")


def _split(text: str, limit: int, level: int = 0) -> list[str]:
    if _units(text) <= limit:
        return [text]
    if level >= len(_SEPARATORS):
        return _hard_cut(text, limit)
    separator = _SEPARATORS[level]
    pieces: list[str] = []
    for chunk in text.split(separator):
        pieces.extend(_split(chunk, limit, level + 1))
    return _pack(pieces, limit, separator)


def _pack(chunks: Iterable[str], limit: int, separator: str) -> list[str]:
    bodies: list[str] = []
    current = ""
    for chunk in chunks:
        if not chunk.strip():
            continue
        candidate = f"{current}{separator}{chunk}" if current else chunk
        if _units(candidate) <= limit:
            current = candidate
        else:
            if current:
                bodies.append(current)
            current = chunk
    if current:
        bodies.append(current)
    return bodies


def join_messages(texts: Iterable[str], limit: int = MAX_BODY_CHARS) -> list[str]:
    """Join the texts of one turn into as few bodies as possible, each at most ``limit``.

    Texts are joined with a blank line; a text longer than the limit is cut at paragraph
    boundaries first, then lines, then words.
    """
    pieces: list[str] = []
    for text in texts:
        if text and text.strip():
            pieces.extend(_split(text.strip(), limit))
    return _pack(pieces, limit, "\n\n")


def render_turn(
    messages: Iterable[Mapping[str, Any]], medium: Medium, limit: int = MAX_BODY_CHARS
) -> list[str]:
    """All bot messages of one turn as the Message bodies to send (few, each <= limit)."""
    return join_messages((render_message(m, medium) for m in messages), limit)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class SmsReportRow:
    """One response variation an SMS user can receive, with what it costs."""

    response: str
    variation: str
    raw_is_gsm7: bool
    chars: int
    segments: int


def load_responses(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The ``responses`` of a domain file, or of every YAML file in a domain directory."""
    import yaml  # only the report needs YAML; keep the channel's import light

    if path.is_dir():
        files = sorted([*path.rglob("*.yml"), *path.rglob("*.yaml")])
    else:
        files = [path]
    responses: dict[str, list[dict[str, Any]]] = {}
    for file in files:
        with file.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if isinstance(data, dict) and isinstance(data.get("responses"), dict):
            for name, variations in data["responses"].items():
                if isinstance(variations, list):
                    responses.setdefault(str(name), []).extend(
                        v for v in variations if isinstance(v, dict)
                    )
    return responses


def sms_variations(variations: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The variations Rasa may pick for the ``sms`` channel (as ResponseVariationFilter does)."""
    for_sms = [v for v in variations if v.get("channel") == "sms"]
    return for_sms or [v for v in variations if v.get("channel") is None]


def sms_report(responses: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[SmsReportRow]:
    """Every response variation an SMS user can receive, with its segment count."""
    rows: list[SmsReportRow] = []
    for name in sorted(responses):
        for index, variation in enumerate(sms_variations(responses[name]), start=1):
            label = "sms" if variation.get("channel") == "sms" else "default"
            if variation.get("condition"):
                label += " (condition)"
            if index > 1 or len(sms_variations(responses[name])) > 1:
                label += f" #{index}"
            raw = render_message(variation, "whatsapp")  # text + options, not sanitised
            sent = render_message(variation, "sms")
            rows.append(
                SmsReportRow(
                    response=name,
                    variation=label,
                    raw_is_gsm7=is_gsm7(raw),
                    chars=len(sent),
                    segments=sms_segments(sent),
                )
            )
    return rows


def format_report(rows: Sequence[SmsReportRow], warn_over: int = 3) -> str:
    """The report as a plain-text table; ``!`` marks non-GSM-7 text or too many segments."""
    width = max([len("response")] + [len(r.response) for r in rows])
    var_width = max([len("variation")] + [len(r.variation) for r in rows])
    lines = [
        f"{'response':<{width}}  {'variation':<{var_width}}  gsm7  chars  segments",
        "-" * (width + var_width + 27),
    ]
    for row in rows:
        flag = " !" if (not row.raw_is_gsm7 or row.segments > warn_over) else ""
        lines.append(
            f"{row.response:<{width}}  {row.variation:<{var_width}}  "
            f"{'yes' if row.raw_is_gsm7 else 'NO ':<4}  {row.chars:>5}  {row.segments:>8}{flag}"
        )
    total = len(rows)
    flagged = sum(1 for r in rows if not r.raw_is_gsm7 or r.segments > warn_over)
    lines.append("")
    lines.append(
        f"{total} variations; {flagged} marked '!' (raw text not GSM-7, so it relies on the "
        f"sanitiser, or more than {warn_over} segments)."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lpse_assist.render --report domain.yml``: print the SMS segment table."""
    parser = argparse.ArgumentParser(
        prog="python -m lpse_assist.render", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--report",
        metavar="DOMAIN",
        type=Path,
        required=True,
        help="domain file or directory to report on",
    )
    parser.add_argument(
        "--warn-over",
        type=int,
        default=3,
        help="mark variations with more segments than this (default 3)",
    )
    args = parser.parse_args(argv)
    if not args.report.exists():
        print(f"{args.report}: not found", file=sys.stderr)
        return 2
    rows = sms_report(load_responses(args.report))
    print(format_report(rows, args.warn_over))
    return 0


if __name__ == "__main__":
    sys.exit(main())
