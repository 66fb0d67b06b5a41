# Rasa server of LPSE Assist: the official Rasa image plus our package, configuration and
# trained model. Built by `docker compose build` from the project root, after `make train`
# (the build copies models/lpse-assist.tar.gz). Operator guide: docs/deployment.md.
FROM rasa/rasa:3.6.21-full

WORKDIR /app
USER root

# Our pinned runtime dependencies (requirements.txt, with the lock's transitive pins). The
# image already has Rasa, so pip only adds what is missing.
COPY requirements.txt requirements.lock ./
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock

# lpse_assist: channels, NLU components, lock store, resilience. actions/: its contact list is
# what users get when the action server is down (lpse_assist/resilience.py).
COPY --chown=1001:0 lpse_assist ./lpse_assist
COPY --chown=1001:0 actions ./actions
COPY --chown=1001:0 domain.yml config.yml contacts.yml credentials.yml \
     credentials.production.yml endpoints.yml endpoints.production.yml ./
COPY --chown=1001:0 models/lpse-assist.tar.gz ./models/lpse-assist.tar.gz

# Government data, and many servers have no internet: Rasa never phones home.
ENV PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2

USER 1001
EXPOSE 5005
HEALTHCHECK --interval=15s --timeout=10s --start-period=180s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=5)"

# The image's entrypoint is `rasa`. No --enable-api and no REST channel
# (credentials.production.yml): only the Twilio webhook and status callback are served.
CMD ["run", "--model", "models/lpse-assist.tar.gz", "--endpoints", "endpoints.production.yml", \
     "--credentials", "credentials.production.yml", "--port", "5005"]
