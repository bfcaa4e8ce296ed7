"""Environment settings, read once per process. Every variable is documented in modal/README.md."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    s3_endpoint: str | None
    s3_region: str
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    s3_bucket: str
    s3_force_path_style: bool
    callback_secret: str
    api_token: str | None
    base_model: str
    cache_dir: Path
    model_cache_dir: Path
    max_loaded_models: int
    manifest_ttl_s: float
    n_ctx: int
    n_threads: int | None
    base_gguf: Path | None
    convert_dir: Path | None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ.get
    cache_dir = Path(env("TWIN_CACHE_DIR") or Path.home() / ".cache" / "digital-twin")
    threads = env("TWIN_N_THREADS")
    return Settings(
        s3_endpoint=env("S3_ENDPOINT") or None,
        s3_region=env("S3_REGION") or "us-west-1",
        s3_access_key_id=env("S3_ACCESS_KEY_ID") or None,
        s3_secret_access_key=env("S3_SECRET_ACCESS_KEY") or None,
        s3_bucket=env("S3_BUCKET") or "digital-twin",
        # Local S3 servers (MinIO, s3rver) want path-style; default to it whenever an endpoint is set.
        s3_force_path_style=_flag("S3_FORCE_PATH_STYLE", default=bool(env("S3_ENDPOINT"))),
        callback_secret=env("TWIN_CALLBACK_SECRET") or "",
        api_token=env("TWIN_API_TOKEN") or None,
        base_model=env("TWIN_BASE_MODEL") or DEFAULT_BASE_MODEL,
        cache_dir=cache_dir,
        model_cache_dir=Path(env("TWIN_MODEL_CACHE_DIR") or cache_dir / "models"),
        max_loaded_models=int(env("TWIN_MAX_LOADED_MODELS") or 4),
        manifest_ttl_s=float(env("TWIN_MANIFEST_TTL_S") or 30),
        n_ctx=int(env("TWIN_N_CTX") or 2048),
        n_threads=int(threads) if threads else None,
        base_gguf=Path(base_gguf) if (base_gguf := env("TWIN_BASE_GGUF")) else None,
        convert_dir=Path(convert) if (convert := env("TWIN_LLAMA_CONVERT_DIR")) else None,
    )
