#!/usr/bin/env python3
"""Runs llama.cpp's llama-server on each random-weight test model (models/test-arch/) and compares its greedy ids on
the fixture prompts with Tests/ModelTests/Fixtures/arch/<name>.json (scripts/arch_reference.py). A third opinion on
the files (llama.cpp loads them: names and keys are right) and on the reference's semantics (RoPE layouts, biases,
q/k norms, head_dim, Llama 3 frequency factors). Not part of the tests (it needs a llama.cpp build).

  python3 scripts/compare-arch-llama-cpp.py [--f32] [/path/to/llama.cpp/build/bin] [PORT]

llama.cpp multiplies F16 / Q8_0 / K-quant weights with activations rounded to F16 / 8 bits, which moves these tiny
random models' logits by ~1e-2, enough to flip a close greedy step; --f32 runs it on F32 copies of the files (same
weight values, dequantized), where it computes in fp32 like the reference.
"""
import glob
import json
import os
import subprocess
import sys
import time
import tempfile
import urllib.request

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType, GGUFWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F32 = "--f32" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--f32"]
BIN = ARGS[0] if ARGS else "/tmp/llama.cpp-peer/build/bin"
PORT = int(ARGS[1]) if len(ARGS) > 1 else 18182


def f32_copy(src, dst):
    r = GGUFReader(src)
    w = GGUFWriter(dst, r.fields["general.architecture"].contents())
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        if f.types[0] == GGUFValueType.ARRAY:
            w.add_array(k, f.contents())
        else:
            w.add_key_value(k, f.contents(), f.types[0])
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape.tolist())]
        w.add_tensor(t.name, gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def main():
    ok = True
    tmp = tempfile.mkdtemp()
    for fx in sorted(glob.glob(os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "arch", "*.json"))):
        g = json.load(open(fx))
        model = os.path.join(ROOT, "models", "test-arch", g["model"])
        if F32:
            f32_copy(model, os.path.join(tmp, g["model"]))
            model = os.path.join(tmp, g["model"])
        srv = subprocess.Popen([os.path.join(BIN, "llama-server"), "-m", model, "--port", str(PORT), "-c", "256",
                                "-t", "1", "-np", "1", "--host", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2)
                    break
                except Exception:
                    time.sleep(0.5)
            for c in g["cases"]:
                r = post("/completion", {"prompt": c["prompt_ids"], "n_predict": len(c["generated_ids"]),
                                         "temperature": 0, "top_k": 1, "cache_prompt": False,
                                         "return_tokens": True, "ignore_eos": False})
                got = r.get("tokens", [])
                n = next((i for i, (a, b) in enumerate(zip(got, c["generated_ids"])) if a != b), min(len(got), len(c["generated_ids"])))
                same = got == c["generated_ids"]
                ok &= same
                print(f"{g['model']}{' (F32 copy)' if F32 else ''} {c['name']}: llama.cpp {'agrees on all' if same else f'agrees on the first {n} of'} "
                      f"{len(c['generated_ids'])} ids" + ("" if same else f" (llama.cpp {got}, reference {c['generated_ids']})"))
        finally:
            srv.terminate()
            srv.wait()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
