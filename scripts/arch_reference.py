#!/usr/bin/env python3
"""Independent numpy reference for GGUF decoder models (llama, qwen2, qwen3): greedy ids and top logits.

Written from the published model definitions -- Hugging Face transformers' LlamaForCausalLM / Qwen2ForCausalLM /
Qwen3ForCausalLM (modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py, rope_utils _compute_llama3_parameters) --
applied to GGUF files the way llama.cpp's converter made them from HF checkpoints:
  * GGUF 'llama': the converter permuted Q/K rows for llama.cpp's adjacent-pair RoPE; this reference undoes that
    permutation and applies HF's rotate_half RoPE, so it checks the adjacent-pair claim instead of assuming it.
  * qwen2 / qwen3: weights as in HF (NeoX half-split rotate_half RoPE); qwen2 adds q/k/v biases, qwen3 RMS-normalises
    each head of q and k (weights of size head_dim) before RoPE, head_dim from <arch>.attention.key_length.
  * Llama 3 RoPE scaling: the inverse frequencies are computed here from factor / low_freq_factor / high_freq_factor /
    original_max_position_embeddings (the HF config, given below per model, as the GGUF holds only the converter's
    rope_freqs.weight); the file's rope_freqs.weight is then compared with 1/(scaled/unscaled) as an independent check.
Everything in float64 over the weights dequantized with gguf.quants (the gguf package's numpy reference), full causal
recompute of the whole sequence at every step (no KV cache). It shares no code with the Swift sources or with
scripts/make-arch-models.py.

  python3 scripts/arch_reference.py MODEL.gguf [--ids 1,2,3] [--steps 16]        one JSON result
  python3 scripts/arch_reference.py --goldens [MODEL_DIR]      write Tests/ModelTests/Fixtures/arch/<name>.json
  python3 scripts/arch_reference.py --check-smollm2            the llama path on the real SmolLM2 file against
                                                               shared/models/smollm2-135m-instruct/golden_greedy.json
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGUFReader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# HF-config facts the GGUF does not carry (rope_scaling of the llama3 test model)
HF_ROPE_SCALING = {
    "llama3-tiny": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 64},
}


def prompts():
    """Fixture prompts: a 5-token one starting with <|im_start|> (1), a 12-token and a 40-token one (ids 3..1023)."""
    r = np.random.default_rng(20260201)
    return [[1] + r.integers(3, 1024, 4).tolist(), r.integers(3, 1024, 12).tolist(), r.integers(3, 1024, 40).tolist()]


class Model:
    def __init__(self, path, rope_scaling=None):
        self.path = path
        r = GGUFReader(path)
        f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("GGUF.")
             and k not in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")}
        self.arch = a = f["general.architecture"]
        assert a in ("llama", "qwen2", "qwen3"), f"architecture {a} not covered"
        self.kv = f
        self.hidden = f[f"{a}.embedding_length"]
        self.n_layers = f[f"{a}.block_count"]
        self.n_heads = f[f"{a}.attention.head_count"]
        self.n_kv = f.get(f"{a}.attention.head_count_kv", self.n_heads)
        self.head_dim = f.get(f"{a}.attention.key_length", self.hidden // self.n_heads)
        assert f.get(f"{a}.attention.value_length", self.head_dim) == self.head_dim
        self.theta = f.get(f"{a}.rope.freq_base", 10000.0)
        self.eps = f[f"{a}.attention.layer_norm_rms_epsilon"]
        self.eos = f.get("tokenizer.ggml.eos_token_id")
        for k in (f"{a}.rope.scaling.type", f"{a}.rope.scaling.factor"):
            assert k not in f or f[k] in ("none", 0.0, 1.0), f"{k} = {f[k]}: linear/yarn scaling not covered"
        self.t = {}
        for t in r.tensors:
            shape = [int(x) for x in reversed(t.shape.tolist())]
            self.t[t.name] = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float64)
        self.types = {t.name: t.tensor_type.name for t in r.tensors}
        self.rope_scaling = rope_scaling
        self.inv_freq = self._inv_freq()
        self.rope_freqs_check = None
        if "rope_freqs.weight" in self.t:
            # llama.cpp divides each base frequency by rope_freqs[i]; compare with what the HF parameters give
            assert rope_scaling, "file has rope_freqs.weight but no HF rope_scaling is known for it"
            base = 1.0 / (self.theta ** (np.arange(0, self.head_dim, 2, dtype=np.float64) / self.head_dim))
            expect = base / self.inv_freq
            self.rope_freqs_check = float(np.abs(self.t["rope_freqs.weight"] - expect).max())

    def _inv_freq(self):
        d = self.head_dim
        inv = 1.0 / (self.theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
        s = self.rope_scaling
        if not s:
            return inv
        assert s["rope_type"] == "llama3"
        # transformers rope_utils._compute_llama3_parameters
        factor, lo, hi, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        inv_l = np.where(wavelen > low_freq_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        return np.where(medium, smoothed, inv_l)

    def w(self, name):
        return self.t[name]

    def qk_hf(self, name, n_heads):
        """q/k projection weight in HF layout: GGUF 'llama' rows are permuted for adjacent-pair RoPE; undo it."""
        wt = self.t[name]
        if self.arch != "llama":
            return wt
        hd = wt.shape[0] // n_heads
        return wt.reshape(n_heads, hd // 2, 2, *wt.shape[1:]).swapaxes(1, 2).reshape(wt.shape)

    def qk_bias_hf(self, name, n_heads):
        b = self.t.get(name)
        if b is None or self.arch != "llama":
            return b
        return b.reshape(n_heads, -1, 2).swapaxes(1, 2).reshape(-1)

    @staticmethod
    def rms(x, w, eps):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(self, x, pos, adjacent=False):
        """HF apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, cos/sin = cat(freqs, freqs); x [T, H, D].
        adjacent: the other layout (GPT-J pairs 2i, 2i+1), only to measure what a layout mix-up would change."""
        freqs = np.outer(pos, self.inv_freq)
        if adjacent:
            c, s = np.cos(freqs)[:, None, :], np.sin(freqs)[:, None, :]
            a, b = x[..., 0::2], x[..., 1::2]
            return np.stack([a * c - b * s, a * s + b * c], -1).reshape(x.shape)
        emb = np.concatenate([freqs, freqs], -1)
        cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
        h = x.shape[-1] // 2
        rot = np.concatenate([-x[..., h:], x[..., :h]], -1)
        return x * cos + rot * sin

    def logits(self, ids, ablate=()):
        """Last position's logits for the token sequence ids (full causal forward). ablate: names of deliberate bugs
        ('bias', 'qk_norm', 'rope_scaling', 'rope_style') to measure what the fixtures would catch."""
        T = len(ids)
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        x = self.w("token_embd.weight")[ids]
        pos = np.arange(T, dtype=np.float64)
        inv_saved = self.inv_freq
        if "rope_scaling" in ablate:
            self.inv_freq = 1.0 / (self.theta ** (np.arange(0, D, 2, dtype=np.float64) / D))
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for l in range(self.n_layers):
            p = f"blk.{l}."
            h = self.rms(x, self.w(p + "attn_norm.weight"), self.eps)
            wq, wk = self.qk_hf(p + "attn_q.weight", H), self.qk_hf(p + "attn_k.weight", KV)
            q, k, v = h @ wq.T, h @ wk.T, h @ self.w(p + "attn_v.weight").T
            if "bias" not in ablate:
                for name, val, n in (("attn_q.bias", "q", H), ("attn_k.bias", "k", KV), ("attn_v.bias", "v", None)):
                    b = self.qk_bias_hf(p + name, n) if n else self.t.get(p + name)
                    if b is not None:
                        if val == "q": q = q + b
                        elif val == "k": k = k + b
                        else: v = v + b
            q, k, v = q.reshape(T, H, D), k.reshape(T, KV, D), v.reshape(T, KV, D)
            if p + "attn_q_norm.weight" in self.t and "qk_norm" not in ablate:   # Qwen3: per-head RMSNorm
                q = self.rms(q, self.w(p + "attn_q_norm.weight"), self.eps)
                k = self.rms(k, self.w(p + "attn_k_norm.weight"), self.eps)
            q, k = self.rope(q, pos, "rope_style" in ablate), self.rope(k, pos, "rope_style" in ablate)
            rep = H // KV   # repeat_kv: query head j reads kv head j // rep
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            s = np.einsum("thd,shd->hts", q, k) / math.sqrt(D) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o = np.einsum("hts,shd->thd", s, v).reshape(T, H * D)
            x = x + o @ self.w(p + "attn_output.weight").T
            h = self.rms(x, self.w(p + "ffn_norm.weight"), self.eps)
            g = h @ self.w(p + "ffn_gate.weight").T
            x = x + ((g / (1 + np.exp(-g))) * (h @ self.w(p + "ffn_up.weight").T)) @ self.w(p + "ffn_down.weight").T
        self.inv_freq = inv_saved
        h = self.rms(x[-1], self.w("output_norm.weight"), self.eps)
        out = self.t.get("output.weight", self.t["token_embd.weight"])
        return out @ h

    def greedy(self, prompt, steps, top=5, ablate=(), stop=True):
        ids = list(prompt)
        gen, tops, gaps = [], [], []
        for _ in range(steps):
            lg = self.logits(ids, ablate)
            order = np.argsort(-lg, kind="stable")[:top]
            tops.append([[int(i), float(lg[i])] for i in order])
            gaps.append(float(lg[order[0]] - lg[order[1]]) / max(1.0, abs(float(lg[order[0]]))))
            nx = int(order[0])
            if stop and nx == self.eos:
                break
            gen.append(nx)
            ids.append(nx)
        return gen, tops, gaps


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def golden(path, steps=16):
    name = os.path.basename(path)[:-len(".gguf")]
    m = Model(path, HF_ROPE_SCALING.get(name))
    cases, ablations = [], {}
    for i, p in enumerate(prompts()):
        gen, tops, gaps = m.greedy(p, steps)
        cases.append(dict(name=f"case{i}", prompt_ids=p, generated_ids=gen, top_logits=tops,
                          min_top2_rel_gap=min(gaps)))
    # what a wrong implementation would change (on the 40-token case): first differing step, max |logit diff|
    options = ["rope_style"] + (["bias"] if any(k.endswith(".bias") for k in m.t) else []) \
        + (["qk_norm"] if any(k.endswith("attn_q_norm.weight") for k in m.t) else []) \
        + (["rope_scaling"] if m.rope_scaling else [])
    last = cases[-1]
    for a in options:
        gen, tops, _ = m.greedy(last["prompt_ids"], steps, ablate=(a,))
        first = next((j for j, (x, y) in enumerate(zip(gen, last["generated_ids"])) if x != y), None)
        d0 = max(abs(x[1] - y[1]) for x, y in zip(tops[0], last["top_logits"][0]))
        ablations["without_" + a if a != "rope_style" else "other_rope_layout"] = dict(
            first_differing_step=first, step0_max_abs_top_logit_change=round(d0, 4))
    cfg = dict(arch=m.arch, hidden=m.hidden, layers=m.n_layers, heads=m.n_heads, kv_heads=m.n_kv,
               head_dim=m.head_dim, rope_theta=m.theta, rms_eps=m.eps, vocab=int(m.t["token_embd.weight"].shape[0]),
               tied_output="output.weight" not in m.t, eos=m.eos,
               tensor_types=sorted({v for k, v in m.types.items() if m.t[k].ndim == 2}))
    if m.rope_scaling:
        cfg["rope_scaling"] = m.rope_scaling
        cfg["rope_freqs_weight_max_abs_diff"] = m.rope_freqs_check
    return dict(model=os.path.basename(path), model_sha256=sha256(path),
                reference="scripts/arch_reference.py: float64 numpy forward from the HF transformers definitions "
                          "(HF RoPE on un-permuted Q/K for GGUF llama; Llama 3 frequencies from the rope_scaling "
                          "parameters), weights dequantized with gguf.quants; greedy, stop at eos; top-5 logits per step",
                config=cfg, steps=steps, min_top2_rel_gap=min(c["min_top2_rel_gap"] for c in cases),
                sensitivity=ablations, cases=cases)


def check_smollm2():
    g = json.load(open(os.path.join(ROOT, "..", "shared", "models", "smollm2-135m-instruct", "golden_greedy.json")))
    m = Model(os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ok = True
    for c in g["cases"]:
        steps = len(c["generated_ids"]) + (1 if c.get("stopped_on_eos") else 0)
        gen, tops, gaps = m.greedy(c["prompt_ids"], steps)
        same = gen == c["generated_ids"]
        ok &= same
        print(f"{c['name']}: {'same ids' if same else 'DIFFERENT ids'} ({len(gen)} generated, min rel top-2 gap {min(gaps):.2e})")
    # and the oracle's (tools/reference/oracle.py, fp32, incremental, adjacent-pair RoPE as written for GGUF) top logits
    for i in range(6):
        p = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", f"smollm2_{i}.json")
        if not os.path.exists(p):
            continue
        o = json.load(open(p))
        gen, tops, _ = m.greedy(o["prompt_ids"], len(o["top_logits"]))
        err = max(abs(a[1] - b[1]) / max(1.0, abs(b[1])) for x, y in zip(tops, o["top_logits"]) for a, b in zip(x, y))
        same = gen == o["generated_ids"] and [[a[0] for a in x] for x in tops] == [[b[0] for b in y] for y in o["top_logits"]]
        ok &= same and err < 1e-3
        print(f"smollm2_{i}.json (oracle): {'same ids and top-5 ids' if same else 'DIFFERENT ids'}, "
              f"max rel top-logit diff {err:.1e}")
    return ok


def main():
    a = sys.argv[1:]
    if a and a[0] == "--check-smollm2":
        sys.exit(0 if check_smollm2() else 1)
    if a and a[0] == "--goldens":
        d = a[1] if len(a) > 1 else os.path.join(ROOT, "models", "test-arch")
        out = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "arch")
        os.makedirs(out, exist_ok=True)
        for f in sorted(os.listdir(d)):
            if f.endswith(".gguf"):
                g = golden(os.path.join(d, f))
                with open(os.path.join(out, f[:-5] + ".json"), "w") as fh:
                    json.dump(g, fh, indent=1)
                    fh.write("\n")
                print(f"{f}: min rel top-2 gap {g['min_top2_rel_gap']:.2e}, sensitivity {g['sensitivity']}")
        return
    path = a[0]
    ids = [int(x) for x in a[a.index("--ids") + 1].split(",")] if "--ids" in a else prompts()[0]
    steps = int(a[a.index("--steps") + 1]) if "--steps" in a else 16
    name = os.path.basename(path)[:-len(".gguf")]
    m = Model(path, HF_ROPE_SCALING.get(name))
    gen, tops, gaps = m.greedy(ids, steps)
    print(json.dumps(dict(prompt_ids=ids, generated_ids=gen, top_logits=tops, min_top2_rel_gap=min(gaps))))


if __name__ == "__main__":
    main()
