"""Webhook sink for subscribers: POST each alert as JSON to a URL, with retries; a permanent failure
becomes a dead letter (stage "webhook") on the dead-letter topic, never a silent drop."""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from schemas.records import Alert, DeadLetter

log = logging.getLogger(__name__)

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class WebhookResult:
    ok: bool
    attempts: int
    status: int | None
    error: str | None = None


class WebhookSink:
    def __init__(self, url: str, *, attempts: int = 5, timeout: float = 10.0, backoff: float = 0.5,
                 max_backoff: float = 30.0, user_agent: str = "nkru-monitor webhook", dead_letter=None, sleep=time.sleep):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url, self.attempts, self.timeout = url, attempts, timeout
        self.backoff, self.max_backoff, self.user_agent = backoff, max_backoff, user_agent
        self.dead_letter = dead_letter  # callable(DeadLetter) or None
        self.sleep = sleep

    def deliver(self, alert: Alert) -> WebhookResult:
        body = alert.model_dump_json().encode()
        status = error = None
        for attempt in range(1, self.attempts + 1):
            status, error, retry_after = self._post(body)
            if status is not None and 200 <= status < 300:
                return WebhookResult(True, attempt, status)
            if status is not None and status not in RETRYABLE:
                break  # a permanent refusal: retrying will not help
            if attempt < self.attempts:
                delay = retry_after if retry_after is not None else min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                self.sleep(delay * (1 + random.random() * 0.2))
        result = WebhookResult(False, attempt, status, error)
        log.warning("webhook delivery of alert %s failed after %d attempt(s): %s", alert.alert_id, attempt,
                    error or status)
        if self.dead_letter is not None:
            self.dead_letter(DeadLetter(stage="webhook", reason=f"POST {self.url} failed",
                                        error=error or f"HTTP {status}", payload=body.decode(),
                                        payload_ref=self.url))
        return result

    def _post(self, body: bytes) -> tuple[int | None, str | None, float | None]:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, None, None
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After")
            try:
                delay = float(retry_after) if retry_after else None
            except ValueError:
                delay = None
            return exc.code, f"HTTP {exc.code}", delay
        except (urllib.error.URLError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}", None


def kafka_dead_letter_writer(kafka_settings):
    """A callable writing dead letters to the dead-letter topic (flushed at once: they are rare)."""
    from connectors.kafka_io import headers_for, make_producer
    from schemas.topics import DEAD_LETTERS, topic

    t = topic(DEAD_LETTERS, kafka_settings.topic_prefix)
    producer = make_producer(kafka_settings)

    def write(dl: DeadLetter) -> None:
        producer.send(t.name, key=dl.stage.encode(), value=t.encode(dl), headers=headers_for(t))
        producer.flush()

    write.close = producer.close  # type: ignore[attr-defined]
    return write


__all__ = ["WebhookSink", "WebhookResult", "kafka_dead_letter_writer", "json"]
