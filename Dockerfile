# Runtime image: the locked, hash-checked dependencies (requirements/runtime.txt), then the package
# itself without resolving anything; runs as a non-root user with several uvicorn workers.
# Migrations are a separate one-shot step (compose.yaml's `migrate` service, or
# `docker run --rm <image> alembic upgrade head`), so replicas never race to migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=2 \
    DATABASE_URL=sqlite:////app/data/policy.db \
    POLICY_ALEMBIC_INI=/app/alembic.ini

WORKDIR /app
RUN groupadd --system app && useradd --system --gid app --home /app app

# Dependencies first (their own layer, rebuilt only when the lock changes).
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-deps . && mkdir -p /app/data && chown -R app:app /app/data

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]

# uvicorn starts $WEB_CONCURRENCY worker processes (its own convention); exec form, so it is PID 1
# and gets SIGTERM for a graceful stop. X-Forwarded-For is read by the app, only from
# POLICY_TRUSTED_PROXIES, never rewritten by uvicorn.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", "--http", "app.http_server:BoundedHttpToolsProtocol"]
