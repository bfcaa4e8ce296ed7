"""The training function: dataset.json from S3 → LoRA SFT → merge → GGUF → S3, with signed callbacks.

A plain PyTorch loop over a peft model rather than transformers' Trainer/TRL: the loop is ~40 lines,
behaves the same on CPU and GPU, and lets us send a progress callback from inside it without
depending on Trainer/TRL callback APIs that change between major versions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from .callbacks import CallbackClient
from .contract import Hyperparameters, TrainRequest, parse_hyperparameters
from .dataset import IGNORE_INDEX, DatasetError, Example, encode_dataset, validate_records
from .gguf_export import convert_to_f16, quantize
from .gpu import select_device
from .s3 import Store
from .settings import get_settings

log = logging.getLogger("twin_gpu.train")

ARTIFACT_FILES = {
    "adapter": "adapter.safetensors",
    "adapter_config": "adapter_config.json",
    "config": "training_config.json",
    "gguf_f16": "merged.gguf",
    "gguf_q8_0": "merged.q8_0.gguf",
    "gguf_q4_k_m": "merged.q4_k_m.gguf",
}


class Stage:
    """Tracks the current stage so a failure callback can say where the run died."""

    def __init__(self, cb: CallbackClient) -> None:
        self.cb = cb
        self.name = "starting"
        self.total_steps: int | None = None

    def enter(self, name: str, *, notify: bool = True) -> None:
        self.name = name
        log.info("stage %s", name)
        if notify:
            self.cb.send("progress", stage=name, total_steps=self.total_steps)


def _batches(examples: list[Example], batch_size: int, pad_id: int, rng: random.Random):
    import torch

    order = list(range(len(examples)))
    rng.shuffle(order)
    for i in range(0, len(order), batch_size):
        chunk = [examples[j] for j in order[i : i + batch_size]]
        width = max(len(e.input_ids) for e in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, e in enumerate(chunk):
            n = len(e.input_ids)
            ids[row, :n] = torch.tensor(e.input_ids)
            labels[row, :n] = torch.tensor(e.labels)
            mask[row, :n] = 1
        yield {"input_ids": ids, "labels": labels, "attention_mask": mask}


def _scheduler(optimizer: Any, hp: Hyperparameters, total: int) -> Any:
    from transformers import get_scheduler

    name = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[hp.lr_scheduler]
    return get_scheduler(name, optimizer, num_warmup_steps=int(hp.warmup_ratio * total), num_training_steps=total)


def train_lora(
    model: Any, examples: list[Example], hp: Hyperparameters, pad_id: int, stage: Stage, device: str
) -> dict[str, Any]:
    import torch

    steps_per_epoch = math.ceil(len(examples) / hp.batch_size / hp.gradient_accumulation_steps)
    total = hp.max_steps or max(1, math.ceil(steps_per_epoch * hp.epochs))
    stage.total_steps = total
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    scheduler = _scheduler(optimizer, hp, total)
    rng = random.Random(hp.seed)
    model.train()
    losses: list[float] = []
    window: list[float] = []
    tokens = 0
    step = 0
    started = time.monotonic()
    stage.enter("training", notify=False)
    while step < total:
        micro = 0
        for batch in _batches(examples, hp.batch_size, pad_id, rng):
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch)
            (out.loss / hp.gradient_accumulation_steps).backward()
            window.append(float(out.loss.detach()))
            tokens += int((batch["labels"] != IGNORE_INDEX).sum())
            micro += 1
            if micro % hp.gradient_accumulation_steps:
                continue
            torch.nn.utils.clip_grad_norm_(trainable, hp.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss = sum(window) / len(window)
            window.clear()
            if not math.isfinite(loss):
                raise RuntimeError(f"training diverged: loss is {loss} at step {step}")
            losses.append(loss)
            if step == 1 or step % hp.progress_every == 0 or step == total:
                stage.cb.send("progress", stage="training", step=step, total_steps=total, loss=round(loss, 6))
            if step >= total:
                break
    seconds = time.monotonic() - started
    return {
        "steps": step,
        "lossFirst": losses[0],
        "lossLast": losses[-1],
        "losses": [round(x, 6) for x in losses],
        "trainSeconds": round(seconds, 3),
        "stepsPerSec": round(step / seconds, 4) if seconds else None,
        "trainTokens": tokens,
    }


def _require_gpu_default() -> bool:
    return os.environ.get("TWIN_REQUIRE_GPU", "").strip().lower() in {"1", "true", "yes", "on"}


def _load(base_model: str, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype).to(device)
    return tokenizer, model


def run_training(
    req: TrainRequest,
    *,
    store: Store | None = None,
    work_root: Path | None = None,
    require_gpu: bool | None = None,
) -> dict[str, Any]:
    """Runs one attempt end to end. Raises after sending `failed` so the caller sees the failure too.

    `require_gpu` (default: TWIN_REQUIRE_GPU, set on Modal's GPU functions) turns an unusable CUDA
    into a failed attempt instead of a silent CPU run. Callbacks go out from a background queue;
    the final one is waited for (bounded by TWIN_CALLBACK_FLUSH_S) before this returns.
    """
    settings = get_settings()
    cb = CallbackClient(req.callbackUrl, settings.callback_secret, req.runId, req.attempt)
    stage = Stage(cb)
    cb.send("started", stage="starting")
    work_root = work_root or settings.cache_dir / "runs"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{req.runId}-", dir=work_root))
    try:
        gpu = _require_gpu_default() if require_gpu is None else require_gpu
        return _run(req, store or Store(settings), stage, work, gpu)
    except Exception as e:
        permanent = isinstance(e, DatasetError)
        message = str(e) if permanent else f"{type(e).__name__}: {e}"
        log.error("run %s failed in %s: %s\n%s", req.runId, stage.name, message, traceback.format_exc())
        cb.send("failed", stage=stage.name, error=message[:4000], retryable=not permanent)
        raise
    finally:
        cb.close()
        shutil.rmtree(work, ignore_errors=True)


def merge_fp32(base_model: str, adapter_dir: Path, out_dir: Path, device: str) -> None:
    """Merges the adapter into a float32 copy of the base, whatever dtype training ran in: folding
    B·A into bf16 weights would round the (small) update away in part. Saved as float16, the dtype
    the f16 GGUF holds, so the merge is rounded once."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32).to(device)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    dtypes = {p.dtype for p in merged.parameters()}
    if dtypes != {torch.float32}:
        raise RuntimeError(f"merge ran in {sorted(map(str, dtypes))}, not float32")
    merged.config.use_cache = True
    merged.to(torch.float16).save_pretrained(out_dir)
    del merged, base


def _run(req: TrainRequest, store: Store, stage: Stage, work: Path, require_gpu: bool) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model

    begun = time.monotonic()
    device = select_device(require_gpu)  # before anything is downloaded: fail in seconds, not minutes
    hp = parse_hyperparameters(req.hyperparameters)
    base_model = req.baseModel or get_settings().base_model
    torch.manual_seed(hp.seed)

    stage.enter("loading_data")
    try:
        raw = store.get_json(req.datasetPath)
    except store.s3.exceptions.NoSuchKey as e:
        raise DatasetError(f"dataset.json not found at s3://{store.bucket}/{req.datasetPath}") from e
    except json.JSONDecodeError as e:
        raise DatasetError(f"dataset.json at {req.datasetPath} is not valid JSON: {e}") from e
    records = validate_records(raw)

    stage.enter("loading_model")
    tokenizer, model = _load(base_model, device)
    examples = encode_dataset(tokenizer, records, hp.max_seq_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    use_ckpt = hp.gradient_checkpointing if hp.gradient_checkpointing is not None else device == "cuda"
    if use_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    lora = LoraConfig(
        r=hp.lora_r,
        lora_alpha=hp.lora_alpha,
        lora_dropout=hp.lora_dropout,
        target_modules=hp.target_modules,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)

    metrics = train_lora(model, examples, hp, pad_id, stage, device)
    metrics.update(examples=len(examples), records=len(records), device=device, baseModel=base_model)

    stage.enter("saving_adapter")
    adapter_dir = work / "adapter"
    model.save_pretrained(adapter_dir)
    files: dict[str, Path] = {
        "adapter": adapter_dir / "adapter_model.safetensors",
        "adapter_config": adapter_dir / "adapter_config.json",
    }

    stage.enter("merging")
    merged_dir = work / "merged"
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    merge_fp32(base_model, adapter_dir, merged_dir, device)
    tokenizer.save_pretrained(merged_dir)
    metrics["mergeDtype"] = "float32"
    if device == "cuda":
        torch.cuda.empty_cache()

    stage.enter("converting")
    files["gguf_f16"] = convert_to_f16(merged_dir, work / ARTIFACT_FILES["gguf_f16"])
    for q in req.quantizations:
        stage.enter(f"quantizing_{q}")
        files[f"gguf_{q}"] = quantize(files["gguf_f16"], work / ARTIFACT_FILES[f"gguf_{q}"], q)

    metrics["ggufBytes"] = {k: p.stat().st_size for k, p in files.items() if k.startswith("gguf_")}
    metrics["totalSeconds"] = round(time.monotonic() - begun, 3)
    config = {
        "runId": req.runId,
        "userId": req.userId,
        "attempt": req.attempt,
        "baseModel": base_model,
        "datasetPath": req.datasetPath,
        "outputPrefix": req.outputPrefix,
        "hyperparameters": hp.model_dump(by_alias=True),
        "quantizations": req.quantizations,
        "metrics": metrics,
        "versions": _versions(),
    }
    files["config"] = work / ARTIFACT_FILES["config"]
    files["config"].write_text(json.dumps(config, indent=2))

    stage.enter("uploading")
    artifacts: dict[str, str] = {}
    listed: list[dict[str, Any]] = []
    # Config last: its presence marks a complete upload of this run's folder.
    for name in sorted(files, key=lambda n: n == "config"):
        key = f"{req.outputPrefix}/{ARTIFACT_FILES[name]}"
        store.upload_file(files[name], key)
        artifacts[name] = key
        quant = name.removeprefix("gguf_") if name.startswith("gguf_") else None
        listed.append({"name": name, "key": key, "bytes": files[name].stat().st_size, "quantization": quant})
    summary = {k: v for k, v in metrics.items() if k not in {"losses", "ggufBytes"}}
    stage.cb.send(
        "completed",
        stage="completed",
        step=metrics["steps"],
        total_steps=stage.total_steps,
        loss=round(metrics["lossLast"], 6),
        artifacts={"files": listed, "metrics": summary},
    )
    return {"artifacts": artifacts, "files": listed, "metrics": metrics}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("torch", "transformers", "peft", "llama-cpp-python"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out
