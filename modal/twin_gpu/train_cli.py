"""Local-mode training process: `python -m twin_gpu.train_cli REQUEST.json` (what the web app spawns)."""

from __future__ import annotations

import json
import logging
import sys

from .contract import TrainRequest
from .train import run_training


def main() -> int:
    return run_file(sys.argv[1])


def run_file(request_file: str) -> int:
    """One run from a request file; the exit code: 0 completed, 1 failed (the callback says why)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per callback; failures are logged by callbacks.py
    with open(request_file, encoding="utf-8") as f:
        req = TrainRequest.model_validate(json.load(f))
    try:
        result = run_training(req)
    except Exception:
        return 1
    print(json.dumps({"artifacts": result["artifacts"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
