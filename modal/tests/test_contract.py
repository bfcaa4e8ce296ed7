"""contracts/train-api.vectors.json, the file the TypeScript side reads too: its examples are what
this code accepts and sends."""

from __future__ import annotations

import json

import httpx
import pytest

from twin_gpu.callbacks import CALLBACK_KEYS, CallbackClient, sign, verify
from twin_gpu.contract import TrainRequest, parse_hyperparameters

from conftest import API_TOKEN, VECTORS_DIR

V = json.loads((VECTORS_DIR / "train-api.vectors.json").read_text())


def test_the_submit_example_is_a_valid_request():
    req = TrainRequest.model_validate(V["submit"]["request"])
    assert req.attempt == 1 and req.baseModel is None and req.quantizations == ["q8_0", "q4_k_m"]
    hp = parse_hyperparameters(req.hyperparameters)
    assert (hp.learning_rate, hp.epochs, hp.lora_r) == (1e-4, 3, 8)
    assert V["token"] == API_TOKEN


@pytest.mark.parametrize("case", V["submit"]["invalid"], ids=lambda c: c["name"])
def test_invalid_submits_are_refused_as_the_vectors_say(web, case):
    auth = case.get("auth", f"Bearer {API_TOKEN}")
    headers = {"Authorization": auth} if auth else {}
    r = httpx.post(f"{web['url']}/train", json=case["body"], headers=headers, timeout=10)
    assert r.status_code == case["status"], r.text
    err = r.json()["error"]
    assert err["type"] == case["errorType"]
    assert case.get("messageContains", "") in err["message"]


def test_status_and_cancel_answers_have_the_contract_keys():
    for resp in V["status"]["responses"]:
        assert set(resp["body"]) == {"callId", "status", "error"} and resp["body"]["status"] in V["status"]["states"]
    for resp in V["cancel"]["responses"]:
        assert set(resp["body"]) == {"callId", "cancelled", "status"}
        assert resp["body"]["status"] in V["status"]["states"]


def test_callback_keys_are_the_clients():
    assert list(CALLBACK_KEYS) == V["callbacks"]["keys"]
    client = CallbackClient(None, "s", "r", 3)
    assert list(client.send("started", stage="starting")) == V["callbacks"]["keys"]


@pytest.mark.parametrize("name", list(V["callbacks"]["sequences"]))
def test_example_sequences_are_well_formed(name):
    events = V["callbacks"]["sequences"][name]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "started" and events[-1]["event"] in {"completed", "failed"}
    assert len({e["attempt"] for e in events}) == 1
    for e in events:
        assert list(e) == V["callbacks"]["keys"] and e["stage"] in V["callbacks"]["stages"]
        assert (e["retryable"] is not None) == (e["event"] == "failed")
    if events[-1]["event"] == "completed":
        files = events[-1]["artifacts"]["files"]
        assert {f["name"] for f in files} == {"adapter", "adapter_config", "gguf_f16", "gguf_q8_0", "gguf_q4_k_m",
                                              "config"}
        assert all(set(f) == {"name", "key", "bytes", "quantization"} for f in files)


@pytest.mark.parametrize("v", V["callbacks"]["signed"], ids=lambda v: v["name"])
def test_signed_callback_vectors(v):
    assert sign(v["secret"], v["timestamp"], v["body"]) == v["signature"]
    assert verify(secret=v["secret"], timestamp_header=v["timestamp"], signature_header=v["signature"],
                  body=v["body"], now_sec=int(v["timestamp"])).ok
    body = json.loads(v["body"])
    assert list(body) == V["callbacks"]["keys"]
    assert v["body"] == json.dumps(body, separators=(",", ":"))
