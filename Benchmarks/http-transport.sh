#!/usr/bin/env bash
# What TLS, HTTP/2 and keep-alive cost or save, measured with `swiftlet bench serve` against `swiftlet serve`
# (SmolLM2-135M Q4_1 by default). Run on a quiet machine; prints one line per run and the medians.
#   1. aggregate output tokens/s at 32 concurrent streams: HTTP/1.1, HTTPS (HTTP/1.1), HTTPS + h2
#   2. median TTFT of sequential short requests: keep-alive vs a new connection per request (--no-keepalive), over
#      HTTP and HTTPS, on a second pair of servers with a tiny model (stories260K by default: its TTFT is about a
#      millisecond, so the connection's own cost is not lost in the model's time)
# Two servers run side by side (plain HTTP, and TLS with h2), so the transports can be measured in interleaved
# rounds: a slow spell of a shared machine then spreads over all of them instead of spoiling one.
# Usage: Benchmarks/http-transport.sh [SWIFTLET_BIN] [MODEL]
#   Env: PROMPTS (96), ROUNDS (3), PORT (8431; TLS on PORT+1, the TTFT servers on PORT+2 and PORT+3),
#        TTFT_MODEL / TTFT_TOKENIZER (stories260K), ONLY=ttft to skip the throughput runs
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/swiftlet}
model=${2:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}
prompts=${PROMPTS:-96}
rounds=${ROUNDS:-3}
port=${PORT:-8431}
tport=$((port + 1))
sport=$((port + 2)); stport=$((port + 3))
smodel=${TTFT_MODEL:-$root/models/stories260K/stories260K.bin}
stok=${TTFT_TOKENIZER:-$root/models/stories260K/tok512.bin}
work=$(mktemp -d)
servers=()
trap 'for s in "${servers[@]}"; do kill "$s" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/Tests/support/make-test-certs.sh" "$work/certs"
tls=(--ssl-certfile "$work/certs/server.pem" --ssl-keyfile "$work/certs/server.key" --http2)

start() {  # port health-url extra serve flags...
  local p=$1 health=$2; shift 2
  "$bin" serve --port "$p" --max-num-seqs 32 "$@" >"$work/serve-$p.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 600); do
    curl -sf --cacert "$work/certs/ca.pem" -o /dev/null "$health" 2>/dev/null && return
    sleep 0.2
  done
  echo "server did not start: $(cat "$work/serve-$p.log")" >&2; exit 1
}

bench() {  # label url extra bench flags...
  local label=$1 url=$2; shift 2
  "$bin" bench serve --base-url "$url" --dataset-name random --seed 1 \
    --ssl-ca-certs "$work/certs/ca.pem" --save-result "$work/$label.json" "$@" >"$work/$label.txt"
  python3 - "$work/$label.json" "$label" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:>28}: {r['completed']} ok, {r['failed']} failed, output {r['output_throughput']:.1f} tok/s, "
      f"median TTFT {r['median_ttft_ms']:.2f} ms, median TPOT {r['median_tpot_ms']:.2f} ms", flush=True)
EOF
}

m=(--model "$model"); sm=(--model "$smodel" --tokenizer "$stok")
if [ "${ONLY:-}" != ttft ]; then
  start "$port" "http://127.0.0.1:$port/health" "${m[@]}"
  start "$tport" "https://localhost:$tport/health" "${m[@]}" "${tls[@]}"
fi
start "$sport" "http://127.0.0.1:$sport/health" "${sm[@]}"
start "$stport" "https://localhost:$stport/health" "${sm[@]}" "${tls[@]}"
load=(--tokenizer "$model" --input-len 128 --output-len 128 --num-prompts "$prompts" --max-concurrency 32)
short=(--tokenizer "$stok" --input-len 16 --output-len 4 --num-prompts 200 --max-concurrency 1)
for r in $(seq "$rounds"); do
  if [ "${ONLY:-}" != ttft ]; then
    bench "http1-$r" "http://127.0.0.1:$port" "${load[@]}"
    bench "https-http1-$r" "https://localhost:$tport" "${load[@]}"
    bench "https-h2-$r" "https://localhost:$tport" "${load[@]}" --http2
  fi
  bench "ttft-keepalive-$r" "http://127.0.0.1:$sport" "${short[@]}"
  bench "ttft-reconnect-$r" "http://127.0.0.1:$sport" "${short[@]}" --no-keepalive
  bench "ttft-tls-keepalive-$r" "https://localhost:$stport" "${short[@]}"
  bench "ttft-tls-reconnect-$r" "https://localhost:$stport" "${short[@]}" --no-keepalive
done
python3 - "$work" "$rounds" "${ONLY:-}" <<'EOF'
import json, statistics, sys
work, rounds, only = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def runs(label, key): return [json.load(open(f"{work}/{label}-{r}.json"))[key] for r in range(1, rounds + 1)]
if only != "ttft":
    tput = {l: statistics.median(runs(l, "output_throughput")) for l in ("http1", "https-http1", "https-h2")}
    print(f"\nmedian over {rounds} interleaved rounds, output tok/s at 32 streams:")
    for l, v in tput.items():
        print(f"  {l:>12}: {v:8.1f} tok/s  ({100 * (v / tput['http1'] - 1):+.1f}% vs HTTP/1.1)")
print(f"median TTFT of 200 sequential short requests (median over {rounds} rounds):")
for name, prefix in (("HTTP ", "ttft"), ("HTTPS", "ttft-tls")):
    ka, rc = (statistics.median(runs(f"{prefix}-{k}", "median_ttft_ms")) for k in ("keepalive", "reconnect"))
    print(f"  {name}: keep-alive {ka:.3f} ms, new connection per request {rc:.3f} ms (keep-alive saves {rc - ka:.3f} ms)")
EOF
