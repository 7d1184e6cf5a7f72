# Our dequantization of random blocks (harness dump) against the gguf package's (an independent implementation).
import os, sys
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize
d = os.environ.get("DUMP_DIR", "/tmp")
bad = 0
for name in ["Q4_0", "Q8_0", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]:
    raw = np.fromfile(f"{d}/dump_{name}.bin", dtype=np.uint8)
    ours = np.fromfile(f"{d}/dump_{name}.f32", dtype=np.float32)
    ref = dequantize(raw, getattr(T, name)).astype(np.float32).reshape(-1)
    same = ref.shape == ours.shape and np.array_equal(ref, ours)
    bad += not same
    print(f"{name}: {ours.size} values {'bit-identical' if same else 'DIFFER'}")
sys.exit(1 if bad else 0)
