# bpnet dashboard: docker build -t bpnet . && docker run -p 8000:8000 bpnet
# Stage 1 fetches the pinned Socket.IO browser client from the npm registry and verifies its integrity hash.
FROM python:3.11-slim AS vendor
WORKDIR /src
COPY scripts/fetch_vendor.py scripts/fetch_vendor.py
RUN python scripts/fetch_vendor.py

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    BPNET_WORKERS=processes \
    BPNET_LOG_LEVEL=INFO
RUN useradd --create-home --uid 10001 bpnet
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=bpnet:bpnet . .
COPY --from=vendor --chown=bpnet:bpnet /src/static/vendor/ static/vendor/
USER bpnet
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["gunicorn", "-w", "1", "--threads", "100", "-b", "0.0.0.0:8000", "app:app"]
