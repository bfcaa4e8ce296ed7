"""dataset.json (chat records) → token ids with labels on the assistant turns only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100
_ROLES = {"system", "user", "assistant"}


class DatasetError(ValueError):
    """A dataset the trainer cannot use; the message is shown to the user as is."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


def validate_records(data: Any) -> list[list[dict[str, str]]]:
    if not isinstance(data, list):
        raise DatasetError(f"dataset.json must be a JSON array of records, got {type(data).__name__}")
    if not data:
        raise DatasetError("dataset.json is empty: no training records")
    out: list[list[dict[str, str]]] = []
    for i, rec in enumerate(data):
        msgs = rec.get("messages") if isinstance(rec, dict) else None
        if not isinstance(msgs, list) or not msgs:
            raise DatasetError(f"dataset.json record {i}: 'messages' must be a non-empty array")
        clean = []
        for j, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise DatasetError(
                    f"dataset.json record {i} message {j}: needs role in {sorted(_ROLES)} and string content"
                )
            clean.append({"role": m["role"], "content": m["content"]})
        if not any(m["role"] == "assistant" and m["content"].strip() for m in clean):
            raise DatasetError(f"dataset.json record {i}: no non-empty assistant message to learn from")
        out.append(clean)
    return out


def _render(tokenizer: Any, messages: list[dict[str, str]], *, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_conversation(tokenizer: Any, messages: list[dict[str, str]], max_len: int) -> Example | None:
    """Labels cover each assistant reply and its end-of-turn token; everything else is masked.

    Spans come from rendering growing prefixes of the conversation, so this works for any chat template
    whose renderings of a prefix are prefixes of the whole (ChatML and Qwen's are).
    """
    full = _render(tokenizer, messages, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:i], add_generation_prompt=True)) if i else 0
        end = len(_render(tokenizer, messages[: i + 1], add_generation_prompt=False))
        if full[:end] != _render(tokenizer, messages[: i + 1], add_generation_prompt=False):
            raise DatasetError("the chat template does not render conversations prefix-consistently")
        spans.append((start, end))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"][:max_len]
    offsets = enc["offset_mapping"][:max_len]
    labels = [
        tok if any(s <= a < e for s, e in spans) else IGNORE_INDEX for tok, (a, _b) in zip(ids, offsets, strict=True)
    ]
    if all(label == IGNORE_INDEX for label in labels):
        return None  # the prompt alone fills max_len: nothing to learn from this record
    return Example(ids, labels)


def encode_dataset(tokenizer: Any, records: list[list[dict[str, str]]], max_len: int) -> list[Example]:
    examples = [ex for ex in (encode_conversation(tokenizer, r, max_len) for r in records) if ex]
    if not examples:
        raise DatasetError(f"no record has an assistant reply within the first {max_len} tokens")
    return examples
