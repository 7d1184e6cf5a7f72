#!/usr/bin/env bash
# The simulator against a real cluster (issue 15): the same workload through
#   1. a real router + 2 instances + PostgreSQL on this machine, each instance pinned to its own core with one
#      compute thread (so the two do not share cores, as the simulator's instances do not), and
#   2. `swiftlet cluster simulate` with a profile measured the same way (one thread, one core),
# for each routing policy and request rate; prints median TTFT / TPOT side by side and the policy ranking.
#   scripts/validate-simulator.sh [stories|smollm2]      (needs a release build and postgresql-15)
# The cluster overhead (HTTP, queue, routing, relay) is not modelled from first principles: it is calibrated once
# per model from a closed-loop run (one request at a time) as the TTFT the simulator does not see, and passed as
# --dispatch-ms (TTFT), --step-overhead-us and --per-token-us (TPOT), from two closed-loop runs. The rates and policies of the comparison are not used for calibration.
# Results: $OUT (default /tmp/swiftlet-simval/<model>): real_*.json, sim/*.json, profile.json, table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-stories}
bin=${SWIFTLET_BIN:-$(pwd)/.build/release/swiftlet}
out=${OUT:-/tmp/swiftlet-simval/$model}
policies=${POLICIES:-round-robin,least-requests}
eng=(--max-model-len 1024 --max-num-batched-tokens 512)
case "$model" in
  stories) margs=(--model models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin)
           rargs=(--model models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin)
           work=(--tokenizer models/stories260K/tok512.bin --input-len 64 --output-len 128 --range-ratio 0.5)
           rates=${RATES:-40,120}; n=${NUM:-240}; cal=24 ;;
  smollm2) models/fetch-default-model.sh >/dev/null
           f=models/SmolLM2-135M-Instruct.Q4_1.gguf
           margs=(--model "$f" --precision fast); rargs=(--model "$f")
           work=(--tokenizer "$f" --input-len 32 --output-len 48 --range-ratio 0.5)
           rates=${RATES:-1,3}; n=${NUM:-60}; cal=8 ;;
  *) echo "usage: $0 [stories|smollm2]" >&2; exit 2 ;;
esac
if [ -z "${SWIFTLET_TEST_PG:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi
mkdir -p "$out/sim"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_health() { for _ in $(seq 1 600); do curl -fs "$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no health at $1" >&2; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The profile: one compute thread on core 1, the engine settings of the instances.
if [ ! -s "$out/profile.json" ]; then
  SWIFTLET_THREADS=1 taskset -c 1 "$bin" bench profile "${margs[@]}" "${eng[@]}" --output "$out/profile.json" > "$out/profile.txt" 2>&1
fi
grep -A20 "held-out step" "$out/profile.txt" || true

# Two instances, one per core, one compute thread each.
for k in 0 1; do
  p=$(free_port)
  SWIFTLET_THREADS=1 taskset -c $k "$bin" instance "${margs[@]}" "${eng[@]}" --queue "$SWIFTLET_TEST_PG" --name "val-$k" --port "$p" \
    --log-level warning > "$out/instance-$k.log" 2>&1 & pids+=($!)
  wait_health "http://127.0.0.1:$p"
done
for _ in $(seq 1 100); do
  [ "$("$bin" cluster status --queue "$SWIFTLET_TEST_PG" 2>/dev/null | grep -c 'val-')" -ge 2 ] && break; sleep 0.1
done

start_router() {  # policy -> sets rp, router pid
  rp=$(free_port)
  "$bin" router "${rargs[@]}" --max-model-len 1024 \
    --queue "$SWIFTLET_TEST_PG" --port "$rp" --policy "$1" --log-level warning > "$out/router-$1.log" 2>&1 &
  rpid=$!
  wait_health "http://127.0.0.1:$rp"
}
bench() {  # label rate seed extra...  (each run its own seed: no prompt of one run is in the instances' prefix cache from another)
  local label=$1 rate=$2 seed=$3; shift 3
  "$bin" bench serve --base-url "http://127.0.0.1:$rp" --label "$label" --request-rate "$rate" --seed "$seed" "${work[@]}" "$@" \
    --save-result "$out/real_$label.json" > "$out/real_$label.txt" 2>&1
}

# Warm-up (first touches of weights and cache pages), then calibration: closed loops of 1 and of 4 requests at a
# time. With one request every step carries one token, with four about four: the TPOT the simulator misses is
# a + b·tokens per step, solved from the two runs (a: --step-overhead-us, b: --per-token-us); the TTFT it misses
# at one request at a time, less a + b, is --dispatch-ms.
start_router round-robin
bench warmup inf 99 --num-prompts 6 --max-concurrency 2
for c in 1 4; do
  bench "calibration-c$c" inf $((7 + c)) --num-prompts "$cal" --max-concurrency "$c"
  "$bin" cluster simulate --profile "$out/profile.json" --policies round-robin --instances 2 "${work[@]}" --seed $((7 + c)) \
    --num-prompts "$cal" --max-concurrency "$c" --request-rates inf --output-dir "$out/sim-cal-c$c" > "$out/sim-cal-c$c.txt"
done
read -r dispatch perstep pertoken < <(python3 - "$out" <<'EOF'
import json, sys
d = sys.argv[1]
def gap(c, k):
    r = json.load(open(f"{d}/real_calibration-c{c}.json")); s = json.load(open(f"{d}/sim-cal-c{c}/round-robin_x2_rate-inf.json"))
    return r[k] - s[k]
g1, g4 = gap(1, "median_tpot_ms"), gap(4, "median_tpot_ms")
# Two instances share four streams: about two tokens per step each.
b = max(0.0, (g4 - g1) / (2 - 1))
a = max(0.0, g1 - b)
print(f"{max(0.0, gap(1, 'median_ttft_ms') - a - b):.2f} {a * 1000:.0f} {b * 1000:.0f}")
EOF
)
echo "calibrated cluster overhead (closed loops of 1 and 4, $cal requests each): $dispatch ms of TTFT, $perstep us per step + $pertoken us per token"
kill "$rpid"; wait "$rpid" 2>/dev/null || true

IFS=, read -ra pols <<< "$policies"
IFS=, read -ra rs <<< "$rates"
seed=100
for pol in "${pols[@]}"; do
  start_router "$pol"
  for r in "${rs[@]}"; do
    seed=$((seed + 1))
    bench "${pol}_rate-$r" "$r" "$seed" --num-prompts "$n"
    "$bin" cluster simulate --profile "$out/profile.json" --policies "$pol" --instances 2 "${work[@]}" --seed "$seed" \
      --num-prompts "$n" --request-rates "$r" --dispatch-ms "$dispatch" --step-overhead-us "$perstep" --per-token-us "$pertoken" --output-dir "$out/sim" >> "$out/sim.txt"
  done
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
done

python3 - "$out" "$policies" "$rates" "$model" "$dispatch ms + $perstep us/step + $pertoken us/token" <<'EOF' | tee "$out/table.md"
import json, sys, os
out, pols, rates, model, dispatch = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), sys.argv[4], sys.argv[5]
print(f"model {model}, 2 instances (1 thread, 1 core each), calibrated overhead {dispatch}")
print("| policy | rate | real TTFT p50 | sim TTFT p50 | err | real TPOT p50 | sim TPOT p50 | err | real ok | sim ok |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rank = {}
worst = 0.0
for r in rates:
    for p in pols:
        a = json.load(open(f"{out}/real_{p}_rate-{r}.json"))
        s = json.load(open(f"{out}/sim/{p}_x2_rate-{r}.json"))
        e1 = s["median_ttft_ms"] / a["median_ttft_ms"] - 1
        e2 = s["median_tpot_ms"] / a["median_tpot_ms"] - 1
        worst = max(worst, abs(e1), abs(e2))
        print(f"| {p} | {r} | {a['median_ttft_ms']:.1f} | {s['median_ttft_ms']:.1f} | {e1:+.0%} | "
              f"{a['median_tpot_ms']:.2f} | {s['median_tpot_ms']:.2f} | {e2:+.0%} | {a['completed']} | {s['completed']} |")
        rank.setdefault(r, {})[p] = (a["mean_e2el_ms"], s["mean_e2el_ms"])
print()
same = True
for r, d in rank.items():
    real = sorted(d, key=lambda p: d[p][0]); sim = sorted(d, key=lambda p: d[p][1])
    same &= real == sim
    print(f"rate {r}: ranking by mean E2E latency, real: {' < '.join(real)}; simulated: {' < '.join(sim)}"
          f" ({'same' if real == sim else 'DIFFERENT'})")
print(f"\nlargest median error {worst:.0%}; rankings {'identical' if same else 'differ'}")
EOF
