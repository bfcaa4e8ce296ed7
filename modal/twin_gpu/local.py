"""Local mode: the web app under uvicorn on CPU, each training run in its own subprocess.

`python -m twin_gpu.local` (host/port from TWIN_HOST/TWIN_PORT).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from .settings import get_settings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class LocalSpawner:
    """Runs `python -m twin_gpu.train_cli` detached from the request, like Modal's `spawn`."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or get_settings().cache_dir / "local-calls"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def spawn(self, payload: dict[str, Any]) -> str:
        call_id = f"lc-{uuid.uuid4().hex}"
        request_file = self.run_dir / f"{call_id}.json"
        request_file.write_text(json.dumps(payload))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
        with open(self.run_dir / f"{call_id}.log", "wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "twin_gpu.train_cli", str(request_file)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        with self._lock:
            self._procs[call_id] = proc
        return call_id

    def status(self, call_id: str) -> dict[str, Any]:
        with self._lock:
            proc = self._procs.get(call_id)
        if proc is None:
            return {"status": "unknown"}
        code = proc.poll()
        if code is None:
            return {"status": "running"}
        return {"status": "succeeded" if code == 0 else "failed", "exitCode": code}

    def wait(self, call_id: str, timeout: float | None = None) -> int:
        with self._lock:
            proc = self._procs[call_id]
        return proc.wait(timeout)


def main() -> None:
    import uvicorn

    from .web import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(LocalSpawner())
    uvicorn.run(app, host=os.environ.get("TWIN_HOST", "127.0.0.1"), port=int(os.environ.get("TWIN_PORT", "8790")))


if __name__ == "__main__":
    main()
