#!/usr/bin/env bash
# Makes the re-quantized SmolLM2 variants the model tests check against the oracle's goldens (Q8_0, Q4_0, F16, Q5_0 of
# the shipped Q4_1 file with the pinned gguf package's quantizers; Q6_K and the mixes Q4_K_M, Q5_K_M with
# make-variant.py's ports of ggml's K-quantizers, byte-identical to llama-quantize's; deterministic bytes), in models/variants/, and checks their
# sha256 against Tests/ModelTests/Fixtures/variants/SHA256SUMS. Idempotent: existing, matching files are kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python3 -c "import importlib.metadata as m, sys, numpy; sys.exit(m.version('gguf') != '0.19.0')" 2>/dev/null || python3 -m pip install --quiet "gguf==0.19.0" numpy
base=$root/models/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$root/models/variants"
sums=$root/Tests/ModelTests/Fixtures/variants/SHA256SUMS
for q in Q8_0 Q4_0 F16 Q4_K_M Q5_K_M Q6_K Q5_0; do
  f=$root/models/variants/SmolLM2-135M-Instruct.$q.gguf
  want=$(awk -v n="SmolLM2-135M-Instruct.$q.gguf" '$2 == n {print $1}' "$sums" 2>/dev/null || true)
  if [ -f "$f" ] && [ -n "$want" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$want" ]; then continue; fi
  echo "making $q variant of $(basename "$base") ..." >&2
  python3 "$root/scripts/make-variant.py" "$base" "$f.tmp" "$q"
  mv "$f.tmp" "$f"
  got=$(sha256sum "$f" | cut -d' ' -f1)
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    echo "$f: sha256 $got, expected $want (a different gguf package version?); the goldens in Tests/ModelTests/Fixtures/variants are for the expected bytes" >&2
    exit 1
  fi
done
