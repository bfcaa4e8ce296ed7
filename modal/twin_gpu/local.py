"""Local mode: the training and inference routes of the Modal app under one uvicorn on CPU, each
training call in its own OS process and process group (a cancel stops all of it). The processes
are forked from a multiprocessing fork server that has imported torch, transformers and peft
once, so a run starts training in a second instead of paying their import (10-40 s on 2 cores).

`python -m twin_gpu.local` (host and port from TWIN_HOST/TWIN_PORT; `bash modal/scripts/local-trainer.sh`
sets the rest). With TWIN_LOCAL_TINY=1 the base model is the tiny random Qwen2 of tiny_model.py,
built once into the cache at start-up, and every run trains it whatever `baseModel` it names: no
Hugging Face download here, and a run takes seconds, not hours.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import get_settings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
CANCEL_GRACE_S = 5.0
# What the fork server imports once; every run forked from it starts with them loaded.
PRELOAD = ["torch", "transformers", "peft", "twin_gpu.train", "twin_gpu.train_cli"]
# A run's process ends with its run, so it converts to GGUF in place (no second Python + torch).
RUN_ENV = {"TWIN_REQUIRE_GPU": "0", "TWIN_CONVERT_IN_PROCESS": "1"}

log = logging.getLogger("twin_gpu.local")


def _run_call(request_file: str, log_file: str, env: dict[str, str]) -> None:
    """The body of a run's process (forked from the fork server): its own session and process
    group, stdout and stderr to its log, then train_cli's run; the exit code is the run's."""
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.update(env)
    from .train_cli import run_file

    sys.exit(run_file(request_file))


@dataclass
class _Call:
    proc: multiprocessing.process.BaseProcess
    run_key: tuple[str, int]
    cancelled: bool = False
    # set once proc.start() returned (it waits for the fork server's imports, so it runs off the
    # request); start_error when it raised
    started: threading.Event = field(default_factory=threading.Event)
    start_error: str | None = None


class LocalSpawner:
    """Starts a run's process detached from the request, like Modal's `spawn`."""

    def __init__(self, run_dir: Path | None = None, *, base_model: str | None = None) -> None:
        self.run_dir = run_dir or get_settings().cache_dir / "local-calls"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.base_model = base_model  # replaces every request's baseModel (tiny mode)
        self._calls: dict[str, _Call] = {}
        self._by_run: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self._mp = multiprocessing.get_context("forkserver")
        # the fork server finds twin_gpu through PYTHONPATH, like the runs it forks
        pythonpath = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        os.environ["PYTHONPATH"] = pythonpath
        self._mp.set_forkserver_preload(PRELOAD)
        multiprocessing.forkserver.ensure_running()  # starts importing now: the first run gets it warm

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
            # the environment of now (the fork server's is that of its start), plus the run's own
            env = {**os.environ, **RUN_ENV}
            proc = self._mp.Process(
                target=_run_call, args=(str(request_file), str(self.run_dir / f"{call_id}.log"), env),
                name=f"run-{run_key[0]}-{run_key[1]}", daemon=True,
            )
            call = _Call(proc, run_key)
            self._calls[call_id] = call
            self._by_run[run_key] = call_id
        threading.Thread(target=self._start, args=(call,), name=f"start-{call_id}", daemon=True).start()
        return call_id

    def _start(self, call: _Call) -> None:
        try:
            call.proc.start()
        except Exception as e:
            log.exception("could not start %s", call.proc.name)
            call.start_error = f"{type(e).__name__}: {e}"
        finally:
            call.started.set()

    def status(self, call_id: str, *, locked: bool = False) -> dict[str, Any]:
        if locked:
            call = self._calls.get(call_id)
        else:
            with self._lock:
                call = self._calls.get(call_id)
        if call is None:
            return {"status": "unknown", "error": None}
        if call.cancelled:
            return {"status": "cancelled", "error": None}
        if call.start_error:
            return {"status": "failed", "error": f"the run's process did not start: {call.start_error}"}
        code = call.proc.exitcode if call.started.is_set() else None
        if code is None:
            return {"status": "running", "error": None}
        if code == 0:
            return {"status": "completed", "error": None}
        return {"status": "failed", "error": f"exit code {code}", "exitCode": code}

    def cancel(self, call_id: str) -> dict[str, Any]:
        with self._lock:
            call = self._calls.get(call_id)
            stoppable = call is not None and self.status(call_id, locked=True)["status"] == "running"
            if call is not None and stoppable:
                call.cancelled = True
        if call is None or not stoppable:
            return {"cancelled": False, "status": self.status(call_id)["status"]}
        call.started.wait(300)
        if call.proc.pid is not None:
            _stop_group(call.proc)
        return {"cancelled": True, "status": "cancelled"}

    def wait(self, call_id: str, timeout: float | None = None) -> int:
        """The call's exit code once it ends; TimeoutError when it runs past `timeout`."""
        with self._lock:
            call = self._calls[call_id]
        started = time.monotonic()
        call.started.wait(timeout)
        proc = call.proc
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        if call.started.is_set() and proc.pid is not None:
            proc.join(left)
        if proc.exitcode is None:
            raise TimeoutError(f"call {call_id} still running after {timeout} s")
        return proc.exitcode

    def shutdown(self) -> None:
        """Stops every running call (the local trainer is going away: they would be orphans)."""
        with self._lock:
            running = [c for c in self._calls.values() if not c.cancelled and (not c.started.is_set() or c.proc.exitcode is None)]
            for c in running:
                c.cancelled = True
        for c in running:
            c.started.wait(60)
            if c.proc.pid is not None:
                _stop_group(c.proc)


def _stop_group(proc: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM to the call's process group, SIGKILL after a grace period; returns once it is gone."""
    assert proc.pid is not None
    for sig, wait_s in ((signal.SIGTERM, CANCEL_GRACE_S), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # not yet its own group leader (just forked): the process itself
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        proc.join(wait_s)
        if proc.exitcode is not None:
            break
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
