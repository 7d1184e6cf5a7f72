#!/usr/bin/env bash
# Builds and runs scripts/hwprobe.c: peak FLOP rates, memory bandwidth and OpenBLAS SGEMM at the model's shapes,
# with the OpenBLAS core type the engine picks on this CPU (override with OPENBLAS_CORETYPE=...).
set -euo pipefail
cd "$(dirname "$0")"
out=${TMPDIR:-/tmp}/swiftlet-hwprobe
cc -O3 -march=native -pthread hwprobe.c -o "$out" -I/usr/include/x86_64-linux-gnu -lopenblas
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -q avx512_bf16 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Cooperlake
  elif grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -q avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default}"
"$out"
