"""Phone simulator: a local web page that looks and behaves like a phone on WhatsApp or SMS,
talking to the bot only through its signed Twilio webhook.

Run ``python -m lpse_assist.simulator`` (``make run`` starts it).
"""

from __future__ import annotations

from lpse_assist.simulator.app import (
    Simulator,
    SimulatorConfig,
    message_view,
    options_of,
    start,
    whatsapp_html,
)

__all__ = ["Simulator", "SimulatorConfig", "message_view", "options_of", "start", "whatsapp_html"]
