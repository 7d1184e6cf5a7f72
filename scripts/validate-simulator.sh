#!/usr/bin/env bash
# The simulator against a real cluster (issue 15): the same workload through
#   1. a real router + 2 instances + PostgreSQL on this machine, each instance pinned to its own core with one
#      compute thread (so the two do not share cores, as the simulator's instances do not), and
#   2. `swiftlet cluster simulate` with a profile measured the same way (one thread, one core),
# for each routing policy and request rate; prints median TTFT / TPOT side by side and the policy ranking.
#   scripts/validate-simulator.sh [stories|smollm2]      (needs a release build and postgresql-15)
# The cluster overhead is calibrated once per model from closed loops (not the comparison's rates or policies):
#   - Host CPU, measured rather than fitted to latencies: the router, PostgreSQL (its whole process tree) and the
#     load generator run on the same cores as the instances (the instances are pinned, the rest floats). Their CPU
#     seconds (/proc utime + stime; the client's start-up taken off) in closed loops of 4 and 64 requests at a time
#     and one of 4 with 1-3 output tokens give, by least squares, CPU per request + CPU per generated token (the
#     loop of 1 is shown but left out: CPU per token falls with load); the simulator gets them as
#     --host-cores $(nproc) --host-cpu-per-request-ms --host-cpu-per-token-us (its shared-host model: HostCPU in
#     Sources/Simulator/ClusterSimulator.swift).
#   - The instances' own CPU beside the model (the agent, on the instance's pinned core): instance CPU seconds
#     less the model's step seconds (the simulator without overheads on the same loops), per token, over the loops
#     of 4 and 64: --per-token-us, measured.
#   - The group commit (FlushModel): each instance appends one batch of tokens at a time to PostgreSQL, and an
#     append carries more tokens the busier it is (5 one request at a time, 45 at 64 on stories260K), so the
#     control plane's CPU per token falls with load. The instances' /metrics count the appends and time them
#     (swiftlet:cluster_appends_total, swiftlet:cluster_append_seconds): the host CPU fit above becomes
#     R * requests + F * appends + T * tokens over all four loops (--flush-host-cpu-us F), the instances' CPU beside
#     the model Fi * appends + Ti * tokens (--flush-instance-cpu-us Fi, --per-token-us Ti), and the round trip one
#     request at a time, less the CPU the simulator queues it for, is --flush-latency-ms.
#   - What the simulator with all that still misses in the loop of 1 (one token per step): --step-overhead-us
#     (TPOT) and --dispatch-ms (TTFT), fitted.
# REPEAT=k runs every cell k times (in rounds, own seeds) and compares medians over the runs, with the real range;
#   the ranking then counts only the pairs of policies whose real runs do not overlap (the rest are ties).
# WORKLOAD=prefix: groups of requests sharing a 256-token prefix (PREFIX_LEN, NUM_GROUPS), where policies differ.
# CALIBRATION_FROM=<an earlier $OUT>: that run's calibration (its calibration.env) instead of this run's loops.
# RATES, POLICIES, NUM, CAL: the comparison's rates and policies, requests per cell, calibration loop size.
# For comparison the table also shows the simulator with the fixed overheads alone (the same closed loops,
# calibrated without the host model), as before the host model existed.
# Results: $OUT (default /tmp/swiftlet-simval/<model>): real_*.json, cpu_*.json (each run's CPU seconds by process),
# sim/*.json (host model), sim-fixed/*.json (fixed overheads only), profile.json, table.md.
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
           rates=${RATES:-10,20,40}; n=${NUM:-240}; cal=${CAL:-96}; calrate=5 ;;
  smollm2) models/fetch-default-model.sh >/dev/null
           f=models/SmolLM2-135M-Instruct.Q4_1.gguf
           margs=(--model "$f" --precision fast); rargs=(--model "$f")
           work=(--tokenizer "$f" --input-len 32 --output-len 48 --range-ratio 0.5)
           rates=${RATES:-1,3}; n=${NUM:-60}; cal=8; calrate=0.5 ;;
  *) echo "usage: $0 [stories|smollm2]" >&2; exit 2 ;;
esac
# WORKLOAD=prefix: requests in groups that share a prefix (bench's prefix dataset), where the policies differ:
# prefix-affinity sends a group to the instance that holds its prefix in cache, round-robin half the time not.
if [ "${WORKLOAD:-}" = prefix ]; then work+=(--dataset-name prefix --prefix-len "${PREFIX_LEN:-256}" --num-groups "${NUM_GROUPS:-20}"); fi
# SIM_ONLY=1: no real runs; the simulator again on the real runs' results already in $OUT (after a simulator change).
sim_only=${SIM_ONLY:-}
# HOP_QUEUEING=1: also stretch the dispatch and the appends' round trips by the control plane's utilization
# (--host-hop-queueing). Off by default: with the share measured below, the host queue accounts for those waits.
hop=(); [ "${HOP_QUEUEING:-}" = 1 ] && hop=(--host-hop-queueing)
# QUEUE_LIMIT=n: the router's admission limit (--max-queued-requests) in the comparison runs, and the simulator's:
# requests arriving while n wait for their first token get 429 (the "ok real/sim" column counts the rest).
qlim=(); [ -n "${QUEUE_LIMIT:-}" ] && qlim=(--max-queued-requests "$QUEUE_LIMIT")
if [ -z "$sim_only" ] && [ -z "${SWIFTLET_TEST_PG:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi
mkdir -p "$out/sim" "$out/sim-fixed"
# Least squares with non-negative coefficients (every subset of the terms, the best fit whose coefficients are all
# non-negative; a handful of terms): for the CPU fits below.
cat > "$out/nnls.py" <<'EOF'
import itertools
def solve(a, b):   # Gaussian elimination with partial pivoting; None if singular
    n = len(a); m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[p][c]) < 1e-12: return None
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]
def nnls(rows, y):
    k = len(rows[0]); best = ([0.0] * k, sum(v * v for v in y))
    for size in range(1, k + 1):
        for cols in itertools.combinations(range(k), size):
            a = [[sum(r[i] * r[j] for r in rows) for j in cols] for i in cols]
            b = [sum(r[i] * v for r, v in zip(rows, y)) for i in cols]
            x = solve(a, b)
            if x is None or min(x) < 0: continue
            coef = [0.0] * k
            for c, v in zip(cols, x): coef[c] = v
            res = sum((v - sum(c * q for c, q in zip(coef, r))) ** 2 for r, v in zip(rows, y))
            if res < best[1] - 1e-15: best = (coef, res)
    return best[0]
EOF
rm -f "$out/sim.txt" "$out/sim-fixed.txt"
pids=()
iports=()
rpid=
cleanup() { for p in "${pids[@]}" $rpid; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_health() { for _ in $(seq 1 600); do curl -fs "$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no health at $1" >&2; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The profile: one compute thread on core 1, the engine settings of the instances.
if [ ! -s "$out/profile.json" ]; then
  SWIFTLET_THREADS=1 taskset -c 1 "$bin" bench profile "${margs[@]}" "${eng[@]}" --output "$out/profile.json" > "$out/profile.txt" 2>&1
fi
grep -A20 "held-out step" "$out/profile.txt" || true

# Co-running: the same quick profile on core 1 alone and beside a second engine stepping on core 0 (a profile of
# its own, killed after). The instances share memory bandwidth and the last-level cache, not cores: the median
# ratio over the decode shapes of up to 8 sequences, less one, is --host-co-run-slowdown (HostCPU.coRun).
if [ ! -s "$out/corun.txt" ]; then
  SWIFTLET_THREADS=1 taskset -c 1 "$bin" bench profile "${margs[@]}" "${eng[@]}" --quick --passes 3 \
    --output "$out/profile-quick-alone.json" > "$out/profile-quick-alone.txt" 2>&1
  SWIFTLET_THREADS=1 taskset -c 0 "$bin" bench profile "${margs[@]}" "${eng[@]}" --passes 100 \
    --output "$out/profile-neighbour.json" > "$out/profile-neighbour.txt" 2>&1 & neighbour=$!
  for _ in $(seq 1 600); do grep -q "^profiling" "$out/profile-neighbour.txt" 2>/dev/null && break; sleep 0.1; done   # stepping
  SWIFTLET_THREADS=1 taskset -c 1 "$bin" bench profile "${margs[@]}" "${eng[@]}" --quick --passes 3 \
    --output "$out/profile-quick-corun.json" > "$out/profile-quick-corun.txt" 2>&1
  kill "$neighbour" 2>/dev/null || true; wait "$neighbour" 2>/dev/null || true
  python3 - "$out" > "$out/corun.txt" <<'EOF'
import json, statistics, sys
d = sys.argv[1]
a, c = (json.load(open(f"{d}/profile-quick-{k}.json"))["samples"] for k in ("alone", "corun"))
r = [y["seconds"] / x["seconds"] for x, y in zip(a, c)
     if x["shape"] == y["shape"] and x["shape"]["prefillTokens"] == 0 and x["shape"]["decodeSequences"] <= 8]
allr = [y["seconds"] / x["seconds"] for x, y in zip(a, c) if x["shape"] == y["shape"]]
print(f"co-run: step time beside a busy neighbour / alone: decode up to 8 sequences median {statistics.median(r):.3f} "
      f"({len(r)} shapes, {min(r):.2f}-{max(r):.2f}); all {len(allr)} shapes median {statistics.median(allr):.3f}", file=sys.stderr)
print(f"{max(0.0, statistics.median(r) - 1):.3f}")
EOF
fi
corun=$(cat "$out/corun.txt")
echo "co-run slowdown (a step beside a busy neighbour): +$corun"

# Two instances, one per core, one compute thread each.
for k in 0 1; do
  [ -n "$sim_only" ] && break
  p=$(free_port)
  SWIFTLET_THREADS=1 taskset -c $k "$bin" instance "${margs[@]}" "${eng[@]}" --queue "$SWIFTLET_TEST_PG" --name "val-$k" --port "$p" \
    --log-level warning > "$out/instance-$k.log" 2>&1 & pids+=($!)
  iports+=("$p")
  wait_health "http://127.0.0.1:$p"
done
for _ in $(seq 1 100); do
  [ -n "$sim_only" ] && break
  [ "$("$bin" cluster status --queue "$SWIFTLET_TEST_PG" 2>/dev/null | grep -c 'val-')" -ge 2 ] && break; sleep 0.1
done

start_router() {  # policy [limited: with QUEUE_LIMIT's admission limit] -> sets rp, router pid
  [ -n "$sim_only" ] && return
  local extra=(); [ "${2:-}" = limited ] && extra=("${qlim[@]}")
  rp=$(free_port)
  "$bin" router "${rargs[@]}" --max-model-len 1024 \
    --queue "$SWIFTLET_TEST_PG" --port "$rp" --policy "$1" "${extra[@]}" --log-level warning > "$out/router-$1.log" 2>&1 &
  rpid=$!
  wait_health "http://127.0.0.1:$rp"
}
stop_router() { [ -n "$sim_only" ] && return; kill "$rpid"; wait "$rpid" 2>/dev/null || true; rpid=; }

# CPU seconds (user + system) so far: the router, PostgreSQL's process tree (the postmaster, its live backends,
# and through its children's times the backends that exited), each instance.
pgport=${SWIFTLET_TEST_PG:-x:0}; pgport=${pgport##*:}; pgport=${pgport%%/*}
cpu_now() {
  python3 - "$pgport" "$rpid" "${pids[@]}" <<'EOF'
import os, sys
port, router, insts = sys.argv[1].encode(), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
tck = os.sysconf("SC_CLK_TCK")
stat, kids, pm = {}, {}, None
for d in os.listdir("/proc"):
    if not d.isdigit(): continue
    try:
        f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
        a = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    stat[int(d)] = f
    kids.setdefault(int(f[1]), []).append(int(d))
    if a[0].endswith(b"postgres") and b"-p" in a and port in a: pm = int(d)
def own(p, waited=False):   # utime + stime (+ cutime + cstime: children waited for)
    f = stat.get(p)
    return 0.0 if f is None else (int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if waited else 0)) / tck
def tree(p): return own(p, True) + sum(tree(c) for c in kids.get(p, []))
print(own(router), tree(pm) if pm else float("nan"), *[own(p) for p in insts])
EOF
}
# The instances' group commit so far (their /metrics, summed): appends, tokens appended, append seconds; and the
# seconds their engines spent in steps (swiftlet:engine_step_seconds_total).
appends_now() {
  for p in "${iports[@]}"; do curl -fs "http://127.0.0.1:$p/metrics"; done | python3 -c '
import sys
want = {"swiftlet:cluster_appends_total": 0, "swiftlet:cluster_appended_tokens_total": 1, "swiftlet:cluster_append_seconds_sum": 2,
        "swiftlet:engine_step_seconds_total": 3, "swiftlet:iteration_tokens_total_count": 4}
v = [0.0, 0.0, 0.0, 0.0, 0.0]
for line in sys.stdin:
    f = line.split()
    if len(f) == 2 and f[0] in want: v[want[f[0]]] += float(f[1])
print(*v)'
}
# Runs a command and writes its CPU seconds (user + system, all its threads) to a file.
timed='import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{u.ru_utime + u.ru_stime}\n")
sys.exit(rc)'
bench() {  # label rate seed extra...  (each run its own seed: no prompt of one run is in the instances' prefix cache from another)
  local label=$1 rate=$2 seed=$3 before after; shift 3
  [ -n "$sim_only" ] && return
  before=$(cpu_now); abefore=$(appends_now)
  python3 -c "$timed" "$out/cpu-client_$label" \
    "$bin" bench serve --base-url "http://127.0.0.1:$rp" --label "$label" --request-rate "$rate" --seed "$seed" "${work[@]}" "$@" \
    --save-result "$out/real_$label.json" > "$out/real_$label.txt" 2>&1
  after=$(cpu_now); aafter=$(appends_now)
  python3 - "$before" "$after" "$(cat "$out/cpu-client_$label")" "$out/real_$label.json" "$abefore" "$aafter" > "$out/cpu_$label.json" <<'EOF'
import json, sys
b, a = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
d = [x - y for x, y in zip(a, b)]
ab, aa = [float(x) for x in sys.argv[5].split()], [float(x) for x in sys.argv[6].split()]
r = json.load(open(sys.argv[4]))
print(json.dumps({"router": d[0], "postgres": d[1], "client": float(sys.argv[3]), "instances": d[2:],
                  "requests": r["completed"], "tokens": r["total_output_tokens"], "duration": r["duration"],
                  "appends": aa[0] - ab[0], "appended_tokens": aa[1] - ab[1], "append_seconds": aa[2] - ab[2],
                  "step_seconds": aa[3] - ab[3], "steps": aa[4] - ab[4]}))
EOF
}

# Warm-up (first touches of weights and cache pages), then calibration: closed loops of 1, 4 and 64 requests at a
# time, one of 4 with 1-3 output tokens (mostly per-request work) and one request (the client's start-up CPU).
#   - Host CPU: router + PostgreSQL + client CPU = R * requests + T * tokens (least squares, see below).
#   - Instance CPU beside the model, per token; then the per-step and dispatch gaps left (below).
start_router round-robin
bench warmup inf 99 --num-prompts 6 --max-concurrency 2
bench calibration-one inf 15 --num-prompts 1 --output-len 1
# CALIBRATION_FROM=<an earlier run's $OUT>: its calibration (calibration.env) instead of this run's loops: the
# overheads measured on one workload, tried on another (e.g. WORKLOAD=prefix).
if [ -n "${CALIBRATION_FROM:-}" ]; then
  stop_router
  # shellcheck disable=SC1091
  . "$CALIBRATION_FROM/calibration.env"
  host=(--host-cores "$cores" --host-cpu-per-request-ms "$hostreq" --host-cpu-per-token-us "$hosttok" --host-co-run-slowdown "$corun" --host-max-share "${hostshare:-0.5}" "${hop[@]}")
  flush=()
  [ -n "$flushlat" ] && flush=(--flush-latency-ms "$flushlat" --flush-host-cpu-us "$flushhost" --flush-instance-cpu-us "$flushinst")
  echo "calibration from $CALIBRATION_FROM: $(tr '\n' ' ' < "$CALIBRATION_FROM/calibration.env")"
else
for c in 1 4; do bench "calibration-c$c" inf $((7 + c)) --num-prompts "$cal" --max-concurrency "$c"; done
bench calibration-c64 inf 14 --num-prompts $((4 * cal)) --max-concurrency 64
bench calibration-short inf 13 --num-prompts $((2 * cal)) --max-concurrency 4 --output-len 2
# An open loop at a low rate (below the comparison's rates): the append round trip of a mostly idle host.
bench calibration-open "$calrate" 16 --num-prompts $((2 * cal))
stop_router
cores=${HOST_CORES:-$(nproc)}
read -r hostreq hosttok flushhost < <(python3 - "$out" <<'EOF'
import json, sys
d = sys.argv[1]
sys.path.insert(0, d)
from nnls import nnls
import os
names = ("c1", "c4", "c64", "short") + (("open",) if os.path.exists(f"{d}/cpu_calibration-open.json") else ())
runs = [json.load(open(f"{d}/cpu_calibration-{k}.json")) for k in names]
# The client's own start (loading the tokenizer, building the prompts) is not load: a run of one request measures it.
start = json.load(open(f"{d}/cpu_calibration-one.json"))["client"]
print(f"client start-up CPU (a run of one request): {start:.2f} s, taken off each run's client CPU", file=sys.stderr)
for r in runs: r["client"] = max(0.0, r["client"] - start)
for k, r in zip(names, runs):
    host = r["router"] + r["postgres"] + r["client"]
    app = r.get("appends", 0)
    print(f"host CPU, calibration-{k}: {r['requests']} requests, {r['tokens']} tokens in {r['duration']:.2f} s, {app:.0f} appends "
          f"({r['tokens'] / max(app, 1):.1f} tokens each, {r.get('append_seconds', 0) / max(app, 1) * 1000:.2f} ms): router "
          f"{r['router']:.2f} s, postgres {r['postgres']:.2f} s, client {r['client']:.2f} s ({host / r['tokens'] * 1e6:.0f} us/token "
          f"all told, {host / r['duration']:.2f} cores); instances {sum(r['instances']):.2f} s", file=sys.stderr)
if all("appends" in r for r in runs):
    # With the group commit measured: host = R * requests + F * appends + T * tokens (non-negative least squares)
    # over all the calibration runs. Per token the CPU falls with load because an append carries more tokens under load (5
    # one request at a time, 45 at 64 on stories260K): F is that fixed cost per append.
    R, F, T = nnls([[r["requests"], r["appends"], r["tokens"]] for r in runs], [r["router"] + r["postgres"] + r["client"] for r in runs])
else:
    # Older runs without the appends: host = R * requests + T * tokens over the loops of 4 and 64 and the short
    # one (the loop of one request at a time, whose control plane also runs on the idle core, left out).
    R, T = nnls([[r["requests"], r["tokens"]] for k, r in zip(names, runs) if k != "c1"],
                [r["router"] + r["postgres"] + r["client"] for k, r in zip(names, runs) if k != "c1"])
    F = 0.0
print(f"{R * 1000:.3f} {T * 1e6:.1f} {F * 1e6:.1f}")
EOF
)
# The share of a busy instance's core the control plane takes (--host-max-share): in the loop of 64 at a time the
# instances always have work, so the part of their cores they did not get went to the control plane (1 less the
# instances' CPU over their wall time; at least 0.05, at most a fair share against one other thread, 0.5).
hostshare=$(python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(f"{sys.argv[1]}/cpu_calibration-c64.json"))
got = sum(r["instances"]) / (len(r["instances"]) * r["duration"])
print(f"instances in the loop of 64: {got:.2f} of their cores; the control plane took the rest", file=sys.stderr)
print(f"{min(0.5, max(0.05, 1 - got)):.3f}")
EOF
)
host=(--host-cores "$cores" --host-cpu-per-request-ms "$hostreq" --host-cpu-per-token-us "$hosttok" --host-co-run-slowdown "$corun" --host-max-share "${hostshare:-0.5}" "${hop[@]}")
echo "host CPU beside the instances: $hostreq ms per request + $flushhost us per append + $hosttok us per token, on $cores cores, taking up to $hostshare of a busy instance's core"
simcal() {  # name concurrency seed prompts sim-args...: the simulator on a calibration loop
  local name=$1 c=$2 sd=$3 np=$4; shift 4
  "$bin" cluster simulate --profile "$out/profile.json" --policies round-robin --instances 2 "${work[@]}" --seed "$sd" \
    --num-prompts "$np" --max-concurrency "$c" --request-rates inf "$@" --output-dir "$out/sim-cal-$name-c$c" > "$out/sim-cal-$name-c$c.txt"
}
# The instances' own CPU beside the model (the agent taking each token from the engine, buffering, encoding the
# flushes, the queue client; on the instance's core): instance CPU seconds less the model's step seconds (the
# simulator without any overhead, on the same loop), per token. It is a step's per-token cost, --per-token-us.
co=(--host-co-run-slowdown "$corun")
simcal model 1 8 "$cal" "${co[@]}"; simcal model 4 11 "$cal" "${co[@]}"; simcal model 64 14 $((4 * cal)) "${co[@]}"
read -r pertoken flushinst flushlat stepcpu < <(python3 - "$out" "$hosttok" "$flushhost" "$cores" "$hostshare" <<'EOF'
import json, os, re, sys
d, hosttok, flushhost, cores, share = sys.argv[1], float(sys.argv[2]) / 1e6, float(sys.argv[3]) / 1e6, float(sys.argv[4]), float(sys.argv[5])
sys.path.insert(0, d)
from nnls import nnls
rows, ys, runs = [], [], {}
for c in (1, 4, 64):
    r = runs[c] = json.load(open(f"{d}/cpu_calibration-c{c}.json"))
    busy = sum(map(float, re.search(r"busy seconds ([0-9. ]+);", open(f"{d}/sim-cal-model-c{c}.txt").read()).group(1).split()))
    side = sum(r["instances"]) - busy
    # Where the instances' CPU beside the model goes: their engines' own step seconds (the model, sampling and
    # output handling on the engine thread) against the profile's prediction of the same steps, and the rest
    # (the agent, the queue client, the HTTP server) outside the steps.
    steps = f"; engine steps {r['step_seconds']:.2f} s ({(r['step_seconds'] - busy) / r['tokens'] * 1e6:+.0f} us per token against the profile), " \
            f"outside the steps {(sum(r['instances']) - r['step_seconds']) / r['tokens'] * 1e6:.0f} us per token" if r.get("step_seconds") else ""
    print(f"instances, calibration-c{c}: {sum(r['instances']):.2f} CPU s, model {busy:.2f} s: {side / r['tokens'] * 1e6:.0f} us per token beside the model{steps}", file=sys.stderr)
    # The engine's steps: as its metrics counted them, or (older runs) as the simulator without overheads took them.
    n = r.get("steps") or sum(map(int, re.search(r"steps ([0-9 ]+);", open(f"{d}/sim-cal-model-c{c}.txt").read()).group(1).split()))
    print(f"  {n:.0f} steps ({r['tokens'] / n:.1f} tokens each), {r.get('appends', 0):.0f} appends", file=sys.stderr)
    rows.append([n, r["tokens"]]); ys.append(side)
S = 0.0
if all("appends" in r for r in runs.values()):
    if os.environ.get("INSTANCE_FIT") == "steps":
        # side = S * steps + Ti * tokens over the three loops: the engine loop's work beside the model, per step
        # and per sampled token (on the engine thread: its step seconds account for the instances' CPU).
        S, Ti = nnls(rows, ys)
        Fi = 0.0
    else:
        # side = Fi * appends + Ti * tokens over the three loops (the default: closer to the open loops here,
        # whose steps cost less beside the model than the closed loops' do).
        Fi, Ti = nnls([[r.get("appends", 0), r["tokens"]] for r in runs.values()], ys)
    # The append's round trip on a mostly idle host (the open loop at a low rate; the closed loop of one request
    # at a time, kept hot, answers faster than an open loop does), less the control-plane CPU the simulator queues
    # it for, at what the control plane gets beside one busy instance (the idle cores and its share of the busy one).
    r = json.load(open(f"{d}/cpu_calibration-open.json")) if os.path.exists(f"{d}/cpu_calibration-open.json") else runs[1]
    cpu = (flushhost + hosttok * r["appended_tokens"] / r["appends"]) / max(share, cores - 1 + share)
    lat = max(0.0, r["append_seconds"] / r["appends"] - cpu)
    print(f"append round trip, calibration-{'open' if r is not runs[1] else 'c1'}: {r['append_seconds'] / r['appends'] * 1000:.2f} ms "
          f"({r['appended_tokens'] / r['appends']:.1f} tokens each), of which modelled CPU {cpu * 1000:.2f} ms", file=sys.stderr)
else:
    Fi, lat = 0.0, 0.0
    Ti = max(0.0, sum(y for y, c in zip(ys, (1, 4, 64)) if c != 1) / sum(row[1] for row, c in zip(rows, (1, 4, 64)) if c != 1))
print(f"{Ti * 1e6:.0f} {Fi * 1e6:.0f} {lat * 1000:.3f} {S * 1e6:.0f}")
EOF
)
flush=()
if [ "$flushhost" != "0.0" ] || [ "$flushinst" != "0" ] || [ "$flushlat" != "0.000" ]; then
  flush=(--flush-latency-ms "$flushlat" --flush-host-cpu-us "$flushhost" --flush-instance-cpu-us "$flushinst")
fi
echo "group commit: $flushlat ms per append round trip, $flushhost us of host CPU + $flushinst us of instance CPU per append"
echo "the instances' engine loop beside the model: $stepcpu us per step + $pertoken us per token"
# What the simulator with the host model and that per-token cost still misses: per step (the closed loop of one,
# one token per step), and the TTFT at one request at a time less that, as the dispatch.
simcal host 1 8 "$cal" "${host[@]}" "${flush[@]}" --per-token-us "$pertoken" --step-overhead-us "$stepcpu"
simcal host 4 11 "$cal" "${host[@]}" "${flush[@]}" --per-token-us "$pertoken" --step-overhead-us "$stepcpu"
# With the group commit measured, the gaps are taken on the open loop at a low rate (a closed loop keeps the
# control plane hot: its first tokens come sooner than an open loop's on this VM); else on the loop of one.
have_open=
if [ -s "$out/cpu_calibration-open.json" ] && [ ${#flush[@]} -gt 0 ]; then
  have_open=1
  "$bin" cluster simulate --profile "$out/profile.json" --policies round-robin --instances 2 "${work[@]}" --seed 16 \
    --num-prompts $((2 * cal)) --request-rates "$calrate" "${host[@]}" "${flush[@]}" --per-token-us "$pertoken" --step-overhead-us "$stepcpu" \
    --output-dir "$out/sim-cal-host-open" > "$out/sim-cal-host-open.txt"
fi
read -r dispatch perstep < <(python3 - "$out" "$have_open" "$stepcpu" <<'EOF'
import glob, json, sys
d, have_open, stepcpu = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1e6
def gap(c, k):
    if c == "open":
        r = json.load(open(f"{d}/real_calibration-open.json")); s = json.load(open(glob.glob(f"{d}/sim-cal-host-open/round-robin_x2_rate-*.json")[0]))
    else:
        r = json.load(open(f"{d}/real_calibration-c{c}.json")); s = json.load(open(f"{d}/sim-cal-host-c{c}/round-robin_x2_rate-inf.json"))
    return r[k] - s[k]
base = "open" if have_open else 1
a = max(0.0, gap(base, "median_tpot_ms"))
print(f"gaps at calibration-{'open' if have_open else 'c1'}: TTFT {gap(base, 'median_ttft_ms'):+.3f} ms, TPOT {gap(base, 'median_tpot_ms'):+.3f} ms; "
      f"TPOT gap left at 4 requests at a time: {gap(4, 'median_tpot_ms') - a:+.3f} ms", file=sys.stderr)
# The step overhead: the instances' measured engine loop per step, plus the TPOT gap still left.
print(f"{max(0.0, gap(base, 'median_ttft_ms') - a):.2f} {(stepcpu + a / 1000) * 1e6:.0f}")
EOF
)
# For comparison, the fixed overheads alone (before the host model): the TPOT gaps of the loops of 1 and 4 as
# a + b·tokens per step (a: --step-overhead-us, b: --per-token-us), the TTFT gap at one less a + b as the dispatch.
simcal fixed 1 8 "$cal"; simcal fixed 4 11 "$cal"
read -r fdispatch fperstep fpertoken < <(python3 - "$out" <<'EOF'
import json, sys
d = sys.argv[1]
def gap(c, k):
    r = json.load(open(f"{d}/real_calibration-c{c}.json")); s = json.load(open(f"{d}/sim-cal-fixed-c{c}/round-robin_x2_rate-inf.json"))
    return r[k] - s[k]
g1, g4 = gap(1, "median_tpot_ms"), gap(4, "median_tpot_ms")
# Two instances share four streams: about two tokens per step each.
b = max(0.0, (g4 - g1) / (2 - 1))
a = max(0.0, g1 - b)
print(f"{max(0.0, gap(1, 'median_ttft_ms') - a - b):.2f} {a * 1000:.0f} {b * 1000:.0f}")
EOF
)
echo "calibrated cluster overhead with the host model: $dispatch ms of TTFT, $perstep us per step + $pertoken us per token (measured)"
echo "  (fixed overheads only: $fdispatch ms of TTFT, $fperstep us per step + $fpertoken us per token)"
[ ${#flush[@]} -gt 0 ] || { flushlat=; flushhost=; flushinst=; }
for v in cores corun hostreq hosttok hostshare flushhost flushinst flushlat pertoken stepcpu dispatch perstep fdispatch fperstep fpertoken; do
  printf '%s=%q\n' "$v" "${!v}"
done > "$out/calibration.env"
fi

IFS=, read -ra pols <<< "$policies"
IFS=, read -ra rs <<< "$rates"
# REPEAT=k: every cell k times (rounds over all policies and rates, so a slow spell of the machine spreads over the
# cells), each with its own seed; the table compares medians over the rounds and shows the real runs' spread.
reps=${REPEAT:-1}
seed=100
for j in $(seq 1 "$reps"); do
  sfx=; [ "$j" -gt 1 ] && sfx="_rep$j"
  for pol in "${pols[@]}"; do
    start_router "$pol" limited
    for r in "${rs[@]}"; do
      seed=$((seed + 1))
      bench "${pol}_rate-$r$sfx" "$r" "$seed" --num-prompts "$n"
      sim=("$bin" cluster simulate --profile "$out/profile.json" --policies "$pol" --instances 2 "${work[@]}" --seed "$seed"
           --num-prompts "$n" --request-rates "$r" "${qlim[@]}")
      mkdir -p "$out/sim$sfx" "$out/sim-fixed$sfx" "$out/sim-speed$sfx"
      cal=(--dispatch-ms "$dispatch" --step-overhead-us "$perstep" --per-token-us "$pertoken" "${host[@]}" "${flush[@]}")
      "${sim[@]}" "${cal[@]}" --output-dir "$out/sim$sfx" > "$out/sim$sfx/${pol}_rate-$r.txt"
      cat "$out/sim$sfx/${pol}_rate-$r.txt" >> "$out/sim.txt"
      # The machine's speed during this run: the instances' engine step seconds (their metrics) over the simulated
      # instances' busy seconds. This VM's speed drifts by 20% and more within minutes (the same `serve` run here
      # took 17.6, 21.6 and 23.6 ms per SmolLM2 step within 20 minutes), so the table also shows the simulator
      # given that speed (--step-time-scale): the error left is the model's, the rest the machine's drift.
      speed=$(python3 - "$out/cpu_${pol}_rate-$r$sfx.json" "$out/sim$sfx/${pol}_rate-$r.txt" <<'EOF'
import json, re, sys
c = json.load(open(sys.argv[1]))
busy = sum(map(float, re.search(r"busy seconds ([0-9. ]+);", open(sys.argv[2]).read()).group(1).split()))
print(f"{c['step_seconds'] / busy:.4f}" if c.get("step_seconds") and busy > 0 else "")
EOF
)
      if [ -n "$speed" ]; then
        "${sim[@]}" "${cal[@]}" --step-time-scale "$speed" --output-dir "$out/sim-speed$sfx" > /dev/null
        echo "$speed" > "$out/sim-speed$sfx/${pol}_rate-$r.speed"
      fi
      "${sim[@]}" --dispatch-ms "$fdispatch" --step-overhead-us "$fperstep" --per-token-us "$fpertoken" \
        --output-dir "$out/sim-fixed$sfx" >> "$out/sim-fixed.txt"
    done
    stop_router
  done
done

python3 - "$out" "$policies" "$rates" "$model" "$reps" \
  "$dispatch ms + $perstep us/step + $pertoken us/token; host CPU $hostreq ms/request + $hosttok us/token on $cores cores; co-run +$corun; control-plane share ${hostshare:-0.5}${hop:+ + hop queueing}; group commit ${flushlat:-0} ms + ${flushhost:-0} us host + ${flushinst:-0} us instance CPU per append" <<'EOF' | tee "$out/table.md"
import json, statistics, sys
out, pols, rates, model, reps, overhead = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), sys.argv[4], int(sys.argv[5]), sys.argv[6]
med = statistics.median
print(f"model {model}, 2 instances (1 thread, 1 core each), calibrated overhead {overhead}")
if reps > 1:
    print(f"each cell run {reps} times (own seeds): medians over the runs of each run's median; the real runs' range in brackets")
print("| policy | rate | real TTFT p50 | sim TTFT p50 | err | fixed-only err | real TPOT p50 | sim TPOT p50 | err | fixed-only err | real host CPU | ok real/sim |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
keys = ("median_ttft_ms", "median_tpot_ms")
start = json.load(open(f"{out}/cpu_calibration-one.json"))["client"]
rank, worst, fworst = {}, 0.0, 0.0
import os
speedrows = []
for r in rates:
    for p in pols:
        sfx = [""] + [f"_rep{j}" for j in range(2, reps + 1)]
        A = [json.load(open(f"{out}/real_{p}_rate-{r}{x}.json")) for x in sfx]
        S = [json.load(open(f"{out}/sim{x}/{p}_x2_rate-{r}.json")) for x in sfx]
        F = [json.load(open(f"{out}/sim-fixed{x}/{p}_x2_rate-{r}.json")) for x in sfx]
        C = [json.load(open(f"{out}/cpu_{p}_rate-{r}{x}.json")) for x in sfx]
        a = {k: med([q[k] for q in A]) for k in keys + ("mean_e2el_ms",)}
        s = {k: med([q[k] for q in S]) for k in keys + ("mean_e2el_ms",)}
        f = {k: med([q[k] for q in F]) for k in keys + ("mean_e2el_ms",)}
        e = {k: s[k] / a[k] - 1 for k in keys}
        fe = {k: f[k] / a[k] - 1 for k in keys}
        worst = max(worst, *map(abs, e.values())); fworst = max(fworst, *map(abs, fe.values()))
        hostcpu = med([(c["router"] + c["postgres"] + max(0.0, c["client"] - start)) / c["duration"] for c in C])
        def real(k, fmt):
            v = format(a[k], fmt)
            return v if reps == 1 else f"{v} [{format(min(q[k] for q in A), fmt)}-{format(max(q[k] for q in A), fmt)}]"
        print(f"| {p} | {r} | {real(keys[0], '.1f')} | {s[keys[0]]:.1f} | {e[keys[0]]:+.0%} | {fe[keys[0]]:+.0%} | "
              f"{real(keys[1], '.2f')} | {s[keys[1]]:.2f} | {e[keys[1]]:+.0%} | {fe[keys[1]]:+.0%} | {hostcpu:.2f} cores | "
              f"{sum(q['completed'] for q in A)}/{sum(q['completed'] for q in S)} |")
        rank.setdefault(r, {})[p] = (a["mean_e2el_ms"], s["mean_e2el_ms"], f["mean_e2el_ms"], [q["mean_e2el_ms"] for q in A])
        sp = [f"{out}/sim-speed{x}/{p}_rate-{r}.speed" for x in sfx]
        if all(os.path.exists(x) for x in sp):
            v = [float(open(x).read()) for x in sp]
            Q = [json.load(open(f"{out}/sim-speed{x}/{p}_x2_rate-{r}.json")) for x in sfx]
            q = {k: med([z[k] for z in Q]) for k in keys}
            speedrows.append(f"| {p} | {r} | {med(v):.2f} [{min(v):.2f}-{max(v):.2f}] | {q[keys[0]]:.1f} | {q[keys[0]] / a[keys[0]] - 1:+.0%} | "
                             f"{q[keys[1]]:.2f} | {q[keys[1]] / a[keys[1]] - 1:+.0%} |")
if speedrows:
    print()
    print("The machine's speed during each run: the instances' engine step seconds over the simulated instances' busy seconds "
          "(1.00: as profiled), and the simulator given that speed (--step-time-scale):")
    print("| policy | rate | real/sim step time | sim TTFT p50 | err | sim TPOT p50 | err |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(speedrows))
print()
# The ranking: by mean E2E latency (medians over the runs). With REPEAT > 1 a pair of policies whose real runs'
# ranges overlap is a tie, which any simulated order matches: only the pairs the real runs tell apart must agree.
same, fsame = True, True
for r, d in rank.items():
    real, sim, fix = (sorted(d, key=lambda p: d[p][j]) for j in range(3))
    def agrees(order):
        for i, p in enumerate(real):
            for q in real[i + 1:]:
                if reps > 1 and max(d[p][3]) >= min(d[q][3]): continue   # the real runs overlap: a tie
                if order.index(p) > order.index(q): return False
        return True
    ties = [f"{p} ~ {q}" for i, p in enumerate(real) for q in real[i + 1:] if reps > 1 and max(d[p][3]) >= min(d[q][3])]
    ok, fok = agrees(sim), agrees(fix)
    same &= ok; fsame &= fok
    tie = f" (real runs overlap: {', '.join(ties)})" if ties else ""
    print(f"rate {r}: ranking by mean E2E latency, real: {' < '.join(real)}{tie}; simulated: {' < '.join(sim)}"
          f" ({'same' if ok else 'DIFFERENT'}); fixed overheads only: {'same' if fok else 'DIFFERENT'}")
print(f"\nlargest median error {worst:.0%} (fixed overheads only {fworst:.0%}); rankings {'identical' if same else 'differ'}"
      f" (fixed overheads only: {'identical' if fsame else 'differ'})")
EOF
