#!/bin/sh
# Builds the harness against the package's C sources and runs the check and the gguf cross-check.
set -e
here=$(cd "$(dirname "$0")" && pwd); root=$here/../..; out=${OUT:-/tmp/ckh}; mkdir -p "$out"
CC=${CC:-clang}
inc="-I $root/Sources/CKernels/include -I $root/Sources/CBLAS/include -I $root/Sources/COpenBLAS"
$CC -O3 -std=gnu11 $inc -c "$root/Sources/CKernels/quant.c" -o "$out/quant.o"
$CC -O3 -std=gnu11 $inc -c "$root/Sources/CKernels/pool.c" -o "$out/pool.o"
$CC -O2 -std=gnu11 $inc -c "$root/Sources/CBLAS/loader.c" -o "$out/loader.o"
$CC -O2 -mavx2 -mfma -mf16c -std=gnu11 $inc -c "$here/harness.c" -o "$out/harness.o"
$CC "$out"/harness.o "$out"/quant.o "$out"/pool.o "$out"/loader.o -o "$out/h" -lpthread -ldl -lm
"$out/h" check | tail -1
DUMP_DIR=$out "$out/h" dump && DUMP_DIR=$out python3 "$here/gguf_check.py"
