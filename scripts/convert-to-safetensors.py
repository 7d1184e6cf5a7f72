#!/usr/bin/env python3
"""Convert llama2.c and GGUF (llama architecture) models to Hugging Face safetensors directories.

Needs python3 and numpy only: the safetensors format and tokenizer.json are written by hand.

  convert-to-safetensors.py llama2c MODEL.bin TOKENIZER.bin OUTDIR
  convert-to-safetensors.py gguf MODEL.gguf OUTDIR [--tokenizer-only]

OUTDIR gets config.json, model.safetensors (F32, or nothing with --tokenizer-only), tokenizer.json,
tokenizer_config.json. Q/K are stored in the Hugging Face ("rotate_half", NeoX) layout: llama2.c and GGUF
keep Meta's adjacent-pair layout, so the permutation HF's convert_llama_weights_to_hf.py applies is applied here.
Quantized GGUF tensors (Q4_0, Q4_1, Q8_0, F16) are dequantized to F32.
"""
import json, os, struct, sys
import numpy as np

# ---------- safetensors ----------
def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 ndarray). Header padded with spaces to 8 bytes, data in list order."""
    header, offset = {}, 0
    if metadata: header['__metadata__'] = metadata
    for name, a in tensors:
        n = a.size * 4
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + n]}
        offset += n
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for _, a in tensors: f.write(np.ascontiguousarray(a, dtype='<f4').tobytes())

def to_hf_rope(w, n_heads):
    """Meta/GGUF adjacent-pair rows -> HF rotate_half rows (per head: evens first, then odds)."""
    out, inp = w.shape
    return w.reshape(n_heads, out // n_heads // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)

def hf_tensors(emb, final, out, layers, nh, nkv):
    """layers: dicts with attn_norm, attn_q/k/v, attn_output, ffn_norm, ffn_gate/up/down as [out, in] arrays."""
    t = [('model.embed_tokens.weight', emb)]
    for l, w in enumerate(layers):
        p = f'model.layers.{l}.'
        t += [(p + 'input_layernorm.weight', w['attn_norm']),
              (p + 'self_attn.q_proj.weight', to_hf_rope(w['attn_q'], nh)),
              (p + 'self_attn.k_proj.weight', to_hf_rope(w['attn_k'], nkv)),
              (p + 'self_attn.v_proj.weight', w['attn_v']),
              (p + 'self_attn.o_proj.weight', w['attn_output']),
              (p + 'post_attention_layernorm.weight', w['ffn_norm']),
              (p + 'mlp.gate_proj.weight', w['ffn_gate']),
              (p + 'mlp.up_proj.weight', w['ffn_up']),
              (p + 'mlp.down_proj.weight', w['ffn_down'])]
    t.append(('model.norm.weight', final))
    if out is not None: t.append(('lm_head.weight', out))
    return t

def config_json(dim, hidden, L, nh, nkv, V, ctx, theta, eps, tied, bos, eos):
    return {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': dim,
            'intermediate_size': hidden, 'num_hidden_layers': L, 'num_attention_heads': nh,
            'num_key_value_heads': nkv, 'head_dim': dim // nh, 'hidden_act': 'silu', 'rms_norm_eps': eps,
            'rope_theta': theta, 'vocab_size': V, 'max_position_embeddings': ctx,
            'tie_word_embeddings': tied, 'bos_token_id': bos, 'eos_token_id': eos, 'torch_dtype': 'float32'}

def dump(path, obj):
    with open(path, 'w', encoding='utf-8') as f: json.dump(obj, f, ensure_ascii=False, indent=1)

# ---------- tokenizer.json ----------
def added(i, text, special):
    return {'id': i, 'content': text, 'single_word': False, 'lstrip': False, 'rstrip': False,
            'normalized': False, 'special': special}

def spm_tokenizer_json(pieces, scores, types):
    """SentencePiece-style (Llama) BPE: merges from scores as HF's SentencePieceExtractor builds them."""
    vocab = {}
    for i, p in enumerate(pieces): vocab.setdefault(p, i)
    merges = []
    for i, piece in enumerate(pieces):
        if types[i] != 1 or len(piece) < 2: continue
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda lr: (vocab[lr[0]], vocab[lr[1]]))
        merges += [(l, r, scores[i]) for l, r in local]
    merges.sort(key=lambda m: -m[2])   # stable: ties keep id order
    specials = [added(i, p, True) for i, p in enumerate(pieces) if types[i] in (2, 3)]
    bos = next((p for i, p in enumerate(pieces) if types[i] == 3 and p == '<s>'), None)
    return {'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': specials,
            'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '▁'},
                                                               {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'}]},
            'pre_tokenizer': None,
            'post_processor': {'type': 'TemplateProcessing',
                               'single': ([{'SpecialToken': {'id': bos, 'type_id': 0}}] if bos else [])
                                         + [{'Sequence': {'id': 'A', 'type_id': 0}}],
                               'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                               'special_tokens': {bos: {'id': bos, 'ids': [vocab[bos]], 'tokens': [bos]}} if bos else {}},
            'decoder': {'type': 'Sequence', 'decoders': [
                {'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '}, {'type': 'ByteFallback'},
                {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
            'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                      'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                      'vocab': vocab, 'merges': [[l, r] for l, r, _ in merges]}}

PRE_TOKENIZERS = {
    'smollm': {'type': 'Sequence', 'pretokenizers': [
        {'type': 'Digits', 'individual_digits': True},
        {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}]},
    'gpt-2': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
}

def bpe_tokenizer_json(tokens, types, merges, pre, bos, eos):
    """Byte-level (GPT-2 style) BPE; merges written in the "a b" string form."""
    if pre not in PRE_TOKENIZERS: sys.exit(f'unsupported tokenizer.ggml.pre {pre!r} (supported: {sorted(PRE_TOKENIZERS)})')
    vocab = {}
    for i, t in enumerate(tokens): vocab.setdefault(t, i)
    specials = [added(i, t, types[i] == 3 or i in (bos, eos)) for i, t in enumerate(tokens) if types[i] in (3, 4) or i in (bos, eos)]
    return {'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': specials, 'normalizer': None,
            'pre_tokenizer': PRE_TOKENIZERS[pre],
            'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True},
            'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
            'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                      'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                      'vocab': vocab, 'merges': merges}}

def tokenizer_config(tokens, bos, eos, add_bos, add_eos, template):
    c = {'add_bos_token': add_bos, 'add_eos_token': add_eos, 'bos_token': tokens[bos] if bos is not None else None,
         'eos_token': tokens[eos] if eos is not None else None, 'tokenizer_class': 'PreTrainedTokenizerFast'}
    if template: c['chat_template'] = template
    return c

# ---------- GGUF ----------
class GGUF:
    SCALAR = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}
    def __init__(self, path):
        self.d = open(path, 'rb').read()
        assert self.d[:4] == b'GGUF', f'{path}: not a GGUF file'
        self.o = 4; self.rd('<I'); nt = self.rd('<Q'); nkv = self.rd('<Q'); self.kv = {}
        for _ in range(nkv):
            k = self.rs(); t = self.rd('<I'); self.kv[k] = self.rv(t)
        self.info = {}
        for _ in range(nt):
            n = self.rs(); nd = self.rd('<I'); dims = [self.rd('<Q') for _ in range(nd)]
            t = self.rd('<I'); off = self.rd('<Q'); self.info[n] = (dims, t, off)
        al = self.kv.get('general.alignment', 32); self.base = (self.o + al - 1) // al * al
    def rd(self, f):
        v = struct.unpack_from(f, self.d, self.o); self.o += struct.calcsize(f); return v[0]
    def rs(self):
        n = self.rd('<Q'); s = self.d[self.o:self.o + n]; self.o += n; return s.decode('utf-8')
    def rv(self, t):
        if t in self.SCALAR: return self.rd(self.SCALAR[t])
        if t == 8: return self.rs()
        if t == 9:
            et = self.rd('<I'); n = self.rd('<Q'); return [self.rv(et) for _ in range(n)]
        raise ValueError(f'GGUF value type {t}')
    def tensor(self, name):
        """Dequantized float32, numpy shape = GGUF dims reversed (row-major [out, in])."""
        dims, t, off = self.info[name]; ne = int(np.prod(dims)); p = self.base + off; d = self.d
        if t == 0: a = np.frombuffer(d, np.float32, ne, p).copy()
        elif t == 1: a = np.frombuffer(d, np.float16, ne, p).astype(np.float32)
        elif t == 8:   # Q8_0: f16 scale + 32 int8
            b = np.frombuffer(d, np.uint8, ne // 32 * 34, p).reshape(-1, 34)
            a = (b[:, 2:].copy().view(np.int8).astype(np.float32) * b[:, :2].copy().view(np.float16).astype(np.float32)).ravel()
        elif t == 2:   # Q4_0: f16 scale + 16 bytes of nibbles, value = (q - 8) * d
            b = np.frombuffer(d, np.uint8, ne // 32 * 18, p).reshape(-1, 18)
            sc = b[:, :2].copy().view(np.float16).astype(np.float32); qs = b[:, 2:]
            a = ((np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float32) - 8) * sc).ravel()
        elif t == 3:   # Q4_1: f16 scale, f16 min + 16 bytes of nibbles, value = q * d + m
            b = np.frombuffer(d, np.uint8, ne // 32 * 20, p).reshape(-1, 20)
            sc = b[:, 0:2].copy().view(np.float16).astype(np.float32); mn = b[:, 2:4].copy().view(np.float16).astype(np.float32)
            qs = b[:, 4:]; a = (np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float32) * sc + mn).ravel()
        else: sys.exit(f'{name}: GGUF tensor type {t} not supported')
        return a.reshape(list(reversed(dims))) if len(dims) > 1 else a

def gguf_tokenizer(g):
    kv = g.kv; tokens = kv['tokenizer.ggml.tokens']; types = kv.get('tokenizer.ggml.token_type') or [1] * len(tokens)
    model = kv.get('tokenizer.ggml.model')
    if model == 'llama':
        tj = spm_tokenizer_json(tokens, kv['tokenizer.ggml.scores'], types)
        bos, eos, add_bos = kv.get('tokenizer.ggml.bos_token_id', 1), kv.get('tokenizer.ggml.eos_token_id', 2), True
    elif model == 'gpt2':
        bos, eos, add_bos = kv.get('tokenizer.ggml.bos_token_id', 11), kv.get('tokenizer.ggml.eos_token_id', 11), False
        tj = bpe_tokenizer_json(tokens, types, kv['tokenizer.ggml.merges'], kv.get('tokenizer.ggml.pre', 'gpt-2'), bos, eos)
    else: sys.exit(f'unsupported tokenizer.ggml.model {model!r}')
    add_bos = kv.get('tokenizer.ggml.add_bos_token', add_bos)
    cfg = tokenizer_config(tokens, bos, eos, add_bos, kv.get('tokenizer.ggml.add_eos_token', False),
                           kv.get('tokenizer.chat_template'))
    return tj, cfg, bos, eos

def convert_gguf(path, out, tokenizer_only):
    g = GGUF(path); kv = g.kv; os.makedirs(out, exist_ok=True)
    tj, tc, bos, eos = gguf_tokenizer(g)
    dump(os.path.join(out, 'tokenizer.json'), tj); dump(os.path.join(out, 'tokenizer_config.json'), tc)
    if tokenizer_only: return
    A = kv['general.architecture']
    if A != 'llama': sys.exit(f'{path}: architecture {A!r} is not llama')
    dim, nh = kv[A + '.embedding_length'], kv[A + '.attention.head_count']; nkv = kv.get(A + '.attention.head_count_kv', nh)
    emb = g.tensor('token_embd.weight'); tied = 'output.weight' not in g.info
    names = ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']
    layers = [{k: g.tensor(f'blk.{l}.{k}.weight') for k in names} for l in range(kv[A + '.block_count'])]
    tensors = hf_tensors(emb, g.tensor('output_norm.weight'), None if tied else g.tensor('output.weight'), layers, nh, nkv)
    write_safetensors(os.path.join(out, 'model.safetensors'), tensors, {'format': 'pt'})
    dump(os.path.join(out, 'config.json'), config_json(
        dim, kv[A + '.feed_forward_length'], len(layers), nh, nkv, emb.shape[0], kv.get(A + '.context_length', 2048),
        kv.get(A + '.rope.freq_base', 10000.0), kv.get(A + '.attention.layer_norm_rms_epsilon', 1e-5), tied, bos, eos))

# ---------- llama2.c ----------
def llama2c_tokenizer(path, vocab_size):
    d = open(path, 'rb').read(); o = 4; pieces, scores = [], []
    while o < len(d) and len(pieces) < vocab_size:
        s, n = struct.unpack_from('<fi', d, o); o += 8
        pieces.append(d[o:o + n].decode('utf-8')); scores.append(s); o += n
    types = []
    for i, p in enumerate(pieces):
        if i == 0: pieces[i] = '<unk>'; types.append(2)
        elif i in (1, 2): pieces[i] = ['<s>', '</s>'][i - 1]; types.append(3)   # stored as "\n<s>\n", "\n</s>\n"
        elif len(p) == 6 and p.startswith('<0x') and p.endswith('>'): types.append(6)
        else: pieces[i] = p.replace(' ', '▁'); types.append(1)               # tokenizer.py wrote '▁' as ' '
    return pieces, scores, types

def convert_llama2c(path, tok_path, out):
    d = open(path, 'rb').read(); dim, hd, L, nh, nkv, V, S = struct.unpack('<7i', d[:28])
    shared = V > 0; V = abs(V); W = np.frombuffer(d[28:], np.float32); kvd = dim * nkv // nh; hs = dim // nh; o = 0
    def take(*sh):
        nonlocal o; n = int(np.prod(sh)); a = W[o:o + n].reshape(sh); o += n; return a
    emb = take(V, dim); ra = take(L, dim); wq = take(L, dim, dim); wk = take(L, kvd, dim); wv = take(L, kvd, dim)
    wo = take(L, dim, dim); rf = take(L, dim); w1 = take(L, hd, dim); w2 = take(L, dim, hd); w3 = take(L, hd, dim)
    fin = take(dim); take(S, hs // 2); take(S, hs // 2); wcls = None if shared else take(V, dim)
    layers = [dict(attn_norm=ra[l], attn_q=wq[l], attn_k=wk[l], attn_v=wv[l], attn_output=wo[l], ffn_norm=rf[l],
                   ffn_gate=w1[l], ffn_up=w3[l], ffn_down=w2[l]) for l in range(L)]
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, 'model.safetensors'), hf_tensors(emb, fin, wcls, layers, nh, nkv), {'format': 'pt'})
    dump(os.path.join(out, 'config.json'), config_json(dim, hd, L, nh, nkv, V, S, 10000.0, 1e-5, shared, 1, 2))
    pieces, scores, types = llama2c_tokenizer(tok_path, V)
    dump(os.path.join(out, 'tokenizer.json'), spm_tokenizer_json(pieces, scores, types))
    dump(os.path.join(out, 'tokenizer_config.json'), tokenizer_config(pieces, 1, 2, True, False, None))

def main(argv):
    if len(argv) == 5 and argv[1] == 'llama2c': convert_llama2c(argv[2], argv[3], argv[4])
    elif len(argv) in (4, 5) and argv[1] == 'gguf' and argv[4:] in ([], ['--tokenizer-only']):
        convert_gguf(argv[2], argv[3], argv[4:] == ['--tokenizer-only'])
    else: sys.exit(__doc__)

if __name__ == '__main__':
    main(sys.argv)
