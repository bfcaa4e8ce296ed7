"""Merged HF checkpoint → GGUF f16 → quantized GGUFs.

Conversion uses llama.cpp's own `convert_hf_to_gguf.py` (+ its `conversion/` package and `gguf-py`),
taken from the llama-cpp-python sdist on PyPI by scripts/setup.sh (and by the Modal image build):
it is the only maintained Qwen2 converter reachable offline, and it matches the llama.cpp we load
with. Quantization uses llama.cpp's C API through llama-cpp-python, so no CLI binary is needed.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from .settings import get_settings

CONVERT_DIR_NAME = "llama.cpp-convert"

# llama.cpp's enum llama_ftype values (include/llama.h).
FTYPES = {"q8_0": 7, "q4_k_m": 15}


class ExportError(RuntimeError):
    pass


def convert_dir() -> Path:
    configured = get_settings().convert_dir
    candidates = [configured] if configured else []
    candidates += [Path(sys.prefix) / "share" / CONVERT_DIR_NAME, Path("/opt") / CONVERT_DIR_NAME]
    for c in candidates:
        if c and (c / "convert_hf_to_gguf.py").is_file():
            return c
    raise ExportError(
        "llama.cpp's convert_hf_to_gguf.py was not found (looked in "
        + ", ".join(str(c) for c in candidates if c)
        + "); run modal/scripts/setup.sh or set TWIN_LLAMA_CONVERT_DIR"
    )


def convert_to_f16(model_dir: Path, out_file: Path, *, in_process: bool | None = None) -> Path:
    """Runs the converter in a child process: it holds a second copy of the weights and we want that
    memory back, and its module-level state must not leak into the trainer. A process that does
    nothing after this run (a local run's own process: TWIN_CONVERT_IN_PROCESS=1) converts in
    place instead and saves a Python + torch start-up (most of the conversion time of a small model)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if in_process is None:
        in_process = os.environ.get("TWIN_CONVERT_IN_PROCESS", "").strip().lower() in {"1", "true", "yes", "on"}
    # the converter must import its own gguf-py (matching llama.cpp), not an already loaded gguf
    if in_process and "gguf" not in sys.modules:
        from .convert_entry import convert

        try:
            convert(str(convert_dir()), str(model_dir), str(out_file))
        except (Exception, SystemExit) as e:
            raise ExportError(f"GGUF conversion failed: {type(e).__name__}: {e}") from e
        if not out_file.is_file():
            raise ExportError("GGUF conversion wrote no file")
        return out_file
    cmd = [sys.executable, "-m", "twin_gpu.convert_entry", str(convert_dir()), str(model_dir), str(out_file)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not out_file.is_file():
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise ExportError(f"GGUF conversion failed (exit {proc.returncode}): {tail}")
    return out_file


def quantize(src: Path, dest: Path, kind: str) -> Path:
    import llama_cpp

    if kind not in FTYPES:
        raise ExportError(f"unsupported quantization {kind}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.nthread = os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dest).encode(), ctypes.byref(params))
    if rc != 0 or not dest.is_file():
        raise ExportError(f"llama_model_quantize({kind}) failed with code {rc}")
    return dest
