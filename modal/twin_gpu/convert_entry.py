"""Child-process entry for GGUF conversion: `python -m twin_gpu.convert_entry CONVERT_DIR MODEL_DIR OUT`."""

from __future__ import annotations

import sys


def main() -> None:
    convert(*sys.argv[1:4])


def convert(convert_dir: str, model_dir: str, out_file: str) -> None:
    sys.path[:0] = [convert_dir, f"{convert_dir}/gguf-py"]
    from conversion import base

    original = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer):
        # The converter knows pre-tokenizers by a hash of sample output. Qwen2.5's hash is known; the
        # tiny test tokenizer (built with Qwen2's pre-tokenizer) is not, so fall back to "qwen2".
        try:
            return original(self, tokenizer)
        except NotImplementedError:
            if self.hparams.get("model_type") != "qwen2":
                raise
            return "qwen2"

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre

    from conversion import qwen

    # Qwen2 first probes for a SentencePiece model, which imports sentencepiece before noticing there is
    # no tokenizer.model. Qwen2/2.5 ship a BPE tokenizer.json, so go straight there and skip that dependency.
    qwen.Qwen2Model.set_vocab = lambda self: self._set_vocab_gpt2()
    import convert_hf_to_gguf

    argv = sys.argv
    sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outfile", out_file, "--outtype", "f16"]
    try:
        convert_hf_to_gguf.main()
    finally:
        sys.argv = argv


if __name__ == "__main__":
    main()
