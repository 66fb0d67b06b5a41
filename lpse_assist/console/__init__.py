"""The helpdesk console: LPSE staff see escalated conversations and answer the user on the
same WhatsApp/SMS number (``python -m lpse_assist.console``; ``make run`` starts it).

``app`` is the web app, ``store`` its accounts, sessions and audit trail; the handover itself
(human mode, replies through Twilio) is ``lpse_assist.handover``.
"""
