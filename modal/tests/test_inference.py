"""OpenAI-compatible chat served by llama.cpp, driven by the official `openai` client."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from twin_gpu.tiny_model import SYSTEM_PROMPT, TOY_RECORDS

from conftest import API_TOKEN, AUTH, VECTORS_DIR

QUESTION, ANSWER = TOY_RECORDS[2]
MESSAGES = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}]


@pytest.fixture(scope="module")
def twin_user(store, trained):
    """The user of the shared training run, promoted: lora/latest/manifest.json names its q8_0 GGUF."""
    user_id, run_id = trained["userId"], trained["runId"]
    artifacts = {name: f["key"] for name, f in trained["files"].items()}
    store.put_json(f"tenant/{user_id}/lora/latest/manifest.json", {"runId": run_id, "gguf": artifacts["gguf_q8_0"]})
    return {"userId": user_id, "runId": run_id, "artifacts": artifacts}


def _answers_memorised(text: str) -> bool:
    return text.strip().startswith(" ".join(ANSWER.split()[:2]))


@pytest.fixture
def client(web):
    return openai.OpenAI(base_url=f"{web['url']}/v1", api_key=API_TOKEN, max_retries=0, timeout=120)


def test_streaming_chunks_and_final_usage(client, twin_user):
    stream = client.chat.completions.create(
        model=f"twin:{twin_user['userId']}", messages=MESSAGES, stream=True, temperature=0, max_tokens=24,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 2, "tokens must arrive as separate chunks"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in {"stop", "length"}
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert usage_chunk.usage.completion_tokens > 0 and usage_chunk.usage.prompt_tokens > 10
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1 and chunks[0].model == f"twin:{twin_user['userId']}"
    # The fine-tuned model answers with what it memorised: the request was routed to the user's GGUF.
    assert text.strip().startswith(" ".join(ANSWER.split()[:2])), text


def test_streaming_without_usage_option_sends_no_usage_chunk(client, twin_user):
    chunks = list(client.chat.completions.create(
        model=f"twin:{twin_user['userId']}", messages=MESSAGES, stream=True, temperature=0, max_tokens=8,
    ))
    assert all(c.usage is None and c.choices for c in chunks)


def test_non_streaming_completion(client, twin_user):
    out = client.chat.completions.create(
        model=f"twin:{twin_user['userId']}", messages=MESSAGES, temperature=0, max_tokens=24,
    )
    assert out.object == "chat.completion"
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content.strip().startswith(" ".join(ANSWER.split()[:2]))
    assert out.usage.completion_tokens > 0


def test_user_without_a_model_gets_the_base_model(client, twin_user):
    out = client.chat.completions.create(
        model=f"twin:{uuid.uuid4().hex[:8]}", messages=MESSAGES, temperature=0, max_tokens=12,
    )
    assert out.usage.completion_tokens > 0
    # The untrained base has not learnt the answer: a different model served this user.
    assert not out.choices[0].message.content.strip().startswith(" ".join(ANSWER.split()[:2]))


def test_models_list_and_reload(client, twin_user, web):
    model = f"twin:{twin_user['userId']}"
    client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=2)
    assert model in [m.id for m in client.models.list().data]
    r = httpx.post(f"{web['url']}/models/{twin_user['userId']}/reload", headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json() == {"userId": twin_user["userId"], "dropped": True}
    assert model not in [m.id for m in client.models.list().data]
    again = httpx.post(f"{web['url']}/models/{twin_user['userId']}/reload", headers=AUTH, timeout=10)
    assert again.json()["dropped"] is False


def test_new_manifest_switches_the_served_file(client, twin_user, store, web):
    from twin_gpu.inference import ModelRegistry  # noqa: F401  (documented behaviour: manifest re-read after TTL)

    user_id = twin_user["userId"]
    key = f"tenant/{user_id}/lora/latest/manifest.json"
    try:
        store.put_json(key, {"gguf": f"tenant/{user_id}/lora/missing/merged.gguf"})
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model=f"twin:{user_id}", messages=MESSAGES, max_tokens=2)
        assert err.value.status_code == 503 and "missing" in err.value.message
    finally:
        store.put_json(key, {"gguf": twin_user["artifacts"]["gguf_q8_0"]})


def test_errors_are_openai_shaped(client, web):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    bad = openai.OpenAI(base_url=f"{web['url']}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="twin:1", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="twin:1", messages=[])


def test_a_candidate_is_served_before_promotion_and_the_promoted_model_after_a_reload(client, twin_user, store, web):
    """twin:{u}@{run} is the run's own GGUF under lora/{run}/; twin:{u} stays the base model until
    a manifest is written, and switches at once when the server calls reload; twin:{u}@base stays
    the base model."""
    user_id, run_id = f"u-{uuid.uuid4().hex[:10]}", f"run-{uuid.uuid4().hex[:10]}"
    candidate_key = f"tenant/{user_id}/lora/{run_id}/merged.q8_0.gguf"
    store.s3.copy_object(Bucket=store.bucket, Key=candidate_key,
                         CopySource={"Bucket": store.bucket, "Key": twin_user["artifacts"]["gguf_q8_0"]})

    def ask(model: str) -> str:
        out = client.chat.completions.create(model=model, messages=MESSAGES, temperature=0, max_tokens=24)
        return out.choices[0].message.content

    assert _answers_memorised(ask(f"twin:{user_id}@{run_id}"))
    assert not _answers_memorised(ask(f"twin:{user_id}"))  # not promoted: the base model
    loaded = {m.id for m in client.models.list().data}
    assert {f"twin:{user_id}", f"twin:{user_id}@{run_id}"} <= loaded

    latest = f"tenant/{user_id}/lora/latest/merged.q8_0.gguf"
    store.s3.copy_object(Bucket=store.bucket, Key=latest, CopySource={"Bucket": store.bucket, "Key": candidate_key})
    store.put_json(f"tenant/{user_id}/lora/latest/manifest.json", {"runId": run_id, "gguf": latest})
    r = httpx.post(f"{web['url']}/models/{user_id}/reload", headers=AUTH, timeout=10)
    assert r.json() == {"userId": user_id, "dropped": True}
    assert not {f"twin:{user_id}", f"twin:{user_id}@{run_id}"} & {m.id for m in client.models.list().data}
    assert _answers_memorised(ask(f"twin:{user_id}"))
    assert not _answers_memorised(ask(f"twin:{user_id}@base"))  # the base model, even after a promotion


def test_model_names_of_the_contract(client):
    import json

    contract = json.loads((VECTORS_DIR / "train-api.vectors.json").read_text())["models"]
    from twin_gpu.inference import ModelNotFound, parse_model

    for v in contract["valid"]:
        assert parse_model(v["model"]) == (v["userId"], v["runId"])
    for v in contract["invalid"]:
        with pytest.raises(openai.NotFoundError) as err:
            client.chat.completions.create(model=v["model"], messages=MESSAGES, max_tokens=2)
        assert err.value.status_code == v["status"] and err.value.code == v["code"], v
        if "no-such-run" not in v["model"]:
            with pytest.raises(ModelNotFound):
                parse_model(v["model"])


def test_a_prompt_longer_than_the_context_is_a_400_before_any_stream(client, twin_user):
    long = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "river " * 3000}]
    for stream in (True, False):
        with pytest.raises(openai.BadRequestError) as err:
            out = client.chat.completions.create(model=f"twin:{twin_user['userId']}", messages=long, stream=stream,
                                                 max_tokens=4)
            if stream:
                list(out)
        assert err.value.code == "context_length_exceeded" and "context window is 2048" in err.value.message
