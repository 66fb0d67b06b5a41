"""Masking phone numbers for tickets, review files and logs."""

from __future__ import annotations

import pytest

from lpse_assist.privacy import mask_numbers_in_text, mask_phone, medium_of_sender

NUMBERS = ["+6281234567890", "whatsapp:+6281234567890", "+62812", "123", "me", ""]


@pytest.mark.parametrize("value", NUMBERS)
def test_same_masking_as_the_twilio_channel(value: str) -> None:
    from lpse_assist.channels.twilio.channel import mask_phone as channel_mask_phone

    assert mask_phone(value) == channel_mask_phone(value)


def test_mask_phone_keeps_prefix_and_ends() -> None:
    assert mask_phone("whatsapp:+6281234567890") == "whatsapp:+62812****7890"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("wa saya 081234567890 ya", "wa saya 0812****90 ya"),
        ("hub +62 812-3456-7890", "hub +6281****90"),
        ("kode 123456 dan tahun 2023", "kode 123456 dan tahun 2023"),
        ("NPWP 01.234.567.8-901.000", "NPWP 0123****00"),  # also masked: an identifier
    ],
)
def test_numbers_typed_in_messages_are_masked(text: str, masked: str) -> None:
    assert mask_numbers_in_text(text) == masked


def test_medium_of_sender() -> None:
    assert medium_of_sender("whatsapp:+6281234567890") == "whatsapp"
    assert medium_of_sender("+6281234567890") == "sms"
    assert medium_of_sender("c0ffee", "rest") == "rest"
