#!/usr/bin/env python3
"""Re-quantizes a GGUF model into another tensor type with the `gguf` package (numpy reference quantizers), as
`llama-quantize --allow-requantize IN OUT TYPE` does: every 2-D weight is dequantized and quantized again to TYPE,
1-D tensors (norms) stay F32, metadata is copied unchanged. Deterministic: the same input gives the same bytes.

  python3 scripts/make-variant.py IN.gguf OUT.gguf TYPE      (TYPE: F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)

The tests use it to make Q8_0/Q4_0/F16 variants of the shipped SmolLM2 file without building llama.cpp;
scripts/compare-llama-cpp.sh uses llama-quantize itself. Needs numpy and gguf (pip install numpy gguf).
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFWriter, GGUFValueType


def main():
    src, dst, tname = sys.argv[1], sys.argv[2], sys.argv[3].upper()
    target = Q[tname]
    r = GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(dst, arch)
    # general.file_type names the tensors' type (llama.cpp's LLAMA_FTYPE_MOSTLY_*), so tools report it truthfully
    ftype = {"F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "BF16": 32}[tname]
    w.add_uint32("general.file_type", ftype)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        vt = f.types[0]
        if vt == GGUFValueType.ARRAY:
            w.add_array(name, f.contents())
        else:
            w.add_key_value(name, f.contents(), vt)
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape.tolist())]     # numpy order: [rows, cols]
        data = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        if len(shape) == 2 and shape[-1] % gguf.GGML_QUANT_SIZES[target][0] == 0:
            if target == Q.F16:
                w.add_tensor(t.name, data.astype(np.float16), raw_dtype=Q.F16)
            else:
                q = gguf.quants.quantize(data, target)
                w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=target)
        else:
            w.add_tensor(t.name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
