"""Provider accounts: registration, verification documents and data changes, answered for the
account system this LPSE uses (contacts.yml ``provider_accounts``).

The texts are domain responses, one per account system (``utter_answer_<topic>_<system>``);
these actions only choose among them and add what the operator configured (the LPSE's site,
its own list of verification documents). With the system still ``unknown`` the answer names
both systems and the helpdesk contacts follow, so the user learns where to ask.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.support import send_contacts
from lpse_assist.contacts import UNKNOWN_ACCOUNT_SYSTEM, Contacts, load_contacts

LPSE_SITE = "utter_lpse_site"
CONFIGURED_DOCUMENTS = "utter_answer_verification_documents_configured"


def system_response(topic: str, contacts: Contacts) -> str:
    """The answer for ``topic`` under this LPSE's account system."""
    return f"utter_answer_{topic}_{contacts.account_system}"


def document_lines(documents: list[str]) -> str:
    """The operator's documents as the list lines the response shows (``- item``)."""
    return "\n".join(f"- {document}" for document in documents)


def answer(
    dispatcher: CollectingDispatcher, topic: str, contacts: Contacts, show_site: bool = False
) -> None:
    """The topic's answer for this LPSE's system, then (``show_site``) the LPSE's site when
    the operator gave one, then, with an unknown system, the contacts to ask which applies."""
    dispatcher.utter_message(response=system_response(topic, contacts))
    # Central accounts are registered at akun.inaproc.id, not on the LPSE's own site.
    if show_site and contacts.lpse_site and contacts.account_system != "central":
        dispatcher.utter_message(response=LPSE_SITE, site=contacts.lpse_site)
    if contacts.account_system == UNKNOWN_ACCOUNT_SYSTEM:
        send_contacts(dispatcher, contacts)


class ActionAnswerRegisterAccount(Action):
    """User without an account sees how to register at this LPSE (its own site, or LKPP's
    central account, or both with the helpdesk when the operator has not said which), and
    the LPSE's site address when the operator gave one."""

    def name(self) -> str:
        return "action_answer_register_account"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        answer(dispatcher, "register_account", load_contacts(), show_site=True)
        return []


class ActionAnswerVerificationDocuments(Action):
    """User sees the documents for verification: the LPSE's own list when the operator gave
    one, else the usual list for this LPSE's account system."""

    def name(self) -> str:
        return "action_answer_verification_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        contacts = load_contacts()
        if contacts.verification_documents:
            dispatcher.utter_message(
                response=CONFIGURED_DOCUMENTS,
                documents=document_lines(contacts.verification_documents),
            )
        else:
            answer(dispatcher, "verification_documents", contacts)
        return []


class ActionAnswerChangeProviderData(Action):
    """User sees where to change the company e-mail or data (user default LPSE or the central
    account), how SIKaP identity changes are verified, and how to change a password while
    still able to log in."""

    def name(self) -> str:
        return "action_answer_change_provider_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        answer(dispatcher, "change_provider_data", load_contacts())
        return []
