"""Local-mode training process: `python -m twin_gpu.train_cli REQUEST.json` (what the web app spawns)."""

from __future__ import annotations

import json
import logging
import sys

from .contract import TrainRequest
from .train import run_training


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per callback; failures are logged by callbacks.py
    with open(sys.argv[1], encoding="utf-8") as f:
        req = TrainRequest.model_validate(json.load(f))
    try:
        result = run_training(req)
    except Exception:
        return 1
    print(json.dumps({"artifacts": result["artifacts"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
