# Production image: slim, non-root, migrates then serves; /healthz as the health check.
# Build: docker build -t warroom .   Run: docker run -p 3000:3000 --env-file .env warroom
# Without Slack credentials serve refuses 0.0.0.0 (the sandbox is not for the network); to try
# it: docker run -p 127.0.0.1:3000:3000 -e WARROOM_SANDBOX_ALLOW_REMOTE=1 warroom

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY playbooks playbooks
COPY storage storage
RUN python -m venv /opt/warroom && /opt/warroom/bin/pip install --no-cache-dir .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="warroom" \
      org.opencontainers.image.description="ChatOps incident-response bot for Slack" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/warroom/bin:$PATH \
    DATABASE_URL=sqlite:////data/warroom.db
# Only the virtual environment crosses over: no compiler, no sources, no pip cache.
COPY --from=build /opt/warroom /opt/warroom
RUN useradd --system --uid 10001 --home-dir /data --create-home warroom
USER 10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
# The schema first (a no-op when current), then the service; exec so signals reach it.
CMD ["sh", "-c", "warroom db upgrade && exec warroom serve --host 0.0.0.0 --port 3000"]
