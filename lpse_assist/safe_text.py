"""Text typed by staff (an outage notice, a ticket's closing note) made safe to show users.

Such text reaches users as a template variable of a domain.yml response. Rasa interpolates
the template, not the value, but it rejects a whole message whose interpolated text contains
``0[`` (its marker of an unfilled placeholder), so brackets and braces become parentheses.
Control characters, line breaks and runs of spaces become one space; characters that
WhatsApp or GSM-7 treat specially (``\\ | ^ ~ ` ``) are dropped.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = str.maketrans({"{": "(", "[": "(", "}": ")", "]": ")"})
_DROPPED = re.compile(r"[\\|^~`]")
_SPACES = re.compile(r"\s+")


def one_line(raw: str) -> str:
    """``raw`` as one clean line: NFC, no control or format characters, no brackets."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) != "Cf"
    )
    text = _DROPPED.sub("", text.translate(_BRACKETS))
    return _SPACES.sub(" ", text).strip()


def shortened(raw: str, max_chars: int) -> str:
    """``one_line(raw)`` cut to at most ``max_chars`` at a word boundary, with ``...``."""
    text = one_line(raw)
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 3]
    if " " in cut[max_chars // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "..."
