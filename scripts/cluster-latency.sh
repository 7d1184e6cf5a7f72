#!/usr/bin/env bash
# Added latency of the cluster path, measured with `swiftlet bench serve` (issue 6):
#   scripts/cluster-latency.sh [stories|smollm2] [num-prompts]
# Runs the same closed-loop benchmark (one request at a time, fixed seed) against
#   1. a single-process `swiftlet serve`, and
#   2. `swiftlet router` + one `swiftlet instance` over a throwaway PostgreSQL (scripts/with-postgres.sh),
# both on the same model and engine settings, and prints TTFT / TPOT / ITL medians side by side with the
# difference (what the router and the queue add). Results also land in $OUT (default /tmp/swiftlet-latency).
# Needs a release build (`swift build -c release`) and PostgreSQL 15 (SWIFTLET_WITH_POSTGRES=1 scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-stories}
n=${2:-40}
bin=${SWIFTLET_BIN:-.build/release/swiftlet}
out=${OUT:-/tmp/swiftlet-latency}
mkdir -p "$out"
case "$model" in
  stories) margs=(--model models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin)
           bargs=(--tokenizer models/stories260K/tok512.bin --input-len 64 --output-len 128) ;;
  smollm2) models/fetch-default-model.sh >/dev/null
           f=models/SmolLM2-135M-Instruct.Q4_1.gguf
           margs=(--model "$f"); bargs=(--tokenizer "$f" --input-len 128 --output-len 64) ;;
  *) echo "usage: $0 [stories|smollm2] [num-prompts]" >&2; exit 2 ;;
esac
bench=(bench serve --num-prompts "$n" --max-concurrency 1 --request-rate inf --seed 7 "${bargs[@]}")

if [ -z "${SWIFTLET_TEST_PG:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_health() {  # url
  for _ in $(seq 1 300); do
    if curl -fs "$1/health" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "no health at $1" >&2; return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# 1. single process
p=$(free_port)
"$bin" serve "${margs[@]}" --port "$p" --log-level warning >"$out/serve.log" 2>&1 & pids+=($!)
wait_health "http://127.0.0.1:$p"
"$bin" "${bench[@]}" --base-url "http://127.0.0.1:$p" --label serve --save-result "$out/serve.json" >"$out/serve.txt" 2>&1
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

# 2. router + one instance over PostgreSQL
ip=$(free_port); rp=$(free_port)
"$bin" instance "${margs[@]}" --queue "$SWIFTLET_TEST_PG" --name lat-a --port "$ip" --log-level warning >"$out/instance.log" 2>&1 & pids+=($!)
"$bin" router "${margs[@]}" --queue "$SWIFTLET_TEST_PG" --port "$rp" --log-level warning >"$out/router.log" 2>&1 & pids+=($!)
wait_health "http://127.0.0.1:$ip"; wait_health "http://127.0.0.1:$rp"
for _ in $(seq 1 50); do   # the instance registers after its server is up
  "$bin" cluster status --queue "$SWIFTLET_TEST_PG" 2>/dev/null | grep -q lat-a && break; sleep 0.1
done
"$bin" "${bench[@]}" --base-url "http://127.0.0.1:$rp" --label router --save-result "$out/router.json" >"$out/router.txt" 2>&1

python3 - "$out/serve.json" "$out/router.json" "$model" "$n" <<'EOF'
import json, sys
s, r = (json.load(open(f)) for f in sys.argv[1:3])
print(f"model {sys.argv[3]}, {sys.argv[4]} requests one at a time (swiftlet bench serve --max-concurrency 1)")
print(f"{'metric':<14}{'serve':>10}{'router':>10}{'added':>10}")
for k in ("median_ttft_ms", "p90_ttft_ms", "median_tpot_ms", "median_itl_ms", "p90_itl_ms", "p99_itl_ms"):
    print(f"{k:<14}{s[k]:>10.2f}{r[k]:>10.2f}{r[k]-s[k]:>+10.2f}")
print(f"completed: serve {s['completed']}, router {r['completed']}")
EOF
