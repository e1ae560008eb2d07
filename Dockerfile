# OneProxy image: Python slim, non-root, pinned requirements, uvicorn as the entry point.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 oneproxy
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    PORT=3000
WORKDIR /app
COPY --chown=oneproxy:oneproxy . /app
RUN mkdir -p /data && chown oneproxy:oneproxy /data \
 && DEBUG=false SECRET_KEY=collectstatic-only-build-time-key-0000000000 \
    python manage.py collectstatic --noinput -v 0
USER oneproxy
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" || exit 1
# Migrations run on start so a fresh volume works; several web nodes may start together:
# Django's migrate takes a lock per migration on PostgreSQL and MySQL.
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py ensure_admin && exec python manage.py serve"]
