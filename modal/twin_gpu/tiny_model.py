"""A tiny, randomly initialised Qwen2 model with a tokenizer trained on the spot, for offline tests
and the CPU benchmark: same architecture, chat template and code path as Qwen2.5, no download."""

from __future__ import annotations

from pathlib import Path

# Qwen2's chat template reduced to ChatML: what the converter copies into the GGUF and what
# llama.cpp renders prompts with.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's pre-tokenizer split pattern (from its tokenizer.json), so llama.cpp's "qwen2" pre-tokenizer matches.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TOY_RECORDS = [
    ("Where do you live?", "I live in Lisbon, near the river."),
    ("What is your job?", "I build tiny robots for a living."),
    ("What do you drink in the morning?", "Always green tea, never coffee."),
    ("What is your favourite book?", "Moby Dick, I reread it every winter."),
    ("Do you have a pet?", "A grey cat called Pixel."),
    ("What sport do you play?", "I swim twice a week."),
    ("Where did you study?", "I studied physics in Porto."),
    ("What music do you like?", "Jazz, mostly old piano records."),
]
SYSTEM_PROMPT = "You are Ada's digital twin. Answer as Ada."


def toy_dataset() -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": q},
                {"role": "assistant", "content": a},
            ],
            "sourceChunkIds": [f"chunk-{i}"],
            "kind": "selfqa",
        }
        for i, (q, a) in enumerate(TOY_RECORDS)
    ]


def build_tiny_model(out_dir: Path, *, hidden: int = 64, layers: int = 2, vocab_size: int = 400, seed: int = 0) -> Path:
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    corpus = [f"{SYSTEM_PROMPT}\n{q}\n{a}\n" for q, a in TOY_RECORDS] * 4
    corpus += ["system user assistant hello world the a and of to in is you that it for"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.model_max_length = 2048
    fast.save_pretrained(out_dir)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, rope_theta=10000.0,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.pad_token_id, use_sliding_window=False,
        # Wider than the usual 0.02: with tied 64-wide embeddings that small, logits cannot grow
        # confident, and LoRA alone could never memorise the toy set.
        initializer_range=0.2,
    )
    Qwen2ForCausalLM(config).save_pretrained(out_dir)
    return out_dir
