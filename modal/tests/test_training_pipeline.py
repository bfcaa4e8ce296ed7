"""End to end on CPU: POST /train → subprocess → LoRA on a tiny Qwen2 → GGUF → S3, with signed
callbacks sent from a background queue through a flaky receiver (the `trained` fixture, conftest)."""

from __future__ import annotations

import json
import math
import time

import httpx
import pytest

from twin_gpu.callbacks import verify
from twin_gpu.tiny_model import SYSTEM_PROMPT, TOY_RECORDS

from conftest import AUTH, CALLBACK_SECRET, VECTORS_DIR

CONTRACT = json.loads((VECTORS_DIR / "train-api.vectors.json").read_text())


def test_train_endpoint_answers_at_once_and_the_run_succeeds(trained, web):
    assert trained["answered_in"] < 5
    assert trained["status_while_running"] == {"callId": trained["call_id"], "status": "running", "error": None}
    final = trained["calls"][-1]["json"]
    assert final["event"] == "completed", f"{final}\n{trained['log'][-3000:]}"
    assert trained["exit_code"] == 0
    r = httpx.get(f"{web['url']}/train/{trained['call_id']}", headers=AUTH, timeout=10)
    assert r.json() == {"callId": trained["call_id"], "status": "completed", "error": None}
    # nothing left to cancel
    r = httpx.post(f"{web['url']}/train/{trained['call_id']}/cancel", headers=AUTH, timeout=10)
    assert r.json() == {"callId": trained["call_id"], "cancelled": False, "status": "completed"}


def test_a_resubmitted_attempt_gets_the_same_call_and_starts_nothing(trained, web, receiver):
    r = httpx.post(f"{web['url']}/train", json=trained["req"], headers=AUTH, timeout=10)
    assert r.status_code == 202 and r.json() == {"callId": trained["call_id"]}
    time.sleep(0.5)
    assert len(receiver.for_run(trained["runId"])) == len(trained["calls"])


def test_callbacks_are_signed_numbered_and_ordered(trained):
    calls = trained["calls"]
    events = [c["json"] for c in calls]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "started" and events[-1]["event"] == "completed"
    assert all(e["attempt"] == 1 and e["runId"] == trained["runId"] for e in events)
    for c in calls:
        # keys in the contract's order, compact JSON: the bytes the vectors describe
        assert list(c["json"]) == CONTRACT["callbacks"]["keys"]
        assert c["raw"] == json.dumps(c["json"], separators=(",", ":")).encode()
        h = {k.lower(): v for k, v in c["headers"].items()}
        assert c["path"] == f"/callbacks/{trained['req']['runId']}"
        verdict = verify(secret=CALLBACK_SECRET, timestamp_header=h["x-twin-timestamp"],
                         signature_header=h["x-twin-signature"], body=c["raw"], now_sec=int(time.time()))
        assert verdict.ok, verdict
        assert not verify(secret="other", timestamp_header=h["x-twin-timestamp"],
                          signature_header=h["x-twin-signature"], body=c["raw"], now_sec=int(time.time())).ok
    stages = [e["stage"] for e in events]
    order = CONTRACT["callbacks"]["stages"]
    assert [order.index(st) for st in stages] == sorted(order.index(st) for st in stages)
    assert set(stages) == set(order)
    training = [e for e in events if e["event"] == "progress" and e["stage"] == "training"]
    assert len(training) >= 5
    assert [e["step"] for e in training] == sorted(e["step"] for e in training)
    assert all(e["totalSteps"] == 48 and math.isfinite(e["loss"]) for e in training)
    assert training[-1]["step"] == 48


def test_refused_deliveries_are_retried_with_the_same_seq_and_body(trained, receiver):
    refused = receiver.refused_for(trained["runId"])
    accepted = {c["json"]["seq"]: c for c in trained["calls"]}
    assert sorted(c["json"]["seq"] for c in refused) == [s for s in accepted if s % 3 == 0]
    for c in refused:
        again = accepted[c["json"]["seq"]]
        assert again["raw"] == c["raw"] and again["at"] > c["at"]
        assert verify(secret=CALLBACK_SECRET, timestamp_header=again["headers"]["X-Twin-Timestamp"],
                      signature_header=again["headers"]["X-Twin-Signature"], body=again["raw"],
                      now_sec=int(time.time())).ok


def test_loss_is_finite_and_falls(trained, store):
    config = store.get_json(f"{trained['req']['outputPrefix']}/training_config.json")
    losses = config["metrics"]["losses"]
    assert len(losses) == 48 and all(math.isfinite(x) for x in losses)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.5 * first, (first, last)
    assert config["hyperparameters"]["learningRate"] == 1e-2
    assert config["hyperparameters"]["maxGradNorm"] == 0.3  # a default from REFERENCE.md
    assert config["runId"] == trained["req"]["runId"]


def test_artifacts_land_at_the_documented_paths_with_their_sizes(trained, store):
    prefix = trained["req"]["outputPrefix"]
    expected = {
        "adapter": (f"{prefix}/adapter.safetensors", None),
        "adapter_config": (f"{prefix}/adapter_config.json", None),
        "config": (f"{prefix}/training_config.json", None),
        "gguf_f16": (f"{prefix}/merged.gguf", "f16"),
        "gguf_q8_0": (f"{prefix}/merged.q8_0.gguf", "q8_0"),
        "gguf_q4_k_m": (f"{prefix}/merged.q4_k_m.gguf", "q4_k_m"),
    }
    files = trained["files"]
    assert {n: (f["key"], f["quantization"]) for n, f in files.items()} == expected
    for f in files.values():
        assert set(f) == {"name", "key", "bytes", "quantization"}
        assert store.head(f["key"])["ContentLength"] == f["bytes"] > 0, f
    assert files["gguf_f16"]["bytes"] > files["gguf_q8_0"]["bytes"] > files["gguf_q4_k_m"]["bytes"]
    metrics = trained["calls"][-1]["json"]["artifacts"]["metrics"]
    assert metrics["steps"] == 48 and metrics["mergeDtype"] == "float32" and metrics["device"] == "cpu"
    example = CONTRACT["callbacks"]["sequences"]["completed run (hyperparameters maxSteps 8, progressEvery 4)"][-1]
    assert set(example["artifacts"]["metrics"]) <= set(metrics)


def test_adapter_merges_into_the_base_model(trained, store, tiny_model, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    prefix = trained["req"]["outputPrefix"]
    adapter_dir = tmp_path / "adapter"
    store.download_file(f"{prefix}/adapter.safetensors", adapter_dir / "adapter_model.safetensors")
    store.download_file(f"{prefix}/adapter_config.json", adapter_dir / "adapter_config.json")
    tensors = load_file(adapter_dir / "adapter_model.safetensors")
    assert any("lora_A" in k for k in tensors) and any("lora_B" in k for k in tensors)
    # "all linear layers": every projection of every block carries an adapter.
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert any(f"{proj}.lora_A" in k for k in tensors), proj
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["r"] == 16

    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        base_logits = base(ids).logits
        peft_model = PeftModel.from_pretrained(base, adapter_dir)
        adapted = peft_model(ids).logits
        merged = peft_model.merge_and_unload()(ids).logits
    assert not torch.allclose(adapted, base_logits, atol=1e-3), "the adapter changed nothing"
    assert torch.allclose(merged, adapted, atol=1e-4)


@pytest.mark.parametrize("variant", ["gguf_f16", "gguf_q8_0", "gguf_q4_k_m"])
def test_gguf_loads_in_llama_cpp_and_generates(trained, store, tmp_path, variant):
    from llama_cpp import Llama

    key = trained["files"][variant]["key"]
    path = tmp_path / "m.gguf"
    store.download_file(key, path)
    llm = Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)
    assert llm.metadata["general.architecture"] == "qwen2"
    assert "<|im_start|>" in llm.metadata["tokenizer.chat_template"]
    out = llm.create_chat_completion(
        messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": TOY_RECORDS[0][0]}],
        max_tokens=16, temperature=0.0,
    )
    assert out["usage"]["completion_tokens"] > 0
    assert out["choices"][0]["message"]["content"]


def test_f16_gguf_recalls_a_memorised_answer(trained, store, tmp_path):
    """Weights, tokenizer and chat template all survived the conversion: the GGUF answers like the trained model."""
    from llama_cpp import Llama

    path = tmp_path / "m.gguf"
    store.download_file(trained["files"]["gguf_f16"]["key"], path)
    llm = Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)
    hits = 0
    for question, answer in TOY_RECORDS:
        out = llm.create_chat_completion(
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}],
            max_tokens=24, temperature=0.0,
        )
        hits += out["choices"][0]["message"]["content"].strip().startswith(answer.split()[0] + " " + answer.split()[1])
    assert hits >= len(TOY_RECORDS) // 2, hits
