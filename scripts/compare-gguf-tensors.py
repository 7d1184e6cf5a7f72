#!/usr/bin/env python3
"""Compares two GGUF files tensor by tensor: type, bytes, and (when the bytes differ) the dequantized values.

  python3 scripts/compare-gguf-tensors.py A.gguf B.gguf [--list]

Used to check make-variant.py's K-quant mixes against llama-quantize's (`llama-quantize --allow-requantize IN OUT
Q4_K_M`): same type for every tensor, and byte-identical data. --list prints every tensor's type in both files.
Exit status 0 when types and bytes all agree. Needs numpy and gguf.
"""
import collections
import sys

import numpy as np
import gguf
from gguf import GGUFReader


def main():
    a, b = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2])
    ta = {t.name: t for t in a.tensors}
    tb = {t.name: t for t in b.tensors}
    ok = set(ta) == set(tb)
    if not ok:
        print(f"tensor names differ: only in A {sorted(set(ta) - set(tb))}, only in B {sorted(set(tb) - set(ta))}")
    ca, cb = collections.Counter(), collections.Counter()
    n_type = n_bytes = 0
    for n in sorted(set(ta) & set(tb)):
        x, y = ta[n], tb[n]
        ca[x.tensor_type.name] += 1
        cb[y.tensor_type.name] += 1
        line = f"{n:36s} {x.tensor_type.name:6s} {y.tensor_type.name:6s}"
        if x.tensor_type != y.tensor_type:
            ok = False
            print(line, "TYPE DIFFERS")
            continue
        n_type += 1
        bx, by = np.asarray(x.data).view(np.uint8).ravel(), np.asarray(y.data).view(np.uint8).ravel()
        if np.array_equal(bx, by):
            n_bytes += 1
            if "--list" in sys.argv:
                print(line, "identical")
        else:
            ok = False
            dx = gguf.quants.dequantize(x.data, x.tensor_type)
            dy = gguf.quants.dequantize(y.data, y.tensor_type)
            print(line, f"bytes differ ({np.mean(bx != by) * 100:.3f}%), max |dequantized diff| {np.abs(dx - dy).max():.3g}")
    fa, fb = (r.fields["general.file_type"].contents() if "general.file_type" in r.fields else None for r in (a, b))
    print(f"A: {dict(sorted(ca.items()))}  general.file_type {fa}")
    print(f"B: {dict(sorted(cb.items()))}  general.file_type {fb}")
    print(f"{len(ta)} tensors: {n_type} of the same type, {n_bytes} byte-identical")
    sys.exit(0 if ok and fa == fb else 1)


if __name__ == "__main__":
    main()
