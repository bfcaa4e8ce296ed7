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
    client = CallbackClient(receiver.url("run-sig"), CALLBACK_SECRET, "run-sig")
    assert client.send("started", stage="starting")
    assert client.send("progress", stage="training", step=3, total_steps=10, loss=1.5)
    calls = receiver.for_run("run-sig")
    assert [c["json"]["seq"] for c in calls] == [1, 2]
    assert calls[1]["json"] == {"runId": "run-sig", "seq": 2, "event": "progress", "stage": "training", "step": 3,
                                "totalSteps": 10, "loss": 1.5, "artifacts": None, "error": None}
    for c in calls:
        ts, sig = c["headers"]["X-Twin-Timestamp"], c["headers"]["X-Twin-Signature"]
        assert abs(int(ts) - time.time()) < 60
        assert sig == sign(CALLBACK_SECRET, ts, c["raw"])
        assert verify(secret=CALLBACK_SECRET, timestamp_header=ts, signature_header=sig, body=c["raw"],
                      now_sec=int(time.time())).ok


def test_client_survives_an_unreachable_server():
    client = CallbackClient("http://127.0.0.1:9/nothing", CALLBACK_SECRET, "run-x", attempts=1, timeout_s=1)
    assert client.send("started", stage="starting") is False
    assert client.seq == 1


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
