#!/usr/bin/env bash
# What TLS, HTTP/2 and keep-alive cost or save, measured with `swiftlet bench serve` against `swiftlet serve`
# (SmolLM2-135M Q4_1 by default). Run on a quiet machine; prints one line per figure.
#   1. aggregate output tokens/s at 32 concurrent streams: HTTP/1.1, HTTPS (HTTP/1.1), HTTPS + h2
#   2. median TTFT of sequential short requests: keep-alive vs a new connection per request (--no-keepalive)
# Usage: Benchmarks/http-transport.sh [SWIFTLET_BIN] [MODEL]   Env: PROMPTS (96), PORT (8431)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/swiftlet}
model=${2:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}
prompts=${PROMPTS:-96}
port=${PORT:-8431}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/Tests/support/make-test-certs.sh" "$work/certs"
tls=(--ssl-certfile "$work/certs/server.pem" --ssl-keyfile "$work/certs/server.key")

start() {  # extra serve flags...
  "$bin" serve --model "$model" --port "$port" --max-num-seqs 32 "$@" >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && return
    curl -sf --cacert "$work/certs/ca.pem" -o /dev/null "https://localhost:$port/health" 2>/dev/null && return
    sleep 0.2
  done
  echo "server did not start: $(cat "$work/serve.log")" >&2; exit 1
}
stop() { kill -TERM "$server"; wait "$server" || true; }

bench() {  # label url extra bench flags...
  local label=$1 url=$2; shift 2
  "$bin" bench serve --base-url "$url" --tokenizer "$model" --dataset-name random --seed 1 \
    --ssl-ca-certs "$work/certs/ca.pem" --save-result "$work/$label.json" "$@" >"$work/$label.txt"
  python3 - "$work/$label.json" "$label" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:>24}: {r['completed']} ok, {r['failed']} failed, output {r['output_throughput']:.1f} tok/s, "
      f"median TTFT {r['median_ttft_ms']:.2f} ms, median TPOT {r['median_tpot_ms']:.2f} ms")
EOF
}

load=(--input-len 128 --output-len 128 --num-prompts "$prompts" --max-concurrency 32)
start
bench http1 "http://127.0.0.1:$port" "${load[@]}"
short=(--input-len 16 --output-len 4 --num-prompts 200 --max-concurrency 1)
bench ttft-keepalive "http://127.0.0.1:$port" "${short[@]}"
bench ttft-reconnect "http://127.0.0.1:$port" "${short[@]}" --no-keepalive
stop
start "${tls[@]}" --http2
bench https-http1 "https://localhost:$port" "${load[@]}"
bench https-h2 "https://localhost:$port" "${load[@]}" --http2
stop
