"""llama.cpp inference: `twin:{userId}` → that user's promoted GGUF (or the base model's),
`twin:{userId}@{runId}` → a run's candidate GGUF before any promotion, `twin:{userId}@base` → the
base model even once one is promoted (the evaluation's "no worse than base"); an LRU of loaded models."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .s3 import Store
from .settings import Settings, get_settings

log = logging.getLogger("twin_gpu.inference")

MODEL_PREFIX = "twin:"
BASE_ID = "base"
# Preferred order when a manifest lists several variants rather than naming one.
_VARIANT_ORDER = ("gguf_q8_0", "gguf_q4_k_m", "gguf_f16")


class ModelNotFound(LookupError):
    pass


class ModelUnavailable(RuntimeError):
    pass


_ID = r"[A-Za-z0-9_.-]{1,128}"
_MODEL_RE = re.compile(rf"^twin:(?P<user>{_ID})(?:@(?P<run>{_ID}))?$")
# A run's GGUFs in the order a candidate is served from (the one promotion copies first).
CANDIDATE_FILES = ("merged.q8_0.gguf", "merged.q4_k_m.gguf", "merged.gguf")


def parse_model(model: str) -> tuple[str, str | None]:
    """`twin:{userId}` → (userId, None); `twin:{userId}@{runId}` → (userId, runId)."""
    m = _MODEL_RE.match(model)
    if not m:
        raise ModelNotFound(f"model must be 'twin:{{userId}}' or 'twin:{{userId}}@{{runId}}', got {model!r}")
    return m["user"], m["run"]


def user_of(model: str) -> str:
    return parse_model(model)[0]


def model_key(user_id: str, run_id: str | None) -> str:
    return f"{user_id}@{run_id}" if run_id else user_id


def gguf_key_from_manifest(manifest: dict[str, Any]) -> str | None:
    for name in ("gguf", "ggufKey", "ggufPath"):
        if isinstance(manifest.get(name), str) and manifest[name]:
            return manifest[name]
    artifacts = manifest.get("artifacts")
    if isinstance(artifacts, dict) and isinstance(artifacts.get("files"), list):
        # the completed callback's {"files": [{name, key, bytes, quantization}], ...}
        artifacts = {f.get("name"): f.get("key") for f in artifacts["files"] if isinstance(f, dict)}
    if isinstance(artifacts, dict):
        for name in _VARIANT_ORDER:
            if isinstance(artifacts.get(name), str):
                return artifacts[name]
    return None


@dataclass
class Loaded:
    source: str  # S3 key of the GGUF, or "base"
    path: Path
    llm: Any
    checked_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelRegistry:
    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self._store = store
        self._models: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings)
        return self._store

    def reload(self, user_id: str) -> bool:
        """Drops the user's loaded model and candidates; the next request resolves them anew."""
        with self._lock:
            keys = [k for k in self._models if k == user_id or k.startswith(f"{user_id}@")]
            for k in keys:
                del self._models[k]
            return bool(keys)

    def loaded_users(self) -> list[str]:
        """Keys of the loaded models: `userId`, or `userId@runId` for a candidate."""
        with self._lock:
            return list(self._models)

    def warm_up(self) -> Path:
        """Builds (or finds) the base model's GGUF, the one every untrained user is served: done when
        a container starts, so no chat request pays for a conversion."""
        return self.base_gguf()

    def _resolve_candidate(self, user_id: str, run_id: str) -> str:
        prefix = f"tenant/{user_id}/lora/{run_id}"
        for name in CANDIDATE_FILES:
            if self.store.head(f"{prefix}/{name}") is not None:
                return f"{prefix}/{name}"
        raise ModelNotFound(f"run {run_id} of user {user_id} has no GGUF under {prefix}/")

    def _resolve(self, user_id: str, run_id: str | None = None) -> str:
        """The GGUF key named by tenant/{userId}/lora/latest/manifest.json, or BASE_ID if there is none;
        BASE_ID for `@base` (run ids are UUIDs: no run is called "base")."""
        if run_id == BASE_ID:
            return BASE_ID
        if run_id:
            return self._resolve_candidate(user_id, run_id)
        key = f"tenant/{user_id}/lora/latest/manifest.json"
        try:
            manifest = self.store.get_json(key)
        except self.store.s3.exceptions.NoSuchKey:
            return BASE_ID
        except self.store.s3.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return BASE_ID
            raise
        gguf = gguf_key_from_manifest(manifest) if isinstance(manifest, dict) else None
        if not gguf:
            raise ModelUnavailable(f"{key} names no GGUF file")
        return gguf

    def _local_path(self, source: str) -> Path:
        if source == BASE_ID:
            return self.base_gguf()
        head = self.store.head(source)
        if head is None:
            raise ModelUnavailable(f"GGUF {source} named by the manifest is missing from the bucket")
        # ETag in the name: a re-uploaded object under the same key is a different file.
        digest = hashlib.sha256(f"{source}|{head.get('ETag', '')}".encode()).hexdigest()[:24]
        path = self.settings.model_cache_dir / "gguf" / f"{digest}-{Path(source).name}"
        if not path.is_file():
            log.info("downloading %s", source)
            self.store.download_file(source, path)
        return path

    def base_gguf(self) -> Path:
        if self.settings.base_gguf:
            if not self.settings.base_gguf.is_file():
                raise ModelUnavailable(f"TWIN_BASE_GGUF={self.settings.base_gguf} does not exist")
            return self.settings.base_gguf
        from .base_model import ensure_base_gguf

        return ensure_base_gguf(self.settings.base_model)

    def get(self, user_id: str, run_id: str | None = None) -> Loaded:
        key = model_key(user_id, run_id)
        now = time.monotonic()
        with self._lock:
            cached = self._models.get(key)
            if cached and now - cached.checked_at < self.settings.manifest_ttl_s:
                self._models.move_to_end(key)
                return cached
        source = self._resolve(user_id, run_id)
        # The path holds the object's ETag: a promotion copies a new file under the same key
        # (lora/latest/…), and a container the reload did not reach must still switch to it.
        path = self._local_path(source)
        with self._lock:
            cached = self._models.get(key)
            if cached and cached.source == source and cached.path == path:
                cached.checked_at = now
                self._models.move_to_end(key)
                return cached
        llm = self._open(path)
        entry = Loaded(source=source, path=path, llm=llm, checked_at=now)
        with self._lock:
            self._models[key] = entry
            self._models.move_to_end(key)
            while len(self._models) > self.settings.max_loaded_models:
                evicted, _ = self._models.popitem(last=False)
                log.info("evicted model of user %s", evicted)
        return entry

    def _open(self, path: Path) -> Any:
        from llama_cpp import Llama

        return Llama(
            model_path=str(path),
            n_ctx=self.settings.n_ctx,
            n_threads=self.settings.n_threads,
            n_gpu_layers=-1,  # all layers on the GPU when llama.cpp was built with one; ignored on CPU
            verbose=False,
        )


@dataclass
class ChatParams:
    messages: list[dict[str, str]]
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


def _prompt(llm: Any, messages: list[dict[str, str]]) -> tuple[str, list[str]]:
    """Renders with the chat template stored in the GGUF, the one the model was trained with."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelUnavailable("the GGUF has no tokenizer.chat_template")
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore")
    bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore") if llm.token_bos() >= 0 else ""
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    result = formatter(messages=messages)
    stop = result.stop if isinstance(result.stop, list) else [result.stop]
    # An empty stop string would end every completion at once.
    return result.prompt, [s for s in stop if s]


class ContextTooLong(ValueError):
    """The prompt alone fills the model's context window (OpenAI's context_length_exceeded)."""


def check_fits(entry: Loaded, params: ChatParams) -> int:
    """The prompt's token count; ContextTooLong when it leaves no room for a reply. Called before a
    stream starts, so the client gets a 400 instead of a stream that breaks after its 200."""
    llm = entry.llm
    with entry.lock:
        prompt, _stop = _prompt(llm, params.messages)
        n = len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
        n_ctx = int(llm.n_ctx())
    if n >= n_ctx:
        raise ContextTooLong(
            f"the prompt is {n} tokens and this model's context window is {n_ctx} (TWIN_N_CTX): "
            "send fewer or shorter messages"
        )
    return n


def generate(entry: Loaded, params: ChatParams) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Yields (text delta, None) per token and finally ("", {finish_reason, usage})."""
    llm = entry.llm
    with entry.lock:  # a llama.cpp context serves one sequence at a time
        prompt, template_stop = _prompt(llm, params.messages)
        prompt_tokens = len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
        stream = llm.create_completion(
            prompt=prompt,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=[*template_stop, *(s for s in params.stop if s)],
            seed=params.seed,
            stream=True,
        )
        text = ""
        finish = "stop"
        for chunk in stream:
            choice = chunk["choices"][0]
            delta = choice.get("text") or ""
            if delta:
                text += delta
                yield delta, None
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        # Streamed chunks are not one per token (multi-byte characters are held back): count by tokenizing.
        completion_tokens = len(llm.tokenize(text.encode(), add_bos=False, special=True)) if text else 0
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    yield "", {"finish_reason": finish, "usage": usage}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"
