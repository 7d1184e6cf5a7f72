#!/usr/bin/env bash
# Swiftlet against llama.cpp on the same GGUF files, in one run, on this machine: prefill 512 tokens, single-stream
# decode, aggregate decode at 8/32/64 streams (128-token prompts, 128 tokens out), and resident memory after load with
# a 64 MiB KV cache. Prints one table per precision with the ratios, beside scripts/hwprobe.sh's roofs.
#
# Usage: scripts/compare-llama-cpp.sh [MODEL.gguf ...]
#   default files: the shipped SmolLM2 Q4_1 and the Q4_0 / Q8_0 variants made from it with llama-quantize.
# Env: SWIFTLET_BIN (a built swiftlet; default: build it), PRECISIONS ("exact fast"), NPL ("8 32 64"), THREADS (all cores), PEER (llama.cpp bin folder; default: built by
#      ../shared/peers/llama-cpp.sh), SKIP_MEMORY=1, SKIP_PEER=1 (Swiftlet only).
# llama.cpp figures: llama-bench (pp512, tg128) and llama-batched-bench (S_TG at -npp 128 -ntg 128 -npl N).
# Swiftlet figures: `swiftlet generate --prompts-file` (first-token time of a 512-token prompt, best of 3; the
# summary's decode_tokens_per_s, i.e. tokens after each request's first over the span after the last first token).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-$(nproc)}
precisions=${PRECISIONS:-"exact fast"}
npl=${NPL:-"8 32 64"}
if [ -n "${SWIFTLET_BIN:-}" ]; then bin=$SWIFTLET_BIN; else
  "$root/scripts/setup.sh" >&2
  swift build -c release -Xswiftc -enable-testing --package-path "$root" --product swiftlet >&2
  bin="$root/.build/release/swiftlet"
fi
if [ "${SKIP_PEER:-0}" != 1 ]; then
  peer=${PEER:-$("$root/../shared/peers/llama-cpp.sh")}
fi
work=${TMPDIR:-/tmp}/swiftlet-compare
mkdir -p "$work" "$root/models/variants/llama-quantize"

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  base="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
  files=("$base")
  for q in Q4_0 Q8_0; do
    v="$root/models/variants/llama-quantize/SmolLM2-135M-Instruct.$q.gguf"
    if [ ! -f "$v" ]; then "$peer/llama-quantize" --allow-requantize "$base" "$v" "$q" >&2; fi
    files+=("$v")
  done
fi

# Prompts: deterministic token ids (no special tokens), ignore_eos so every request makes its 128 tokens.
python3 - "$work" <<'EOF'
import json, random, sys
w = sys.argv[1]
r = random.Random(7)
ids = lambda n: [r.randrange(200, 40000) for _ in range(n)]
with open(f"{w}/prefill.jsonl", "w") as f:
    for _ in range(3):
        f.write(json.dumps({"prompt": ids(512), "max_tokens": 1, "temperature": 0}) + "\n")
for n in [1, 8, 32, 64]:
    with open(f"{w}/decode{n}.jsonl", "w") as f:
        for _ in range(n):
            f.write(json.dumps({"prompt": ids(16 if n == 1 else 128), "max_tokens": 128, "temperature": 0,
                                "ignore_eos": True}) + "\n")
EOF

# one generate run -> a figure (prefill: 512 / best first-token time; decode: the summary's decode rate)
swiftlet_figure() {  # file precision kind(prefill|N)
  local f=$1 p=$2 k=$3 out
  if [ "$k" = prefill ]; then
    out=$("$bin" generate --model "$f" --precision "$p" --kv-cache-memory 512MiB --disable-prefix-caching \
          --prompts-file "$work/prefill.jsonl" --concurrency 1 2>/dev/null)
    echo "$out" | python3 -c '
import json, sys
ttft = [json.loads(l)["timings"]["ttft_s"] for l in sys.stdin if "timings" in l]
print(f"{512 / min(ttft):.0f}")'
  else
    out=$("$bin" generate --model "$f" --precision "$p" --kv-cache-memory 1GiB --max-num-seqs 64 \
          --prompts-file "$work/decode$k.jsonl" 2>/dev/null)
    echo "$out" | python3 -c '
import json, sys
s = [json.loads(l)["summary"] for l in sys.stdin if "summary" in l][0]
print("%.0f" % (s.get("decode_tokens_per_s") or s["output_tokens_per_s"]))'
  fi
}

peer_figures() {  # file -> "pp tg S_TG(npl...)"
  local f=$1
  local b
  b=$("$peer/llama-bench" -m "$f" -t "$threads" -p 512 -n 128 -o json 2>/dev/null)
  local pp tg
  pp=$(echo "$b" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f" % [x for x in r if x["n_prompt"]>0][0]["avg_ts"])')
  tg=$(echo "$b" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f" % [x for x in r if x["n_gen"]>0][0]["avg_ts"])')
  local list
  list=$(echo $npl | tr ' ' ',')
  local bb
  bb=$("$peer/llama-batched-bench" -m "$f" -t "$threads" -c 20000 -b 2048 -ub 512 -npp 128 -ntg 128 -npl "$list" 2>/dev/null)
  local stg
  stg=$(echo "$bb" | python3 -c '
import sys
rows = {}
for line in sys.stdin:
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) >= 8 and c[2].isdigit():
        rows[int(c[2])] = float(c[7])
print(" ".join(f"{rows[n]:.0f}" for n in map(int, sys.argv[1:])))' $npl)
  echo "$pp $tg $stg"
}

rss_kb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'; }

echo "== roofs (scripts/hwprobe.sh) =="
"$root/scripts/hwprobe.sh" 2>/dev/null | sed -n '1,12p'
for f in "${files[@]}"; do
  name=$(basename "$f")
  if [ -n "${peer:-}" ]; then read -r -a P <<<"$(peer_figures "$f")"; else P=(); fi
  for p in $precisions; do
    S=("$(swiftlet_figure "$f" "$p" prefill)" "$(swiftlet_figure "$f" "$p" 1)")
    for n in $npl; do S+=("$(swiftlet_figure "$f" "$p" "$n")"); done
    echo
    echo "== $name, --precision $p (tok/s, Swiftlet vs llama.cpp, ratio) =="
    heads=("prefill 512" "decode 1")
    for n in $npl; do heads+=("$n streams"); done
    for i in "${!S[@]}"; do
      if [ ${#P[@]} -gt "$i" ]; then
        printf '  %-12s %7s vs %7s  %5.2fx\n' "${heads[$i]}" "${S[$i]}" "${P[$i]}" "$(python3 -c "print(${S[$i]}/max(${P[$i]},1))")"
      else
        printf '  %-12s %7s\n' "${heads[$i]}" "${S[$i]}"
      fi
    done
  done
  if [ "${SKIP_MEMORY:-0}" != 1 ]; then
    # 64 MiB of KV cache each: Swiftlet stores fp32 K/V, llama.cpp f16 (2912 tokens for SmolLM2's 30 x 2 x 192 x 2 B)
    s=$(rss_kb "$bin" generate --model "$f" --kv-cache-memory 64MiB --prompt "Once upon a time" --max-tokens 16)
    line="  resident memory after load + 16 tokens: Swiftlet $((s / 1024)) MB"
    if [ -n "${peer:-}" ]; then
      l=$(rss_kb "$peer/llama-batched-bench" -m "$f" -t "$threads" -c 2912 -npp 16 -ntg 16 -npl 1)
      line="$line, llama.cpp $((l / 1024)) MB, ratio $(python3 -c "print(f'{$s/$l:.2f}')")"
    fi
    echo "$line"
  fi
done
