"""The Modal app `digital-twin`: `web` (training routes, no GPU), `train` (the GPU function it
spawns), `Inference` (OpenAI-compatible chat on llama.cpp, GPU, base GGUF built at warm-up) and
`prepare_base_model`. Deploy with `cd modal && modal deploy -m twin_gpu.modal_app`.
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


# llama.cpp's CUDA backend is compiled for these: A100 (8.0), A10/A40/RTX 30xx (8.6), L4/L40S (8.9),
# H100/H200 (9.0). torch's own wheel carries kernels for all of them.
CUDA_ARCHITECTURES = "80;86;89;90"
# The CUDA toolkit llama.cpp is compiled with: the same major.minor as the CUDA runtime the pinned
# torch wheel ships (nvidia-cuda-runtime in requirements.lock; tests/test_modal_app.py checks).
CUDA_VERSION = "13.2"
CUDA_IMAGE = "nvidia/cuda:13.2.2-devel-ubuntu22.04"


def _pinned(*names: str) -> list[str]:
    return [d for d in _pinned_dependencies() if d.split("==")[0] in names]


gpu_image = (
    # A CUDA devel image so llama-cpp-python compiles its CUDA backend for GPU inference.
    modal.Image.from_registry(CUDA_IMAGE, add_python="3.11")
    .apt_install("build-essential", "cmake", "git")
    .pip_install(*_pinned_dependencies())
    .env({"CMAKE_ARGS": f"-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES={CUDA_ARCHITECTURES}", "FORCE_CMAKE": "1"})
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
image = gpu_image  # the name earlier deploys used

# The training routes only spawn, poll and cancel calls: no GPU, no torch, a small image that starts fast.
web_image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(*_pinned("fastapi", "uvicorn", "boto3", "httpx"))
    .env({"TWIN_CACHE_DIR": "/tmp/twin"})
    .add_local_python_source("twin_gpu", copy=True)
)

app = modal.App(APP_NAME, image=gpu_image)
volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
secret = modal.Secret.from_name(SECRET_NAME)
# callId of each (runId, attempt), and the calls cancelled: shared by every web container.
calls = modal.Dict.from_name(f"{APP_NAME}-calls", create_if_missing=True)


@app.function(
    gpu=TRAIN_GPU,
    timeout=TRAIN_TIMEOUT_S,
    retries=0,  # the server owns retries (attempt counter, backoff, watchdog)
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
    env={"TWIN_REQUIRE_GPU": "1"},
)
def train(payload: dict[str, Any]) -> dict[str, Any]:
    from twin_gpu.contract import TrainRequest
    from twin_gpu.train import run_training

    try:
        result = run_training(TrainRequest.model_validate(payload), work_root=Path("/tmp/runs"), require_gpu=True)
    finally:
        volume.commit()  # keep the base model snapshot downloaded into HF_HOME for the next run
    return {"artifacts": result["artifacts"]}


@app.function(
    timeout=TRAIN_TIMEOUT_S,
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
)
def prepare_base_model() -> str:
    """Builds the base model's GGUF into the Volume ahead of the first chat (`modal run`); the
    conversion needs no GPU. The inference containers also do it at warm-up when it is missing."""
    from twin_gpu.base_model import ensure_base_gguf
    from twin_gpu.settings import get_settings

    path = ensure_base_gguf(get_settings().base_model)
    volume.commit()
    return str(path)


class ModalSpawner:
    def spawn(self, payload: dict[str, Any]) -> str:
        key = f"run:{payload['runId']}:{payload.get('attempt') or 1}"
        known = calls.get(key)
        if known:
            return str(known)
        call = train.spawn(payload)
        if not calls.put(key, call.object_id, skip_if_exists=True):
            call.cancel()  # a concurrent submit of the same attempt won the race: keep one run
            return str(calls.get(key))
        return str(call.object_id)

    def status(self, call_id: str) -> dict[str, Any]:
        from modal.exception import FunctionTimeoutError, NotFoundError, OutputExpiredError

        if calls.get(f"cancelled:{call_id}"):
            return {"status": "cancelled", "error": None}
        try:
            modal.FunctionCall.from_id(call_id).get(timeout=0)
        except (NotFoundError, OutputExpiredError):
            return {"status": "unknown", "error": None}
        except FunctionTimeoutError:
            return {"status": "failed", "error": f"the training function ran past its {TRAIN_TIMEOUT_S} s timeout"}
        except TimeoutError:
            return {"status": "running", "error": None}
        except Exception as e:  # the function raised: the failed callback already carries the reason
            return {"status": "failed", "error": f"{type(e).__name__}: {e}"[:500]}
        return {"status": "completed", "error": None}

    def cancel(self, call_id: str) -> dict[str, Any]:
        state = self.status(call_id)["status"]
        if state != "running":
            return {"cancelled": False, "status": state}
        calls.put(f"cancelled:{call_id}", True)
        modal.FunctionCall.from_id(call_id).cancel(terminate_containers=True)
        return {"cancelled": True, "status": "cancelled"}


@app.function(
    image=web_image,
    timeout=WEB_TIMEOUT_S,
    scaledown_window=300,
    secrets=[secret],
    region=REGION,
)
@modal.concurrent(max_inputs=32)
@modal.asgi_app(label=APP_NAME)
def web() -> Any:
    """POST /train, GET /train/{callId}, POST /train/{callId}/cancel — no GPU."""
    from twin_gpu.web import create_app

    return create_app(ModalSpawner(), inference=False)


@app.cls(
    gpu=INFERENCE_GPU,
    timeout=WEB_TIMEOUT_S,
    scaledown_window=300,
    volumes={CACHE_MOUNT: volume},
    secrets=[secret],
    region=REGION,
)
@modal.concurrent(max_inputs=8)
class Inference:
    """OpenAI-compatible chat on llama.cpp (CUDA), `POST /models/{userId}/reload`."""

    @modal.enter()
    def warm_up(self) -> None:
        # The base model's GGUF (what untrained users are served) is found in the Volume or built
        # now, when the container starts: never inside a chat request.
        from twin_gpu.inference import ModelRegistry

        self.registry = ModelRegistry()
        self.registry.warm_up()
        volume.commit()

    @modal.asgi_app(label=f"{APP_NAME}-inference")
    def api(self) -> Any:
        from twin_gpu.web import create_app

        return create_app(None, self.registry)
