"""The device a run trains on. On a GPU function an unusable CUDA is an error (DESIGN §8): a run
that silently fell back to the CPU would bill GPU hours for a job that takes days."""

from __future__ import annotations

import importlib
from typing import Any


class CudaUnavailable(RuntimeError):
    """CUDA is required here and cannot be used."""


def _describe(torch: Any) -> str:
    return f"torch {torch.__version__}, CUDA runtime {torch.version.cuda or 'none (a CPU-only build)'}"


def require_cuda(torch_module: Any | None = None) -> str:
    """Returns "cuda" after proving a kernel runs on the GPU, or raises CudaUnavailable saying why.

    `is_available()` alone is not enough: a driver older than torch's CUDA runtime, or a GPU
    architecture the build has no kernels for, only fails at the first kernel launch.
    """
    torch = torch_module or importlib.import_module("torch")
    where = _describe(torch)
    if not torch.cuda.is_available():
        raise CudaUnavailable(
            f"CUDA is not usable on this GPU function (torch.cuda.is_available() is False; {where}): "
            "refusing to train on the CPU"
        )
    try:
        name = torch.cuda.get_device_name(0)
        capability = ".".join(str(x) for x in torch.cuda.get_device_capability(0))
        x = torch.ones(8, device="cuda")
        if float((x * 2).sum().item()) != 16.0:
            raise CudaUnavailable(f"a test kernel on {name} gave a wrong result ({where})")
        torch.cuda.synchronize()
    except CudaUnavailable:
        raise
    except Exception as e:  # driver/runtime mismatch, no kernel image for this architecture, …
        raise CudaUnavailable(f"CUDA is present but a test kernel failed ({where}): {type(e).__name__}: {e}") from e
    if not torch.cuda.is_bf16_supported():
        raise CudaUnavailable(f"{name} (sm {capability}) has no bf16 support, which training uses ({where})")
    return "cuda"


def select_device(require_gpu: bool, torch_module: Any | None = None) -> str:
    """"cuda" when required (or raise), otherwise whatever is there (local mode, tests, dev)."""
    torch = torch_module or importlib.import_module("torch")
    if require_gpu:
        return require_cuda(torch)
    return "cuda" if torch.cuda.is_available() else "cpu"
