"""Signed training callbacks (DESIGN §8): HMAC-SHA256 over `${timestamp}.${rawBody}`, sent from a
background thread so a slow or absent server never stalls the (paid) training loop."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx

log = logging.getLogger("twin_gpu.callbacks")

SIGNATURE_PREFIX = "v1="
DEFAULT_TOLERANCE_SEC = 300
Event = Literal["started", "progress", "completed", "failed"]


def sign(secret: str, timestamp: str, body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: Literal["malformed", "stale", "mismatch"] | None = None


def verify(
    *,
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes | str,
    now_sec: int,
    tolerance_sec: int = DEFAULT_TOLERANCE_SEC,
) -> Verdict:
    """Mirror of the TypeScript verifier; both are checked against contracts/callback-signature.vectors.json."""
    if not timestamp_header or not timestamp_header.isdigit() or not signature_header:
        return Verdict(False, "malformed")
    hex_part = signature_header[len(SIGNATURE_PREFIX) :]
    if (
        not signature_header.startswith(SIGNATURE_PREFIX)
        or len(hex_part) != 64
        or any(c not in "0123456789abcdef" for c in hex_part)
    ):
        return Verdict(False, "malformed")
    if abs(now_sec - int(timestamp_header)) > tolerance_sec:
        return Verdict(False, "stale")
    expected = sign(secret, timestamp_header, body)
    if not hmac.compare_digest(expected.encode(), signature_header.encode()):
        return Verdict(False, "mismatch")
    return Verdict(True)


CALLBACK_KEYS = ("runId", "attempt", "seq", "event", "stage", "step", "totalSteps", "loss", "artifacts", "error",
                 "retryable")


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class CallbackClient:
    """Numbered, signed events of one attempt of one run.

    `send` numbers the event (`seq` starts at 1 and never repeats, so the receiver applies each
    once even when a delivery is retried) and queues it; one background thread delivers the queue
    in `seq` order, retrying on >= 500 or no answer with exponential backoff. `send` never waits
    on the network. `close` waits (bounded) for the queue to drain: call it after the final event.
    """

    def __init__(
        self,
        url: str | None,
        secret: str,
        run_id: str,
        attempt: int = 1,
        *,
        tries: int = 5,
        timeout_s: float = 10.0,
        backoff_s: float | None = None,
        max_backoff_s: float = 8.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.run_id = run_id
        self.attempt = attempt
        self.tries = tries
        self.timeout_s = timeout_s
        self.backoff_s = _env_float("TWIN_CALLBACK_BACKOFF_S", 1.0) if backoff_s is None else backoff_s
        self.max_backoff_s = max_backoff_s
        self.seq = 0
        self.sent: list[dict[str, Any]] = []  # every event, in seq order, as queued
        self.delivered: list[int] = []  # seqs the server accepted (2xx)
        self.dropped: list[int] = []  # seqs refused (4xx) or out of tries
        self._queue: queue.Queue[tuple[int, bytes, str] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(
        self,
        event: Event,
        *,
        stage: str,
        step: int | None = None,
        total_steps: int | None = None,
        loss: float | None = None,
        artifacts: dict[str, Any] | None = None,
        error: str | None = None,
        retryable: bool | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self.seq += 1
            payload = {
                "runId": self.run_id,
                "attempt": self.attempt,
                "seq": self.seq,
                "event": event,
                "stage": stage,
                "step": step,
                "totalSteps": total_steps,
                "loss": loss,
                "artifacts": artifacts,
                "error": error,
                "retryable": retryable,
            }
            self.sent.append(payload)
            if self.url and not self._closed:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._deliver_all, name=f"callbacks-{self.run_id}",
                                                    daemon=True)
                    self._thread.start()
                body = json.dumps(payload, separators=(",", ":")).encode()
                self._queue.put((self.seq, body, event))
        return payload

    def close(self, timeout: float | None = None) -> bool:
        """Stops taking events and waits up to `timeout` seconds for the queued ones to be sent
        (or given up on). True when the queue drained in time."""
        timeout = _env_float("TWIN_CALLBACK_FLUSH_S", 120.0) if timeout is None else timeout
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("callbacks of %s: %d event(s) still unsent after %.0f s", self.run_id,
                        self._queue.qsize(), timeout)
            return False
        return True

    def _deliver_all(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as http:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                seq, body, event = item
                if self._deliver(http, seq, body, event):
                    self.delivered.append(seq)
                else:
                    self.dropped.append(seq)

    def _deliver(self, http: httpx.Client, seq: int, body: bytes, event: str) -> bool:
        assert self.url
        for attempt in range(1, self.tries + 1):
            # Signed on every try: a redelivery after a slow failure must not go stale.
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Twin-Timestamp": ts,
                "X-Twin-Signature": sign(self.secret, ts, body),
            }
            try:
                r = http.post(self.url, content=body, headers=headers)
                if r.status_code < 400:
                    return True
                if r.status_code < 500:
                    log.warning("callback %s seq=%d refused: %s", event, seq, r.status_code)
                    return False
                log.warning("callback %s seq=%d try %d: %s", event, seq, attempt, r.status_code)
            except httpx.HTTPError as e:
                log.warning("callback %s seq=%d try %d failed: %s", event, seq, attempt, type(e).__name__)
            if attempt < self.tries:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
        # Training goes on when the server is unreachable; its watchdog decides the run's fate.
        return False
