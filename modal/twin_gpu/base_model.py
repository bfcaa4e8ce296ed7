"""The base model's GGUF, served to users who have no fine-tuned model yet. Built once and cached."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from .gguf_export import convert_to_f16, quantize
from .settings import get_settings

log = logging.getLogger("twin_gpu.base_model")
_build_lock = threading.Lock()


def model_dir(base_model: str) -> Path:
    """A local checkout of the base model: the path itself, or a Hugging Face snapshot in HF_HOME
    (a Modal Volume in production, so the download happens once)."""
    local = Path(base_model)
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(base_model, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.jinja"]))


def ensure_base_gguf(base_model: str, quant: str = "q8_0") -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "--", base_model.strip("/"))[-120:]
    out_dir = get_settings().model_cache_dir / "base" / slug
    target = out_dir / f"model.{quant}.gguf"
    if target.is_file():
        return target
    with _build_lock:
        if target.is_file():
            return target
        log.info("building base GGUF for %s", base_model)
        out_dir.mkdir(parents=True, exist_ok=True)
        f16 = convert_to_f16(model_dir(base_model), out_dir / "model.f16.gguf")
        tmp = out_dir / f".model.{quant}.gguf.part"
        quantize(f16, tmp, quant)
        tmp.rename(target)  # atomic: a concurrent reader never sees half a file
        f16.unlink(missing_ok=True)
    return target
