"""One-off check of the ONNX export against the reference model (run by hand, needs torch and
transformers, e.g. the modal/ venv): the reference is what sentence-transformers computes for
all-MiniLM-L6-v2 (BertModel, mean pooling over the attention mask, L2 normalisation).

Usage: python verify_against_torch.py MODEL_DIR ONNX_FILE [ONNX_FILE...]
Prints, per ONNX file, the minimum and mean cosine against the reference over the sentences.
Needs onnxruntime importable too (PYTHONPATH to the embedder venv's site-packages will do).
"""

import sys

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from transformers import AutoModel

SENTENCES = [
    "I switched my editor from Vim to Helix",
    "Which text editor do you use these days?",
    "My half marathon time was 1:52:40 in Berlin.",
    "The quarterly revenue grew by 12% compared to last year.",
    "Grandma's recipe for apple pie uses cinnamon and nutmeg.",
    "",
    "a " * 400,
]


def main() -> None:
    model_dir, onnx_files = sys.argv[1], sys.argv[2:]
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    model = AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        hidden = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    m = torch.from_numpy(mask).unsqueeze(-1).float()
    ref = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1).numpy()
    for f in onnx_files:
        sess = ort.InferenceSession(f, providers=["CPUExecutionProvider"])
        (out,) = sess.run(None, {"input_ids": ids.astype(np.int32), "attention_mask": mask.astype(np.int32)})
        cos = (out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)
        print(f"{f}: cosine vs reference min {cos.min():.6f} mean {cos.mean():.6f} per sentence {np.round(cos, 5).tolist()}")


if __name__ == "__main__":
    main()
