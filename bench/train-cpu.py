"""CPU benchmark of the training path on the tiny Qwen2: LoRA steps, merge, GGUF export, llama.cpp load
and generation. Prints one JSON line last and writes bench/results/train-cpu.json."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "modal"))

from twin_gpu.contract import parse_hyperparameters  # noqa: E402
from twin_gpu.dataset import encode_dataset, validate_records  # noqa: E402
from twin_gpu.gguf_export import convert_to_f16, quantize  # noqa: E402
from twin_gpu.tiny_model import SYSTEM_PROMPT, TOY_RECORDS, build_tiny_model, toy_dataset  # noqa: E402
from twin_gpu.train import train_lora  # noqa: E402

STEPS = int(os.environ.get("BENCH_STEPS", "60"))
GEN_TOKENS = int(os.environ.get("BENCH_GEN_TOKENS", "128"))


class _Quiet:
    """Stands in for the callback client: the benchmark measures training, not HTTP."""

    name = "training"
    total_steps = None

    class cb:  # noqa: N801
        @staticmethod
        def send(*_a, **_k) -> bool:
            return False

    def enter(self, name: str, *, notify: bool = True) -> None:
        self.name = name


def main() -> None:
    import torch
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = build_tiny_model(work / "tiny")
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        examples = encode_dataset(tokenizer, validate_records(toy_dataset()), 2048)
        hp = parse_hyperparameters({"learningRate": 1e-2, "maxSteps": STEPS, "loraR": 16, "loraAlpha": 32,
                                    "loraDropout": 0.0, "warmupRatio": 0.05})
        model = get_peft_model(model, LoraConfig(r=hp.lora_r, lora_alpha=hp.lora_alpha, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
        metrics = train_lora(model, examples, hp, tokenizer.pad_token_id, _Quiet(), "cpu")

        t = time.monotonic()
        merged_dir = work / "merged"
        model.merge_and_unload().to(torch.float16).save_pretrained(merged_dir)
        tokenizer.save_pretrained(merged_dir)
        f16 = convert_to_f16(merged_dir, work / "merged.gguf")
        q8 = quantize(f16, work / "merged.q8_0.gguf", "q8_0")
        export_s = time.monotonic() - t

        t = time.monotonic()
        llm = Llama(model_path=str(q8), n_ctx=512, n_threads=os.cpu_count(), verbose=False)
        load_ms = (time.monotonic() - t) * 1000
        prompt = llm.tokenize(
            f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{TOY_RECORDS[0][0]}<|im_end|>\n"
            "<|im_start|>assistant\n".encode(), add_bos=False, special=True)
        t = time.monotonic()
        n = 0
        for _tok in llm.generate(prompt, temp=0.8, top_p=0.95, reset=True):
            n += 1  # fixed length: EOS is not a stop here, so every run times the same token count
            if n >= GEN_TOKENS:
                break
        gen_s = time.monotonic() - t

        result = {
            "bench": "train-cpu",
            "model": "tiny-qwen2 (2 layers, hidden 64, vocab 400)",
            "examples": len(examples),
            "steps": metrics["steps"],
            "stepsPerSec": metrics["stepsPerSec"],
            "trainTokensPerSec": round(metrics["trainTokens"] / metrics["trainSeconds"], 1),
            "lossFirst": round(metrics["lossFirst"], 4),
            "lossLast": round(metrics["lossLast"], 4),
            "exportSeconds": round(export_s, 3),
            "ggufBytes": f16.stat().st_size,
            "ggufBytesQ8_0": q8.stat().st_size,
            "ggufLoadMs": round(load_ms, 1),
            "tokensPerSecCpu": round(n / gen_s, 1),
            "threads": os.cpu_count(),
        }
    out = Path(__file__).resolve().parent / "results" / "train-cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
