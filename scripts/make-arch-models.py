#!/usr/bin/env python3
"""Writes small random-weight GGUF models for the architectures the repository has no real weights for, into
models/test-arch/ (not committed; deterministic bytes, checked against Tests/ModelTests/Fixtures/arch/<name>.json).

  python3 scripts/make-arch-models.py [OUT_DIR]      (default models/test-arch; idempotent: matching files are kept)

Models (metadata keys and tensor names exactly as llama.cpp's convert_hf_to_gguf.py writes them):
  qwen2-tiny      qwen2: Q/K/V biases, NeoX RoPE theta 1e6, tied output; Q8_0 matrices, ffn_down Q4_K (256 columns)
  qwen3-tiny      qwen3: per-head attn_q_norm / attn_k_norm (size head_dim), no biases, head_dim 48 != dim/heads (32),
                  qwen3.attention.key_length / value_length 48, own output.weight; F32
  llama3-tiny     llama with Llama 3 RoPE scaling: rope_freqs.weight (the converter's per-frequency factors; no
                  llama.rope.scaling.* keys, as the converter writes none for rope_type llama3), adjacent-pair RoPE
                  (Q/K in the converter's permuted layout); F32
  mistral-tiny    llama, GQA 8 heads / 2 KV heads (head_dim 16), no scaling, tied output; F16 matrices, ffn_down Q6_K
All: 2-3 layers, RMSNorm weights 1 + N(0, 0.1^2), vocab 1024 taken from the first ids of SmolLM2's gpt2 BPE
vocabulary (tokens, types, the merges that stay inside it; <|endoftext|>=0, <|im_start|>=1, <|im_end|>=2 EOS), ChatML
template. Seeds are fixed (np.random.default_rng): chosen so that greedy decoding on the fixture prompts has a clear
top-2 logit gap at every step (scripts/arch_reference.py records it).
Needs numpy and gguf==0.19.0; the tokenizer comes from models/SmolLM2-135M-Instruct.Q4_1.gguf.
"""
import hashlib
import importlib.util
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 1024

# name -> (arch, hyperparameters, tensor types, seed)
MODELS = {
    "qwen2-tiny": dict(arch="qwen2", dim=128, layers=2, heads=4, kv_heads=2, head_dim=32, ffn=256, theta=1e6,
                       eps=1e-6, bias=True, tied=True, ctx=4096, seed=2,
                       types=dict(default=Q.Q8_0, ffn_down=Q.Q4_K)),
    "qwen3-tiny": dict(arch="qwen3", dim=128, layers=3, heads=4, kv_heads=2, head_dim=48, ffn=320, theta=1e6,
                       eps=1e-6, qk_norm=True, tied=False, ctx=4096, seed=2, types=dict(default=Q.F32)),
    "llama3-tiny": dict(arch="llama", dim=128, layers=2, heads=4, kv_heads=2, head_dim=32, ffn=384, theta=500000.0,
                        eps=1e-5, tied=False, ctx=2048, seed=11, types=dict(default=Q.F32),
                        # HF rope_scaling {"rope_type": "llama3", ...}; original_max_position_embeddings is small so
                        # that the fixture prompts (< 64 positions) really see every band: wavelength < 16 unscaled,
                        # 16..64 smoothed, > 64 divided by the factor
                        llama3=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                    original_max_position_embeddings=64)),
    "mistral-tiny": dict(arch="llama", dim=128, layers=2, heads=8, kv_heads=2, head_dim=16, ffn=256, theta=10000.0,
                         eps=1e-5, tied=True, ctx=4096, seed=3, types=dict(default=Q.F16, ffn_down=Q.Q6_K)),
}


def _make_variant():
    spec = importlib.util.spec_from_file_location("make_variant", os.path.join(ROOT, "scripts", "make-variant.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def tokenizer(n):
    """The first n ids of SmolLM2's gpt2 vocabulary, with the merges whose parts and result all stay below n."""
    r = GGUFReader(os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    toks = r.fields["tokenizer.ggml.tokens"].contents()[:n]
    types = r.fields["tokenizer.ggml.token_type"].contents()[:n]
    have = set(toks)
    merges = [m for m in r.fields["tokenizer.ggml.merges"].contents()
              if all(p in have for p in m.split(" ")) and m.replace(" ", "") in have]
    return toks, types, merges, r.fields["tokenizer.chat_template"].contents()


def llama3_rope_factors(head_dim, theta, s):
    """rope_freqs.weight exactly as convert_hf_to_gguf.py LlamaModel.generate_extra_tensors computes it."""
    freqs = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    lo_wl = s["original_max_position_embeddings"] / s["low_freq_factor"]
    hi_wl = s["original_max_position_embeddings"] / s["high_freq_factor"]
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < hi_wl:
            out.append(1)
        elif wl > lo_wl:
            out.append(s["factor"])
        else:
            smooth = (s["original_max_position_embeddings"] / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
            out.append(1 / ((1 - smooth) / s["factor"] + smooth))
    return np.array(out, dtype=np.float32)


def weights(c):
    """Random weights in HF orientation ([out, in]); Q/K for GGUF 'llama' get the converter's permutation later."""
    rng = np.random.default_rng(c["seed"])
    d, hd, nh, nkv, ff = c["dim"], c["head_dim"], c["heads"], c["kv_heads"], c["ffn"]

    def mat(rows, cols, gain):
        return (rng.standard_normal((rows, cols)) * gain / math.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    # small embeddings: the layers' outputs dominate the residual stream, so a tied output does not just repeat the input
    w = {"token_embd.weight": (0.15 * rng.standard_normal((VOCAB, d))).astype(np.float32)}
    for l in range(c["layers"]):
        p = f"blk.{l}."
        w[p + "attn_norm.weight"] = norm(d)
        w[p + "attn_q.weight"] = mat(nh * hd, d, 1.5)
        w[p + "attn_k.weight"] = mat(nkv * hd, d, 1.5)
        w[p + "attn_v.weight"] = mat(nkv * hd, d, 1.0)
        if c.get("bias"):
            w[p + "attn_q.bias"] = (0.2 * rng.standard_normal(nh * hd)).astype(np.float32)
            w[p + "attn_k.bias"] = (0.2 * rng.standard_normal(nkv * hd)).astype(np.float32)
            w[p + "attn_v.bias"] = (0.2 * rng.standard_normal(nkv * hd)).astype(np.float32)
        if c.get("qk_norm"):
            w[p + "attn_q_norm.weight"] = norm(hd)
            w[p + "attn_k_norm.weight"] = norm(hd)
        w[p + "attn_output.weight"] = mat(d, nh * hd, 0.7)
        w[p + "ffn_norm.weight"] = norm(d)
        w[p + "ffn_gate.weight"] = mat(ff, d, 1.0)
        w[p + "ffn_up.weight"] = mat(ff, d, 1.0)
        w[p + "ffn_down.weight"] = mat(d, ff, 1.0)
    w["output_norm.weight"] = norm(d)
    if not c["tied"]:
        w["output.weight"] = mat(VOCAB, d, 2.0)
    return w


def permute(wt, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half layout -> GGUF 'llama' adjacent-pair layout."""
    return wt.reshape(n_head, 2, wt.shape[0] // n_head // 2, *wt.shape[1:]).swapaxes(1, 2).reshape(wt.shape)


def write(name, c, path, tok):
    mv = _make_variant()
    arch = c["arch"]
    w = weights(c)
    if arch == "llama":
        for l in range(c["layers"]):
            w[f"blk.{l}.attn_q.weight"] = permute(w[f"blk.{l}.attn_q.weight"], c["heads"])
            w[f"blk.{l}.attn_k.weight"] = permute(w[f"blk.{l}.attn_k.weight"], c["kv_heads"])
    if "llama3" in c:
        w = {"rope_freqs.weight": llama3_rope_factors(c["head_dim"], c["theta"], c["llama3"]), **w}
    types = c["types"]
    ftype = {Q.F32: 0, Q.F16: 1, Q.Q8_0: 7}[types["default"]]
    gw = GGUFWriter(path, arch)
    gw.add_name(name)
    gw.add_type("model")
    gw.add_file_type(ftype)
    gw.add_quantization_version(gguf.GGML_QUANT_VERSION)
    gw.add_context_length(c["ctx"])
    gw.add_embedding_length(c["dim"])
    gw.add_block_count(c["layers"])
    gw.add_feed_forward_length(c["ffn"])
    gw.add_head_count(c["heads"])
    gw.add_head_count_kv(c["kv_heads"])
    gw.add_rope_freq_base(c["theta"])
    gw.add_layer_norm_rms_eps(c["eps"])
    if arch == "llama":
        gw.add_vocab_size(VOCAB)
        gw.add_rope_dimension_count(c["head_dim"])
    if c["head_dim"] != c["dim"] // c["heads"] or arch == "qwen3":
        gw.add_key_length(c["head_dim"])
        gw.add_value_length(c["head_dim"])
    toks, ttypes, merges, template = tok
    gw.add_tokenizer_model("gpt2")
    gw.add_tokenizer_pre("qwen2" if arch.startswith("qwen") else "smollm")
    gw.add_token_list(toks)
    gw.add_token_types(ttypes)
    gw.add_token_merges(merges)
    gw.add_bos_token_id(1)
    gw.add_eos_token_id(2)
    gw.add_unk_token_id(0)
    gw.add_pad_token_id(2)
    gw.add_add_bos_token(False)
    gw.add_chat_template(template)
    for tname, data in w.items():
        kind = tname.split(".")[-2] if tname.startswith("blk.") else tname.split(".")[0]
        qt = types.get(kind, types["default"]) if data.ndim == 2 else Q.F32
        if qt == Q.F32:
            gw.add_tensor(tname, data)
        elif qt == Q.F16:
            gw.add_tensor(tname, data.astype(np.float16), raw_dtype=Q.F16)
        else:
            assert data.shape[1] % gguf.GGML_QUANT_SIZES[qt][0] == 0, (tname, data.shape, qt)
            q = mv.quantize(data, qt)
            gw.add_tensor(tname, q, raw_shape=q.shape, raw_dtype=qt)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def expected_sha(name):
    import json
    p = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "arch", name + ".json")
    return json.load(open(p)).get("model_sha256") if os.path.exists(p) else None


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "test-arch")
    only = sys.argv[2:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    tok = None
    bad = False
    for name in only:
        c = MODELS[name]
        path = os.path.join(out, name + ".gguf")
        want = expected_sha(name)
        if os.path.exists(path) and want and sha256(path) == want:
            continue
        tok = tok or tokenizer(VOCAB)
        write(name, c, path + ".tmp", tok)
        os.replace(path + ".tmp", path)
        got = sha256(path)
        if want and got != want:
            print(f"{path}: sha256 {got}, expected {want} (the goldens in Tests/ModelTests/Fixtures/arch are for the "
                  f"expected bytes; a different gguf or numpy version?)", file=sys.stderr)
            bad = True
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
