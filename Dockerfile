# Production image of the API. Migrations run as a one-shot container of the same image
# (`python -m crmctl migrate`), the API as `python -m crmctl serve` with DATABASE_URL / REDIS_URL set, in
# WEB_CONCURRENCY uvicorn worker processes (2 here; set it to the container's cores).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_CONCURRENCY=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# dependencies first (cached layer: the packages' empty shells, so only pyproject.toml invalidates it)
COPY pyproject.toml ./
COPY api/__init__.py api/__init__.py
COPY crmctl/__init__.py crmctl/__init__.py
RUN pip install --upgrade pip && pip install .

# then the code, installed in place: crmctl finds the SQL of db/ beside itself (crmctl/database.py), whether it
# runs as `python -m crmctl` from /app or as the `crmctl` console script. devservers/ (embedded servers for
# development) stays out of the image.
COPY api ./api
COPY crmctl ./crmctl
COPY db ./db
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 app \
    && chown -R app:app /app

USER app
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"

CMD ["python", "-m", "crmctl", "serve", "--host", "0.0.0.0", "--port", "8000"]
