"""The Modal app `digital-twin`: the web endpoint (spawn training, OpenAI-compatible chat) and the
GPU training function. Deploy with `cd modal && modal deploy -m twin_gpu.modal_app`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import modal

APP_NAME = "digital-twin"
REGION = "us-west-1"  # next to the Wasabi bucket (us-west-1): model and dataset bytes stay in-region
SECRET_NAME = os.environ.get("TWIN_MODAL_SECRET", "digital-twin")
VOLUME_NAME = os.environ.get("TWIN_MODAL_VOLUME", "digital-twin-models")
CACHE_MOUNT = "/cache"
TRAIN_GPU = os.environ.get("TWIN_TRAIN_GPU", "L4")
INFERENCE_GPU = os.environ.get("TWIN_INFERENCE_GPU", "L4")
TRAIN_TIMEOUT_S = 3 * 60 * 60
WEB_TIMEOUT_S = 10 * 60
LLAMA_CPP_VERSION = "0.3.36"
CONVERT_DIR = "/opt/llama.cpp-convert"

_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _pinned_dependencies() -> list[str]:
    """The image installs exactly the pins of pyproject.toml, so Modal and local runs share versions."""
    import tomllib

    if not _PYPROJECT.is_file():  # inside a Modal container the image is already built
        return []
    deps = tomllib.loads(_PYPROJECT.read_text())["project"]["dependencies"]
    return [d for d in deps if not d.startswith("llama-cpp-python")]


image = (
    # A CUDA devel image so llama-cpp-python compiles its CUDA backend for GPU inference.
    modal.Image.from_registry("nvidia/cuda:12.6.3-devel-ubuntu22.04", add_python="3.11")
    .apt_install("build-essential", "cmake", "git")
    .pip_install(*_pinned_dependencies())
    .env({"CMAKE_ARGS": "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=89;90", "FORCE_CMAKE": "1"})
    .pip_install(f"llama-cpp-python=={LLAMA_CPP_VERSION}")
    .env({
        "HF_HOME": f"{CACHE_MOUNT}/hf",
        "TWIN_CACHE_DIR": "/tmp/twin",
        "TWIN_MODEL_CACHE_DIR": f"{CACHE_MOUNT}/models",
        "TWIN_LLAMA_CONVERT_DIR": CONVERT_DIR,
        "TOKENIZERS_PARALLELISM": "false",
    })
    .add_local_python_source("twin_gpu", copy=True)
    .run_commands(f"python -m twin_gpu.fetch_converter {CONVERT_DIR} {LLAMA_CPP_VERSION}")
)

app = modal.App(APP_NAME, image=image)
volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
secret = modal.Secret.from_name(SECRET_NAME)


@app.function(
    gpu=TRAIN_GPU,
    timeout=TRAIN_TIMEOUT_S,
    retries=0,  # the server owns retries (attempt counter, backoff, watchdog)
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
)
def train(payload: dict[str, Any]) -> dict[str, Any]:
    from twin_gpu.contract import TrainRequest
    from twin_gpu.train import run_training

    try:
        result = run_training(TrainRequest.model_validate(payload), work_root=Path("/tmp/runs"))
    finally:
        volume.commit()  # keep the base model snapshot downloaded into HF_HOME for the next run
    return {"artifacts": result["artifacts"]}


@app.function(
    gpu=INFERENCE_GPU,
    timeout=TRAIN_TIMEOUT_S,
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
)
def prepare_base_model() -> str:
    """Builds the base model's GGUF into the Volume ahead of the first chat (`modal run`)."""
    from twin_gpu.base_model import ensure_base_gguf
    from twin_gpu.settings import get_settings

    path = ensure_base_gguf(get_settings().base_model)
    volume.commit()
    return str(path)


class ModalSpawner:
    def spawn(self, payload: dict[str, Any]) -> str:
        return train.spawn(payload).object_id

    def status(self, call_id: str) -> dict[str, Any]:
        call = modal.FunctionCall.from_id(call_id)
        try:
            call.get(timeout=0)
        except TimeoutError:
            return {"status": "running"}
        except Exception as e:  # the function raised: the failed callback already carries the reason
            return {"status": "failed", "error": type(e).__name__}
        return {"status": "succeeded"}


@app.function(
    gpu=INFERENCE_GPU,
    timeout=WEB_TIMEOUT_S,
    scaledown_window=300,
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
)
@modal.concurrent(max_inputs=8)
@modal.asgi_app(label=APP_NAME)
def web() -> Any:
    from twin_gpu.web import create_app

    return create_app(ModalSpawner())
