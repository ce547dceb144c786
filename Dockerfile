# The engine's image: the worker by default; the same image runs the LiveKit stand-in
# (python -m warm_transfer.livekit_sim) and the codec server (python -m
# warm_transfer.codec_server) in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package is built from: no .venv, tests or local state in the image.
COPY pyproject.toml README.md ./
COPY warm_transfer ./warm_transfer
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py starter.py ./
# Bytecode for the sources `python worker.py` imports from /app: the workflow sandbox
# re-imports the workflow module for every transfer, and with PYTHONDONTWRITEBYTECODE
# and a read-only /app it would compile it from source every time.
RUN pip install . \
    && python -m compileall -q /app \
    && useradd --create-home --uid 10001 engine

USER engine
# Prometheus, when METRICS_BIND=0.0.0.0:9464.
EXPOSE 9464
# SIGTERM (docker stop) makes the worker finish in-flight activities, then exit.
CMD ["python", "worker.py"]
