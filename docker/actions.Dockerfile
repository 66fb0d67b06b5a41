# Action server of LPSE Assist: the official Rasa SDK image plus our custom actions and the
# lpse_assist modules they use (contacts, tickets, settings). Operator guide:
# docs/deployment.md.
FROM rasa/rasa-sdk:3.6.2

WORKDIR /app
USER root

# What our actions import that the SDK image lacks, at the versions of requirements.lock:
# YAML (contacts), SQLAlchemy + psycopg2 (escalation tickets in PostgreSQL), twilio and
# aiohttp (helpdesk notification). tests/deploy/test_compose.py checks the list against the
# imports of actions/ and the lpse_assist modules they use.
COPY requirements.lock ./
RUN pip install --no-cache-dir -c requirements.lock \
        PyYAML SQLAlchemy psycopg2-binary twilio aiohttp

COPY --chown=1001:0 actions ./actions
COPY --chown=1001:0 lpse_assist ./lpse_assist
COPY --chown=1001:0 contacts.yml ./contacts.yml

ENV PYTHONPATH=/app

USER 1001
EXPOSE 5055
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=3)"

# The image's entrypoint runs `rasa_sdk`; this starts the action server on port 5055.
CMD ["start", "--actions", "actions", "--port", "5055"]
