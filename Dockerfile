# syntax=docker/dockerfile:1
# nkru-monitor: the `nkru` command with its Beam runner (Prism), for running beside your own Kafka.
#   docker build -t nkru-monitor .
#   docker run --rm -e NKRU_KAFKA__BOOTSTRAP_SERVERS=kafka:9092 nkru-monitor process

ARG BEAM_VERSION=2.62.0

# ---- the Prism runner, built from the Go module proxy (the same recipe as `nkru setup`)
FROM golang:1.23-bookworm AS prism
ARG BEAM_VERSION
ENV CGO_ENABLED=0 GONOSUMDB=github.com/apache/beam GOBIN=/out
RUN go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v${BEAM_VERSION}"

# ---- Python dependencies and nkru, installed into a virtualenv
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/nkru
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY connectors ./connectors
COPY pipeline ./pipeline
COPY nkru ./nkru
RUN /opt/nkru/bin/pip install .

# ---- runtime: slim, non-root
FROM python:3.11-slim-bookworm
ARG BEAM_VERSION
RUN useradd --create-home --uid 10001 --user-group nkru
COPY --from=build /opt/nkru /opt/nkru
COPY --from=prism /out/prism /opt/nkru/prism/prism
ENV PATH=/opt/nkru/bin:$PATH \
    NKRU_PRISM=/opt/nkru/prism/prism \
    NKRU_STATE=/var/lib/nkru \
    NKRU_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
RUN mkdir -p /var/lib/nkru && chown nkru:nkru /var/lib/nkru
USER 10001:10001
VOLUME ["/var/lib/nkru"]
# `nkru health` asks the role's /healthz endpoint (observability.port, 9464)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["nkru", "health"]
ENTRYPOINT ["nkru"]
CMD ["process"]
