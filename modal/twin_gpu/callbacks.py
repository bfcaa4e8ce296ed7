"""Signed training callbacks (DESIGN §8): HMAC-SHA256 over `${timestamp}.${rawBody}`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
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


@dataclass
class CallbackClient:
    """Posts numbered, signed events for one run. `seq` starts at 1 and never repeats,
    so the receiver can apply each event once even when a delivery is retried."""

    url: str | None
    secret: str
    run_id: str
    attempts: int = 4
    timeout_s: float = 10.0
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)

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
    ) -> bool:
        self.seq += 1
        payload = {
            "runId": self.run_id,
            "seq": self.seq,
            "event": event,
            "stage": stage,
            "step": step,
            "totalSteps": total_steps,
            "loss": loss,
            "artifacts": artifacts,
            "error": error,
        }
        self.sent.append(payload)
        if not self.url:
            return False
        body = json.dumps(payload, separators=(",", ":")).encode()
        for attempt in range(1, self.attempts + 1):
            # Re-sign on every try: a retry after a slow failure must not go stale.
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Twin-Timestamp": ts,
                "X-Twin-Signature": sign(self.secret, ts, body),
            }
            try:
                r = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        log.warning("callback %s seq=%d rejected: %s", event, self.seq, r.status_code)
                    return r.status_code < 400
            except httpx.HTTPError as e:
                log.warning("callback %s seq=%d try %d failed: %s", event, self.seq, attempt, type(e).__name__)
            time.sleep(min(2 ** (attempt - 1), 8))
        # Training goes on when the server is unreachable; its watchdog decides the run's fate.
        return False
