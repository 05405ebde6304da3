# ChatGateway's production image: `python manage.py serve` (uvicorn worker processes, DEBUG off) as a
# user that is not root. docker-compose.yml runs it with PostgreSQL; docs/deploy.md explains the settings.
# Alone: docker build -t chatgateway . && docker run --env-file gateway.env -p 8000:8000 chatgateway
# (gateway.env: plain KEY=value lines with DJANGO_SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, OPENAI_API_KEY…).
FROM python:3.11-slim

# Production defaults; every one can be overridden at `docker run -e` / compose time.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    DEBUG=0 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Dependencies first, so that a change to the code alone does not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# The admin's static files are collected into the image. With DEBUG=0 the settings refuse to load without a
# secret, so this one command gets a throwaway one: it signs nothing and is not in the image's environment.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0

# The code and the static files stay root's: the server reads them and never writes them.
RUN useradd --system --user-group --uid 10001 --no-create-home --shell /usr/sbin/nologin gateway
# The one place it writes: what the database could not take during an outage (relay/outbox.py).
ENV CHATGATEWAY_OUTBOX_DIR=/var/lib/chatgateway/outbox
RUN mkdir -p /var/lib/chatgateway/outbox && chown -R gateway:gateway /var/lib/chatgateway
USER gateway

EXPOSE 8000

# /healthz answers 200 while the database does (503 when not). Django refuses a Host header that is not in
# ALLOWED_HOSTS, so the check sends the first allowed name rather than 127.0.0.1 (slim has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "import os, urllib.request as r; h = (os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.').replace('*', 'localhost') or 'localhost'; r.urlopen(r.Request(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", headers={'Host': h}), timeout=4)"]

# Docker Compose reads an env file line `KEY=   # note` as the value "# note", not as empty (python-dotenv,
# which `make run` uses, does not): that would make a note the JWT signing key or the upstream's URL. Every
# command run in the image therefore refuses to start while a variable's value is such a note.
ENTRYPOINT ["sh", "-c", "bad=$(env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=[[:space:]]*# ' | cut -d= -f1 | tr '\\n' ' '); if [ -n \"$bad\" ]; then echo \"Refusing to start. These variables hold a note instead of a value: ${bad}(Docker Compose reads the env file line KEY=   # note as the value '# note'; write KEY= instead; see docs/deploy.md).\" >&2; exit 1; fi; exec \"$@\"", "sh"]

# Migrating at start-up finds nothing to do once the database is current; with several gateway hosts, run
# `migrate` once before starting them (docs/deploy.md). `exec`: the server gets the stop signal directly.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec python manage.py serve"]
