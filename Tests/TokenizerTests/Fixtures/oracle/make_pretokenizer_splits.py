#!/usr/bin/env python3
"""Expected pre-tokenizer splits from the Python `regex` module running the original regexes
(llama.cpp src/llama-vocab.cpp / the models' tokenizer.json). 'smollm' = split every \\p{N} first, then GPT-2 inside each piece."""
import json, regex, sys
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
def gaps_and_matches(pattern, text):
    out, pos = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > pos: out.append(text[pos:m.start()])
        out.append(m.group()); pos = m.end()
    if pos < len(text): out.append(text[pos:])
    return out
def smollm(text):
    return [w for piece in gaps_and_matches(r"\p{N}", text) for w in gaps_and_matches(GPT2, piece)]
TEXTS = ["Hello world", "  two  spaces   here  ", "I'm we'LL they've", "year 2024: 1234567 items, 3.14",
         "line one\nline two\r\n\n  indented\tand\ttabs", "emoji 😀🚀 and 日本語 and café", "a==b && c!=d; x+=1 // (ok)",
         "trailing spaces   ", "\n\n\nstart", "ÀÉÎ õü ß", "HELLO'S THERE'D", "x   \n   y"]
json.dump({"texts": TEXTS, "gpt2": [gaps_and_matches(GPT2, t) for t in TEXTS],
           "llama3": [gaps_and_matches(LLAMA3, t) for t in TEXTS], "qwen2": [gaps_and_matches(QWEN2, t) for t in TEXTS],
           "smollm": [smollm(t) for t in TEXTS]}, sys.stdout, ensure_ascii=False, indent=1)
