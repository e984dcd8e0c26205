# Production image: slim, non-root, migrates then serves; /healthz as the health check.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY playbooks playbooks
COPY storage storage
RUN python -m venv /opt/warroom && /opt/warroom/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/warroom/bin:$PATH \
    DATABASE_URL=sqlite:////data/warroom.db
COPY --from=build /opt/warroom /opt/warroom
RUN useradd --system --uid 10001 --home-dir /data --create-home warroom
USER warroom
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
CMD ["sh", "-c", "warroom db upgrade && exec warroom serve --host 0.0.0.0 --port 3000"]
