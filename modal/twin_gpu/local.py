"""Local mode: the training and inference routes of the Modal app under one uvicorn on CPU, each
training call in its own OS process (its own process group, so a cancel also stops the GGUF
converter it may have started).

`python -m twin_gpu.local` (host and port from TWIN_HOST/TWIN_PORT; `bash modal/scripts/local-trainer.sh`
sets the rest). With TWIN_LOCAL_TINY=1 the base model is the tiny random Qwen2 of tiny_model.py,
built once into the cache at start-up, and every run trains it whatever `baseModel` it names: no
Hugging Face download here, and a run takes seconds, not hours.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import get_settings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
CANCEL_GRACE_S = 5.0

log = logging.getLogger("twin_gpu.local")


@dataclass
class _Call:
    proc: subprocess.Popen[bytes]
    run_key: tuple[str, int]
    cancelled: bool = False


class LocalSpawner:
    """Runs `python -m twin_gpu.train_cli` detached from the request, like Modal's `spawn`."""

    def __init__(self, run_dir: Path | None = None, *, base_model: str | None = None) -> None:
        self.run_dir = run_dir or get_settings().cache_dir / "local-calls"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.base_model = base_model  # replaces every request's baseModel (tiny mode)
        self._calls: dict[str, _Call] = {}
        self._by_run: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def spawn(self, payload: dict[str, Any]) -> str:
        run_key = (str(payload["runId"]), int(payload.get("attempt") or 1))
        with self._lock:
            known = self._by_run.get(run_key)
            if known is not None:
                return known  # a retried submit of the same attempt starts nothing new
            call_id = f"lc-{uuid.uuid4().hex}"
            if self.base_model:
                payload = {**payload, "baseModel": self.base_model}
            request_file = self.run_dir / f"{call_id}.json"
            request_file.write_text(json.dumps(payload))
            pythonpath = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
            env = {**os.environ, "PYTHONPATH": pythonpath, "TWIN_REQUIRE_GPU": "0"}
            with open(self.run_dir / f"{call_id}.log", "wb") as log_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "twin_gpu.train_cli", str(request_file)],
                    stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True,
                )
            self._calls[call_id] = _Call(proc, run_key)
            self._by_run[run_key] = call_id
        return call_id

    def status(self, call_id: str) -> dict[str, Any]:
        with self._lock:
            call = self._calls.get(call_id)
        if call is None:
            return {"status": "unknown", "error": None}
        code = call.proc.poll()
        if call.cancelled:
            return {"status": "cancelled", "error": None}
        if code is None:
            return {"status": "running", "error": None}
        if code == 0:
            return {"status": "completed", "error": None}
        return {"status": "failed", "error": f"exit code {code}", "exitCode": code}

    def cancel(self, call_id: str) -> dict[str, Any]:
        with self._lock:
            call = self._calls.get(call_id)
            stoppable = call is not None and not call.cancelled and call.proc.poll() is None
            if call is not None and stoppable:
                call.cancelled = True
        if call is None or not stoppable:
            return {"cancelled": False, "status": self.status(call_id)["status"]}
        _stop_group(call.proc)
        return {"cancelled": True, "status": "cancelled"}

    def wait(self, call_id: str, timeout: float | None = None) -> int:
        with self._lock:
            proc = self._calls[call_id].proc
        return proc.wait(timeout)

    def shutdown(self) -> None:
        """Stops every running call (the local trainer is going away: they would be orphans)."""
        with self._lock:
            running = [c for c in self._calls.values() if c.proc.poll() is None]
            for c in running:
                c.cancelled = True
        for c in running:
            _stop_group(c.proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the call's process group, SIGKILL after a grace period; returns once it is gone."""
    for sig, wait_s in ((signal.SIGTERM, CANCEL_GRACE_S), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # the group may outlive its leader (a converter child): make sure nothing of it is left
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tiny_base_model() -> Path:
    """The tiny Qwen2 of tiny_model.py, built once into the cache (by directory, atomically)."""
    from .tiny_model import build_tiny_model

    target = get_settings().cache_dir / "local-tiny-qwen2"
    if (target / "config.json").is_file():
        return target
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    build_tiny_model(staging)
    try:
        staging.rename(target)
    except OSError:  # built meanwhile by another process
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


def main() -> None:
    import uvicorn

    from .inference import ModelRegistry
    from .web import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    base_model: str | None = None
    if os.environ.get("TWIN_LOCAL_TINY", "").strip().lower() in {"1", "true", "yes", "on"}:
        base_model = str(tiny_base_model())
        os.environ["TWIN_BASE_MODEL"] = base_model
        get_settings.cache_clear()
        log.info("tiny mode: every run trains %s", base_model)
    spawner = LocalSpawner(base_model=base_model)
    registry = ModelRegistry()
    app = create_app(spawner, registry)

    def warm_up() -> None:
        started = time.monotonic()
        try:
            path = registry.warm_up()
            log.info("base model GGUF ready in %.1f s: %s", time.monotonic() - started, path)
        except Exception:
            log.exception("warm-up failed: untrained users' chats will retry building the base GGUF")

    # In the background, so /health and /train answer at once; a chat that comes first waits on
    # the same build lock rather than starting a second conversion.
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    try:
        uvicorn.run(app, host=os.environ.get("TWIN_HOST", "127.0.0.1"), port=int(os.environ.get("TWIN_PORT", "8790")))
    finally:
        spawner.shutdown()


if __name__ == "__main__":
    main()
