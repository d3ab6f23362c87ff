# One image for the `migrate`, `worker` and `ui` services of docker-compose.yml.
# CPU build of torch (the pinned torch==2.13.0 resolves to 2.13.0+cpu from the CPU index); for
# GPU workers build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# psql for deploy/migrate.sh (reports need no browser: the PDF draws its bars as text);
# jemalloc for the training commands (provenance/allocator.py: no page zeroing at every step).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --extra-index-url "$TORCH_INDEX" -r requirements.txt

COPY pyproject.toml README.md ./
COPY attribution_engine attribution_engine
COPY db db
COPY provenance provenance
COPY app app
COPY .streamlit .streamlit
COPY deploy deploy
RUN pip install --no-deps --editable . \
    && useradd --create-home --uid 10001 provenance \
    && mkdir -p /data \
    && chown provenance /data

USER provenance
ENV PROVENANCE_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["provenance"]
CMD ["--help"]
