"""Shared fixtures: the real local S3 server (from S3_* env), a tiny model, a callback receiver and
the local web app under uvicorn, all on loopback."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

API_TOKEN = "test-api-token"
CALLBACK_SECRET = "test-callback-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("twin")


@pytest.fixture(scope="session", autouse=True)
def twin_env(workdir: Path):
    if not os.environ.get("S3_ENDPOINT"):
        pytest.exit("S3_ENDPOINT is not set: the tests need the project's local S3 server (see modal/README.md)", 2)
    os.environ.setdefault("S3_BUCKET", "digital-twin-test")
    os.environ.update({
        "TWIN_API_TOKEN": API_TOKEN,
        "TWIN_CALLBACK_SECRET": CALLBACK_SECRET,
        "TWIN_CACHE_DIR": str(workdir / "cache"),
        "TWIN_MANIFEST_TTL_S": "0",
        "TWIN_N_THREADS": "2",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    })
    from twin_gpu.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def store(twin_env):
    from twin_gpu.s3 import Store

    s = Store()
    s.ensure_bucket()
    return s


@pytest.fixture(scope="session")
def tiny_model(workdir: Path) -> Path:
    from twin_gpu.settings import get_settings
    from twin_gpu.tiny_model import build_tiny_model

    path = build_tiny_model(workdir / "tiny-qwen2")
    os.environ["TWIN_BASE_MODEL"] = str(path)
    get_settings.cache_clear()
    return path


class Receiver:
    """A callback endpoint: records every POST with its raw bytes and headers."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    receiver.calls.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                                           "json": json.loads(raw)})
                    receiver.cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, run_id: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/{run_id}"

    def for_run(self, run_id: str) -> list[dict]:
        with self.cond:
            return [c for c in self.calls if c["json"]["runId"] == run_id]

    def wait_final(self, run_id: str, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                calls = [c for c in self.calls if c["json"]["runId"] == run_id]
                if any(c["json"]["event"] in {"completed", "failed"} for c in calls):
                    return calls
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no final callback for {run_id}; got {[c['json'] for c in calls]}")
                self.cond.wait(left)


@pytest.fixture(scope="session")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="session")
def web(twin_env, tiny_model, workdir: Path):
    """The local web app (LocalSpawner → training subprocesses) under uvicorn on a free port."""
    import uvicorn

    from twin_gpu.local import LocalSpawner
    from twin_gpu.web import create_app

    spawner = LocalSpawner(workdir / "calls")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(spawner), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "spawner": spawner}
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def new_ids():
    """Each test gets its own tenant and run id, so tests never see each other's objects."""
    return lambda: (f"u-{uuid.uuid4().hex[:10]}", f"run-{uuid.uuid4().hex[:10]}")


def _train_request(user_id: str, run_id: str, callback_url: str, **overrides) -> dict:
    base = f"tenant/{user_id}"
    req = {
        "runId": run_id,
        "userId": user_id,
        "attempt": 1,
        "baseModel": os.environ["TWIN_BASE_MODEL"],
        "datasetPath": f"{base}/training_data/L2/{run_id}/training_inputs/dataset.json",
        "outputPrefix": f"{base}/lora/{run_id}",
        # Far more aggressive than production so a random tiny model memorises 8 answers in a few dozen steps.
        "hyperparameters": {"learningRate": 1e-2, "maxSteps": 48, "loraR": 16, "loraAlpha": 32,
                            "loraDropout": 0.0, "progressEvery": 4, "warmupRatio": 0.05},
        "quantizations": ["q8_0", "q4_k_m"],
        "callbackUrl": callback_url,
    }
    req.update(overrides)
    return req


@pytest.fixture
def make_train_request():
    return _train_request
