"""Loss on the assistant turn only: labels cover the reply and its end-of-turn, nothing else."""

from __future__ import annotations

import pytest

from twin_gpu.dataset import IGNORE_INDEX, DatasetError, encode_conversation, validate_records


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _labelled_text(tokenizer, ex):
    return tokenizer.decode([t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE_INDEX])


def test_only_assistant_turns_are_labelled(tokenizer):
    msgs = [
        {"role": "system", "content": "You are Ada."},
        {"role": "user", "content": "Where do you live?"},
        {"role": "assistant", "content": "In Lisbon."},
        {"role": "user", "content": "What is your job?"},
        {"role": "assistant", "content": "I build robots."},
    ]
    ex = encode_conversation(tokenizer, msgs, 2048)
    assert _labelled_text(tokenizer, ex) == "In Lisbon.<|im_end|>\nI build robots.<|im_end|>\n"
    assert len(ex.input_ids) == len(ex.labels)


def test_truncation_keeps_only_what_fits(tokenizer):
    msgs = [{"role": "user", "content": "hi " * 50}, {"role": "assistant", "content": "hello there"}]
    assert encode_conversation(tokenizer, msgs, 20) is None  # the prompt alone fills the window
    ex = encode_conversation(tokenizer, msgs, 2048)
    assert _labelled_text(tokenizer, ex) == "hello there<|im_end|>\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"messages": []}, "must be a JSON array"),
        ([], "empty"),
        ([{"messages": [{"role": "user", "content": "x"}]}], "record 0: no non-empty assistant"),
        ([{"messages": [{"role": "robot", "content": "x"}]}], "record 0 message 0"),
        ([{"sourceChunkIds": []}], "record 0: 'messages'"),
    ],
)
def test_bad_records_are_named(data, message):
    with pytest.raises(DatasetError, match=message):
        validate_records(data)


def test_extra_keys_are_ignored():
    recs = validate_records([{"messages": [{"role": "assistant", "content": "x", "name": "a"}], "kind": "selfqa"}])
    assert recs == [[{"role": "assistant", "content": "x"}]]
