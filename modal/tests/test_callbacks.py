"""Callback signing against the shared vectors (the same file the TypeScript verifier reads), the
client's wire format, and failed runs reported with a readable error."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from twin_gpu.callbacks import CallbackClient, sign, verify

from conftest import API_TOKEN, CALLBACK_SECRET

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "contracts" / "callback-signature.vectors.json").read_text())
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_sign_and_verify(v):
    assert sign(v["secret"], v["timestamp"], v["body"]) == v["signature"]
    assert sign(v["secret"], v["timestamp"], v["body"].encode()) == v["signature"]
    now = int(v["timestamp"])
    for t in (now, now + VECTORS["toleranceSec"], now - VECTORS["toleranceSec"]):
        assert verify(secret=v["secret"], timestamp_header=v["timestamp"], signature_header=v["signature"],
                      body=v["body"], now_sec=t).ok


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_rejected_for_the_stated_reason(v):
    verdict = verify(secret=v["secret"], timestamp_header=v["timestampHeader"], signature_header=v["signatureHeader"],
                     body=v["body"], now_sec=v["now"], tolerance_sec=VECTORS["toleranceSec"])
    assert (verdict.ok, verdict.reason) == (False, v["reason"])


def test_client_posts_exact_signed_bytes_with_increasing_seq(receiver):
    client = CallbackClient(receiver.url("run-sig"), CALLBACK_SECRET, "run-sig", attempt=2)
    client.send("started", stage="starting")
    client.send("progress", stage="training", step=3, total_steps=10, loss=1.5)
    assert client.close(10)
    calls = receiver.for_run("run-sig")
    assert [c["json"]["seq"] for c in calls] == [1, 2] and client.delivered == [1, 2]
    assert calls[1]["json"] == {"runId": "run-sig", "attempt": 2, "seq": 2, "event": "progress", "stage": "training",
                                "step": 3, "totalSteps": 10, "loss": 1.5, "artifacts": None, "error": None,
                                "retryable": None}
    for c in calls:
        ts, sig = c["headers"]["X-Twin-Timestamp"], c["headers"]["X-Twin-Signature"]
        assert abs(int(ts) - time.time()) < 60
        assert sig == sign(CALLBACK_SECRET, ts, c["raw"])
        assert verify(secret=CALLBACK_SECRET, timestamp_header=ts, signature_header=sig, body=c["raw"],
                      now_sec=int(time.time())).ok


def test_a_slow_server_never_blocks_the_sender_and_gets_every_event_in_order(receiver):
    """What the training loop sees: send() returns at once while the server takes 0.4 s per POST."""
    run = "run-slow"
    receiver.behaviours[run] = lambda _r, _s, _t: (204, 0.4)
    client = CallbackClient(receiver.url(run), CALLBACK_SECRET, run)
    started = time.monotonic()
    for step in range(1, 6):
        client.send("progress", stage="training", step=step, total_steps=5, loss=1.0 / step)
    assert time.monotonic() - started < 0.1  # 5 sends, while delivering them takes 2 s
    assert client.close(30)
    assert time.monotonic() - started >= 5 * 0.4
    assert [c["json"]["step"] for c in receiver.for_run(run)] == [1, 2, 3, 4, 5]


def test_failed_deliveries_are_retried_on_5xx_but_not_on_4xx(receiver):
    run = "run-retry"

    def behave(_run, seq, tries):
        if seq == 1:
            return (503, 0.0) if tries <= 2 else (204, 0.0)  # down twice, then up
        return 404, 0.0  # e.g. unknown run: final, never retried

    receiver.behaviours[run] = behave
    client = CallbackClient(receiver.url(run), CALLBACK_SECRET, run, backoff_s=0.05)
    client.send("started", stage="starting")
    client.send("progress", stage="loading_data")
    assert client.close(10)
    assert client.delivered == [1] and client.dropped == [2]
    assert [c["json"]["seq"] for c in receiver.refused_for(run)] == [1, 1, 2]
    assert [c["json"]["seq"] for c in receiver.for_run(run)] == [1]


def test_client_survives_an_unreachable_server():
    client = CallbackClient("http://127.0.0.1:9/nothing", CALLBACK_SECRET, "run-x", tries=2, timeout_s=1,
                            backoff_s=0.05)
    started = time.monotonic()
    payload = client.send("started", stage="starting")
    assert time.monotonic() - started < 0.1
    assert payload["seq"] == 1 and client.seq == 1
    assert client.close(10)
    assert client.dropped == [1] and client.delivered == []


def test_close_gives_up_after_its_timeout_so_a_dead_server_cannot_hold_a_finished_run(receiver):
    run = "run-stuck"
    receiver.behaviours[run] = lambda _r, _s, _t: (503, 0.0)
    client = CallbackClient(receiver.url(run), CALLBACK_SECRET, run, tries=100, backoff_s=0.2)
    client.send("completed", stage="completed")
    started = time.monotonic()
    assert client.close(0.5) is False
    assert time.monotonic() - started < 2


def _run_and_wait(web, receiver, req):
    r = httpx.post(f"{web['url']}/train", json=req, headers=AUTH, timeout=10)
    assert r.status_code == 202, r.text
    calls = receiver.wait_final(req["runId"], timeout=300)
    assert web["spawner"].wait(r.json()["callId"], timeout=60) != 0, "a failed run must exit non-zero"
    events = [c["json"] for c in calls]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "started"
    return events[-1]


def test_dataset_without_assistant_turns_fails_with_a_readable_error(web, store, receiver, new_ids, make_train_request):
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id))
    store.put_json(req["datasetPath"], [{"messages": [{"role": "user", "content": "hi"}], "sourceChunkIds": []}])
    final = _run_and_wait(web, receiver, req)
    assert final["event"] == "failed"
    assert final["stage"] == "loading_data"
    assert final["error"] == "dataset.json record 0: no non-empty assistant message to learn from"
    assert final["retryable"] is False  # another attempt would fail the same way
    assert store.head(f"{req['outputPrefix']}/training_config.json") is None


def test_dataset_that_is_not_json_fails(web, store, receiver, new_ids, make_train_request):
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id))
    store.s3.put_object(Bucket=store.bucket, Key=req["datasetPath"], Body=b"{not json")
    final = _run_and_wait(web, receiver, req)
    assert final["event"] == "failed" and "is not valid JSON" in final["error"]


def test_missing_dataset_fails_naming_the_key(web, receiver, new_ids, make_train_request):
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id))
    final = _run_and_wait(web, receiver, req)
    assert final["event"] == "failed" and final["stage"] == "loading_data"
    assert final["error"] == f"dataset.json not found at s3://{os.environ['S3_BUCKET']}/{req['datasetPath']}"


def test_train_requires_the_bearer_token_and_a_valid_body(web, new_ids, make_train_request, receiver):
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id))
    assert httpx.post(f"{web['url']}/train", json=req, timeout=10).status_code == 401
    bad = httpx.post(f"{web['url']}/train", json=req, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    r = httpx.post(f"{web['url']}/train", json={**req, "quantizations": ["q2_k"]}, headers=AUTH, timeout=10)
    assert r.status_code == 400 and "unsupported quantizations" in r.json()["error"]["message"]
    assert receiver.for_run(run_id) == []
