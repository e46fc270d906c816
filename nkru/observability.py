"""Health and metrics endpoint of the long-running roles: GET /healthz (JSON) and GET /metrics (Prometheus).

Served on 127.0.0.1 by default; `observability.host` binds elsewhere. A background thread updates the
consumer-lag gauge from the raw topic's end offsets and the job's committed offsets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from pipeline.telemetry import CONSUMER_LAG

log = logging.getLogger(__name__)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True


def serve(host: str, port: int, health: Callable[[], dict]) -> tuple[WSGIServer, int]:
    """Start the endpoint in a daemon thread; return the server and the port it listens on."""
    metrics = make_wsgi_app()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            state = health()
            status = "200 OK" if state.get("ok") else "503 Service Unavailable"
            body = json.dumps(state, default=str).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return metrics(environ, start_response)

    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    return server, server.server_address[1]


def serve_role_health(observability, checks: dict[str, Callable[[], bool | str]], port: int | None = None,
                      hint: str = "set observability.port"):
    """Serve a role's /healthz (its `checks`) and /metrics on `observability.host` and `port` (default:
    `observability.port`); None when the settings disable the endpoint and no port is asked for. Raises
    `click.ClickException` naming the address when it cannot listen."""
    import click

    if port is None and not observability.enabled:
        return None
    host, port = observability.host, observability.port if port is None else port
    try:
        server, bound = serve(host, port, uptime_health(time.monotonic(), checks))
    except OSError as exc:
        raise click.ClickException(f"cannot serve metrics on {host}:{port}: {exc} ({hint})") from None
    log.info("health on http://%s:%d/healthz, metrics on /metrics", host, bound)
    return server


def watch_lag(kafka_settings, group_id: str, topic_name: str, stop: threading.Event, every: float = 10.0) -> None:
    """Update the consumer-lag gauge every `every` seconds until `stop` is set."""
    from kafka import TopicPartition

    from connectors.kafka_io import make_consumer

    consumer = None
    while not stop.is_set():
        try:
            consumer = consumer or make_consumer(kafka_settings, group_id=group_id, enable_auto_commit=False)
            parts = [TopicPartition(topic_name, p) for p in sorted(consumer.partitions_for_topic(topic_name) or [])]
            ends = consumer.end_offsets(parts) if parts else {}
            for tp in parts:
                committed = consumer.committed(tp) or 0
                CONSUMER_LAG.labels(partition=str(tp.partition)).set(max(0, ends[tp] - committed))
        except Exception:  # noqa: BLE001 - the gauge is best effort; the job does not depend on it
            log.debug("consumer lag unavailable", exc_info=True)
        stop.wait(every)
    if consumer is not None:
        consumer.close()


def uptime_health(started: float, checks: dict[str, Callable[[], bool | str]]) -> Callable[[], dict]:
    """The /healthz body: each check answers True when healthy, else False or a sentence saying why;
    the sentences are listed under "problems"."""

    def health() -> dict:
        results, problems = {}, {}
        for name, check in checks.items():
            outcome = check()
            results[name] = bool(outcome) and not isinstance(outcome, str)
            if isinstance(outcome, str):
                problems[name] = outcome
        body = {"ok": all(results.values()), "checks": results, "uptime_s": round(time.monotonic() - started, 1)}
        if problems:
            body["problems"] = problems
        return body

    return health
