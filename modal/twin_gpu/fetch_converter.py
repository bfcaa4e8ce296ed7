"""Extracts llama.cpp's HF→GGUF converter from the llama-cpp-python sdist on PyPI.

The converter is not published as a module; the sdist vendors the llama.cpp tree it was built
from, so this gives a converter that matches the llama.cpp we load models with, using PyPI only.
`python -m twin_gpu.fetch_converter DEST` (run by scripts/setup.sh and the Modal image build).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

WANTED = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def fetch(dest: Path, llama_cpp_version: str | None = None) -> Path:
    ver = llama_cpp_version or version("llama-cpp-python")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
             f"llama-cpp-python=={ver}", "-d", tmp],
            check=True,
        )
        sdist = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        staging = Path(tmp) / "out"
        with tarfile.open(sdist) as tar:
            prefix = f"{tar.getmembers()[0].name.split('/')[0]}/vendor/llama.cpp/"
            members = [m for m in tar.getmembers()
                       if m.name.startswith(prefix) and m.name[len(prefix):].startswith(WANTED)]
            for m in members:
                m.name = m.name[len(prefix):]
            tar.extractall(staging, members=members, filter="data")
        (staging / "VERSION").write_text(ver + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), dest)
    return dest


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
