#!/usr/bin/env python3
"""Re-quantizes a GGUF model into another tensor type, as `llama-quantize --allow-requantize IN OUT TYPE` does: every
2-D weight is dequantized and quantized again, 1-D tensors (norms) stay F32, metadata is copied unchanged except
general.file_type. Deterministic: the same input gives the same bytes.

  python3 scripts/make-variant.py IN.gguf OUT.gguf TYPE
  python3 scripts/make-variant.py --selftest          (round-trips the K-quantizers through gguf.quants.dequantize)

TYPE:
  F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1   every 2-D tensor in TYPE (the `gguf` package's numpy quantizers; a tensor
                                            whose column count is not a multiple of 32 stays F32)
  Q4_K, Q5_K, Q6_K                          every 2-D tensor in TYPE ("pure", as llama-quantize --pure), with
                                            llama.cpp's fallback when the column count is not a multiple of 256:
                                            Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (then F16 if still no fit)
  Q4_K_M, Q5_K_M                            llama-quantize's mixes (llama_tensor_get_type, no imatrix): attn_v and
                                            ffn_down of the use_more_bits layers in Q6_K, the rest Q4_K / Q5_K, the
                                            output (and a tied token_embd) Q6_K, or Q8_0 if its columns do not fit
                                            256; then the same fallback

The K-quantizers (Q4_K, Q5_K, Q6_K; the gguf package has none) are numpy ports of ggml's reference quantizers
quantize_row_q{4,5,6}_K_ref (make_qkx2_quants / make_qx_quants, float32 arithmetic in ggml's order) writing ggml's
block layouts; gguf.quants.dequantize is the independent check of the bytes (--selftest).
The tests use this to make variants of the shipped SmolLM2 file without building llama.cpp (scripts/make-test-variants.sh);
scripts/compare-llama-cpp.sh uses llama-quantize itself. Needs numpy and gguf (pip install numpy gguf).
"""
import re
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFWriter, GGUFValueType

f32 = np.float32
QK_K = 256


# ---------- ggml K-quant reference quantizers (vectorized over blocks; loops only where ggml sums in order) ----------
def _seq_sum(terms):
    """Sum over the last axis in index order (as ggml's C loops do), in float32."""
    acc = terms[..., 0].copy()
    for i in range(1, terms.shape[-1]):
        acc += terms[..., i]
    return acc


def _make_qkx2_quants(x, w, nmax, rmin, rdelta, nstep):
    """ggml make_qkx2_quants for rows x (N, n) with weights w: returns (scale, the_min, L) per row (use_mad false)."""
    n = x.shape[1]
    mn = x.min(axis=1)
    mx = x.max(axis=1)
    sum_w = _seq_sum(w)
    sum_x = _seq_sum(w * x)
    mn = np.minimum(mn, f32(0))
    flat = mx == mn
    rng = np.where(flat, f32(1), mx - mn).astype(f32)
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = f32(nmax) / rng
        scale = f32(1) / iscale
        xm = x - mn[:, None]
        L = np.clip(np.rint(iscale[:, None] * xm), 0, nmax).astype(np.uint8)
        diff = (scale[:, None] * L.astype(f32) + mn[:, None]) - x
        best = _seq_sum(w * (diff * diff))
        for s in range(nstep + 1):
            # as in ggml, `min` is the best one so far: an accepted step moves the grid of the later ones
            rng = np.where(flat, f32(1), mx - mn).astype(f32)
            xm = x - mn[:, None]
            iscale = (f32(rmin) + f32(rdelta) * f32(s) + f32(nmax)) / rng
            La = np.clip(np.rint(iscale[:, None] * xm), 0, nmax).astype(f32)
            wl = w * La
            sum_l = _seq_sum(wl)
            sum_l2 = _seq_sum(wl * La)
            sum_xl = _seq_sum(wl * x)
            D = sum_w * sum_l2 - sum_l * sum_l
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / D
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D
            pos = this_min > 0
            this_min = np.where(pos, f32(0), this_min)
            this_scale = np.where(pos, sum_xl / sum_l2, this_scale)
            diff = (this_scale[:, None] * La + this_min[:, None]) - x
            cur = _seq_sum(w * (diff * diff))
            upd = (D > 0) & (cur < best)
            L[upd] = La[upd].astype(np.uint8)
            best = np.where(upd, cur, best)
            scale = np.where(upd, this_scale, scale)
            mn = np.where(upd, this_min, mn)
    L[flat] = 0
    scale = np.where(flat, f32(0), scale).astype(f32)
    return scale, (-mn).astype(f32), L


def _pack_scale_min_k4(ls, lm):
    """ls, lm (nb, 8) 6-bit -> ggml's 12-byte scales[] of block_q4_K / block_q5_K."""
    nb = ls.shape[0]
    s = np.zeros((nb, 12), np.uint8)
    s[:, 0:4] = ls[:, 0:4]
    s[:, 4:8] = lm[:, 0:4]
    s[:, 8:12] = (ls[:, 4:8] & 0xF) | ((lm[:, 4:8] & 0xF) << 4)
    s[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    s[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    return s


def _qk_scales(x, nmax, rmin, rdelta, nstep):
    """Shared part of quantize_row_q4_K_ref / q5_K_ref: x (nb, 256) -> d, dmin (f16), packed scales, L (nb, 256)."""
    nb = x.shape[0]
    xs = x.reshape(nb * 8, 32)
    av_x = np.sqrt(_seq_sum(xs * xs) / f32(32))
    w = av_x[:, None] + np.abs(xs)
    sc, mins, L = _make_qkx2_quants(xs, w, nmax, rmin, rdelta, nstep)
    sc = sc.reshape(nb, 8); mins = mins.reshape(nb, 8); L = L.reshape(nb, 256)
    max_scale = np.maximum(sc.max(axis=1), f32(0))
    max_min = np.maximum(mins.max(axis=1), f32(0))
    with np.errstate(divide="ignore"):
        inv_scale = np.where(max_scale > 0, f32(63) / max_scale, f32(0)).astype(f32)
        inv_min = np.where(max_min > 0, f32(63) / max_min, f32(0)).astype(f32)
    ls = np.minimum(np.rint(inv_scale[:, None] * sc).astype(np.int64) & 0xFF, 63).astype(np.uint8)
    lm = np.minimum(np.rint(inv_min[:, None] * mins).astype(np.int64) & 0xFF, 63).astype(np.uint8)
    d16 = (max_scale / f32(63)).astype(np.float16)
    dmin16 = (max_min / f32(63)).astype(np.float16)
    d = d16.astype(f32)[:, None] * ls.astype(f32)          # per sub-block, as get_scale_min_k4 reads them back
    dm = dmin16.astype(f32)[:, None] * lm.astype(f32)
    xq = x.reshape(nb, 8, 32)
    with np.errstate(divide="ignore", invalid="ignore"):
        Lq = np.clip(np.rint((xq + dm[:, :, None]) / d[:, :, None]), 0, nmax)
    keep = (d == 0)[:, :, None]                              # `if (!d) continue;` keeps make_qkx2_quants' L
    L = np.where(keep, L.reshape(nb, 8, 32), np.nan_to_num(Lq)).astype(np.uint8).reshape(nb, 256)
    return d16, dmin16, _pack_scale_min_k4(ls, lm), L


def quantize_q4_k(x):
    """block_q4_K: d, dmin (f16), scales[12], qs[128]; y = d*sc*q - dmin*m, 8 sub-blocks of 32, q in 0..15."""
    x = np.ascontiguousarray(x, dtype=f32).reshape(-1, QK_K)
    nb = x.shape[0]
    d16, dmin16, scales, L = _qk_scales(x, 15, -1.0, 0.1, 20)
    L = L.reshape(nb, 4, 2, 32)                   # 64-element chunks: low nibble = first 32, high nibble = next 32
    qs = (L[:, :, 0, :] | (L[:, :, 1, :] << 4)).reshape(nb, 128)
    return np.concatenate([d16.view(np.uint8).reshape(nb, 2), dmin16.view(np.uint8).reshape(nb, 2), scales, qs], axis=1)


def quantize_q5_k(x):
    """block_q5_K: d, dmin (f16), scales[12], qh[32], qs[128]; q in 0..31, bit 4 of sub-block j's element l in qh[l] bit j."""
    x = np.ascontiguousarray(x, dtype=f32).reshape(-1, QK_K)
    nb = x.shape[0]
    d16, dmin16, scales, L = _qk_scales(x, 31, -0.5, 0.1, 15)
    L = L.reshape(nb, 8, 32)
    qh = np.zeros((nb, 32), np.uint8)
    for j in range(8):
        qh |= ((L[:, j, :] >> 4) & 1) << j
    lo = (L & 0xF).reshape(nb, 4, 2, 32)
    qs = (lo[:, :, 0, :] | (lo[:, :, 1, :] << 4)).reshape(nb, 128)
    return np.concatenate([d16.view(np.uint8).reshape(nb, 2), dmin16.view(np.uint8).reshape(nb, 2), scales, qh, qs], axis=1)


def _make_qx_quants_rmse1(x, nmax):
    """ggml make_qx_quants(n, nmax, x, L, rmse_type=1, NULL) for rows x (N, n): (scale, L) with L = l + nmax."""
    N = x.shape[0]
    imax = np.abs(x).argmax(axis=1)
    mx = x[np.arange(N), imax]
    zero = np.abs(mx) < f32(1e-15)
    mx = np.where(zero, f32(1), mx).astype(f32)
    w = x * x
    wx = w * x

    def trial(iscale):
        l = np.clip(np.rint(iscale[:, None] * x), -nmax, nmax - 1).astype(f32)
        return l, _seq_sum(wx * l), _seq_sum((w * l) * l)

    l, sumlx, suml2 = trial(f32(-nmax) / mx)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 != 0, sumlx / suml2, f32(0)).astype(f32)
        best = scale * sumlx
        for s in range(-9, 10):
            if s == 0:
                continue
            l2, sx, s2 = trial(-(f32(nmax) + f32(0.1) * f32(s)) / mx)
            upd = (s2 > 0) & (sx * sx > best * s2)
            l[upd] = l2[upd]
            scale = np.where(upd, sx / s2, scale).astype(f32)
            best = np.where(upd, scale * sx, best).astype(f32)
    L = (l + nmax).astype(np.int16)
    L[zero] = 0
    scale = np.where(zero, f32(0), scale).astype(f32)
    return scale, L


def quantize_q6_k(x):
    """block_q6_K: ql[128], qh[64], int8 scales[16], d (f16); y = d*sc[16-group]*(q - 32), q in 0..63."""
    x = np.ascontiguousarray(x, dtype=f32).reshape(-1, QK_K)
    nb = x.shape[0]
    sc, L = _make_qx_quants_rmse1(x.reshape(nb * 16, 16), 32)
    sc = sc.reshape(nb, 16); L = L.reshape(nb, 16, 16)
    imax = np.abs(sc).argmax(axis=1)
    max_scale = sc[np.arange(nb), imax]
    zero = np.abs(max_scale) < f32(1e-15)
    max_scale = np.where(zero, f32(1), max_scale).astype(f32)
    iscale = f32(-128) / max_scale
    d16 = (f32(1) / iscale).astype(np.float16)
    scales = np.minimum(127, np.rint(iscale[:, None] * sc)).astype(np.int8)
    d = d16.astype(f32)[:, None] * scales.astype(f32)
    xq = x.reshape(nb, 16, 16)
    with np.errstate(divide="ignore", invalid="ignore"):
        Lq = np.clip(np.rint(xq / d[:, :, None]), -32, 31) + 32
    L = np.where((d == 0)[:, :, None], L, np.nan_to_num(Lq)).astype(np.uint8).reshape(nb, 2, 4, 32)
    # per 128-half: ql[l] = L[l] | L[l+64] << 4, ql[l+32] = L[l+32] | L[l+96] << 4, qh[l] = 2-bit highs of L[l + 32k] at 2k
    ql = np.concatenate([(L[:, :, 0] & 0xF) | ((L[:, :, 2] & 0xF) << 4),
                         (L[:, :, 1] & 0xF) | ((L[:, :, 3] & 0xF) << 4)], axis=2).reshape(nb, 128)
    qh = ((L[:, :, 0] >> 4) | ((L[:, :, 1] >> 4) << 2) | ((L[:, :, 2] >> 4) << 4) | ((L[:, :, 3] >> 4) << 6)).reshape(nb, 64)
    d16 = np.where(zero, np.float16(0), d16)
    out = np.concatenate([ql, qh, scales.view(np.uint8), d16.view(np.uint8).reshape(nb, 2)], axis=1)
    out[zero] = 0
    return out


K_QUANTIZERS = {Q.Q4_K: quantize_q4_k, Q.Q5_K: quantize_q5_k, Q.Q6_K: quantize_q6_k}


def quantize(data, qtype):
    """2-D float32 [rows, cols] -> uint8 [rows, cols/bs*ts] in qtype (K-quants here, the rest via gguf.quants)."""
    if qtype in K_QUANTIZERS:
        rows, cols = data.shape
        return K_QUANTIZERS[qtype](data).reshape(rows, cols // QK_K * gguf.GGML_QUANT_SIZES[qtype][1])
    return gguf.quants.quantize(data, qtype)


# ---------- llama-quantize's type choice ----------
FILE_TYPE = {"F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "BF16": 32,
             # pure Q4_K / Q5_K have no ftype of their own: they carry the nearest, LLAMA_FTYPE_MOSTLY_Q4_K_S / Q5_K_S
             "Q4_K": 14, "Q5_K": 16, "Q6_K": 18, "Q4_K_M": 15, "Q5_K_M": 17}
FALLBACK = {Q.Q4_K: Q.Q5_0, Q.Q5_K: Q.Q5_1, Q.Q6_K: Q.Q8_0}


def fallback(qtype, cols):
    """llama.cpp tensor_type_fallback: a 256-block type on a tensor whose columns it does not divide."""
    if cols % gguf.GGML_QUANT_SIZES[qtype][0] == 0:
        return qtype
    qtype = FALLBACK.get(qtype, qtype)
    return qtype if cols % gguf.GGML_QUANT_SIZES[qtype][0] == 0 else Q.F16


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def mix_types(tensors, mix):
    """{name: type} for the 2-D tensors, as llama_tensor_get_type does for ftype `mix` (no imatrix, one expert)."""
    default = {"Q4_K_M": Q.Q4_K, "Q5_K_M": Q.Q5_K}.get(mix) or Q[mix]
    # llama-quantize walks the tensors in its loader's order (weight_name_comparer: by layer number, then by name),
    # and its attn_v / ffn_down counters follow that order, not the file's (blk.10 comes after blk.9)
    tensors = sorted(tensors, key=lambda t: (int(m.group(1)) if (m := re.match(r"blk\.(\d+)\.", t.name)) else -1, t.name))
    tied = not any(t.name == "output.weight" for t in tensors)
    n_v = sum(1 for t in tensors if t.name.endswith("attn_v.weight"))
    n_down = sum(1 for t in tensors if t.name.endswith("ffn_down.weight"))
    i_v = i_down = 0
    out = {}
    for t in tensors:
        cols = int(t.shape[0])
        name = t.name
        if mix in ("Q4_K_M", "Q5_K_M"):
            qt = default
            if name == "output.weight" or (tied and name == "token_embd.weight"):
                qt = Q.Q8_0 if cols % gguf.GGML_QUANT_SIZES[qt][0] else Q.Q6_K
            elif name == "token_embd.weight":
                pass
            elif name.endswith("attn_v.weight"):
                if use_more_bits(i_v, n_v):
                    qt = Q.Q6_K
                i_v += 1
            elif name.endswith("ffn_down.weight"):
                if use_more_bits(i_down, n_down):
                    qt = Q.Q6_K
                i_down += 1
        else:
            qt = default
        out[name] = fallback(qt, cols)
    return out


def quantizable(t):
    return len(t.shape) >= 2 and not t.name.endswith("_norm.weight")


def main():
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(selftest())
    src, dst, tname = sys.argv[1], sys.argv[2], sys.argv[3].upper()
    r = GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(dst, arch)
    # general.file_type names the tensors' type (llama.cpp's LLAMA_FTYPE_MOSTLY_*), so tools report it truthfully
    w.add_uint32("general.file_type", FILE_TYPE[tname])
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        vt = f.types[0]
        if vt == GGUFValueType.ARRAY:
            w.add_array(name, f.contents())
        else:
            w.add_key_value(name, f.contents(), vt)
    legacy = tname in ("F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1")
    types = {} if legacy else mix_types([t for t in r.tensors if quantizable(t)], tname)
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape.tolist())]     # numpy order: [rows, cols]
        data = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        if legacy:
            target = Q[tname]
            if len(shape) == 2 and shape[-1] % gguf.GGML_QUANT_SIZES[target][0] == 0:
                if target == Q.F16:
                    w.add_tensor(t.name, data.astype(np.float16), raw_dtype=Q.F16)
                else:
                    q = gguf.quants.quantize(data, target)
                    w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=target)
            else:
                w.add_tensor(t.name, data)
        elif t.name in types:
            target = types[t.name]
            if target == Q.F16:
                w.add_tensor(t.name, data.astype(np.float16), raw_dtype=Q.F16)
            else:
                q = quantize(data.reshape(-1, shape[-1]), target)
                w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=target)
        else:
            w.add_tensor(t.name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def selftest():
    """Round-trip through gguf.quants.dequantize (the independent reading of ggml's layouts): relative RMS error must be
    what the format's bits allow, and every sub-block's values must come back from its own scale (no crossed bytes)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal((64, 1024)), rng.standard_normal((64, 1024)) * 0.02,
                        rng.standard_normal((32, 1024)) ** 3, np.abs(rng.standard_normal((16, 1024))),
                        np.zeros((4, 1024)), np.full((4, 1024), 0.5)]).astype(f32)
    x[-8:-6, :300] = 0    # all-zero blocks beside non-zero ones in a row
    bound = {Q.Q4_K: 0.12, Q.Q5_K: 0.06, Q.Q6_K: 0.03}     # rel. RMS of the round trip on N(0,1) rows (ggml: ~0.09/0.045/0.02)
    ok = True
    for qt, fn in K_QUANTIZERS.items():
        qb = quantize(x, qt)
        assert qb.shape == (x.shape[0], 1024 // 256 * gguf.GGML_QUANT_SIZES[qt][1]), qb.shape
        y = gguf.quants.dequantize(qb, qt).reshape(x.shape)
        err = np.sqrt(((y - x) ** 2).mean(axis=1)) / np.maximum(np.sqrt((x ** 2).mean(axis=1)), 1e-30)
        gauss = float(err[:64].mean())
        tiny = float(err[64:128].mean())
        worst = float(err[:-8].max())
        zero_ok = bool(np.all(y[-8:-4] == x[-8:-4]))
        const_err = float(np.abs(y[-4:] - 0.5).max())
        good = gauss < bound[qt] and tiny < bound[qt] and worst < 3 * bound[qt] and zero_ok and const_err < 0.01
        ok &= good
        print(f"{qt.name}: rel RMS error N(0,1) {gauss:.4f}, N(0,0.02^2) {tiny:.4f}, worst row {worst:.4f}, "
              f"zeros exact {zero_ok}, constant 0.5 max err {const_err:.2e} -> {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    main()
