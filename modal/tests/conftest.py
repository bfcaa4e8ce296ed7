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
        # retried callbacks back off 0.1, 0.2, 0.4 … s here instead of 1, 2, 4 … s
        "TWIN_CALLBACK_BACKOFF_S": "0.1",
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
    """A callback endpoint: records every accepted POST with its raw bytes and headers.

    `behave(run_id, seq, try_no)` → `(status, delay_s)` can make a run's deliveries slow or failing
    (a 5xx is recorded in `refused`, not `calls`); by default every POST is accepted at once."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.refused: list[dict] = []
        self.behaviours: dict[str, object] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                call = {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": body,
                        "at": time.monotonic()}
                with receiver.cond:
                    tries = 1 + sum(1 for c in receiver.refused
                                    if c["json"]["runId"] == body["runId"] and c["json"]["seq"] == body["seq"])
                    behave = receiver.behaviours.get(body["runId"])
                status, delay = behave(body["runId"], body["seq"], tries) if behave else (204, 0.0)
                if delay:
                    time.sleep(delay)
                with receiver.cond:
                    (receiver.calls if status < 300 else receiver.refused).append(call)
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
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

    def refused_for(self, run_id: str) -> list[dict]:
        with self.cond:
            return [c for c in self.refused if c["json"]["runId"] == run_id]

    def wait_for(self, run_id: str, pred, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                calls = [c for c in self.calls if c["json"]["runId"] == run_id]
                if pred(calls):
                    return calls
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"callbacks of {run_id} not as awaited; got {[c['json'] for c in calls]}")
                self.cond.wait(left)

    def wait_final(self, run_id: str, timeout: float) -> list[dict]:
        return self.wait_for(run_id, lambda calls: any(c["json"]["event"] in {"completed", "failed"} for c in calls),
                             timeout)


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
def make_train_request(tiny_model):
    return _train_request


AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
VECTORS_DIR = Path(__file__).resolve().parents[2] / "contracts"


def _flaky(_run_id: str, seq: int, tries: int) -> tuple[int, float]:
    """Every third event's first delivery fails with a 503; every delivery takes 50 ms."""
    return (503 if seq % 3 == 0 and tries == 1 else 204), 0.05


@pytest.fixture(scope="session")
def trained(web, store, receiver):
    """One real run through the local trainer: POST /train → subprocess → LoRA on the tiny Qwen2 →
    GGUF → S3, its callbacks through a flaky receiver. Shared by the pipeline and inference tests."""
    import httpx

    from twin_gpu.tiny_model import toy_dataset

    user_id, run_id = f"u-{uuid.uuid4().hex[:10]}", f"run-{uuid.uuid4().hex[:10]}"
    req = _train_request(user_id, run_id, receiver.url(run_id))
    store.put_json(req["datasetPath"], toy_dataset())
    receiver.behaviours[run_id] = _flaky
    started = time.monotonic()
    r = httpx.post(f"{web['url']}/train", json=req, headers=AUTH, timeout=10)
    answered_in = time.monotonic() - started
    assert r.status_code == 202, r.text
    call_id = r.json()["callId"]
    running = httpx.get(f"{web['url']}/train/{call_id}", headers=AUTH, timeout=10).json()
    calls = receiver.wait_final(run_id, timeout=600)
    exit_code = web["spawner"].wait(call_id, timeout=120)
    log = web["spawner"].run_dir / f"{call_id}.log"
    final = calls[-1]["json"]
    files = {f["name"]: f for f in (final.get("artifacts") or {}).get("files", [])}
    return {"req": req, "calls": calls, "exit_code": exit_code, "call_id": call_id, "answered_in": answered_in,
            "status_while_running": running, "files": files, "userId": user_id, "runId": run_id,
            "log": log.read_text() if log.exists() else ""}
