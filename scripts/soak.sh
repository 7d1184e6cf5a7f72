#!/usr/bin/env bash
# Soak run (not in CI): `swiftlet serve` (or, with --cluster, a router + one instance on a throwaway PostgreSQL)
# at a multiple of its saturation for a while, with mixed prompt/output lengths, streamed and plain requests,
# clients that disconnect mid-stream and clients that cancel before the first token. Reports served / refused
# (429) / failed, resident memory at the start and the end, KV usage and requests running once idle (must be 0),
# p50/p99 time to first token and end-to-end latency; exits 1 on any failure other than a 429 or a leaked block.
#   scripts/soak.sh --duration 600 --multiple 2                 # 10 minutes at 2x saturation, SmolLM2
#   scripts/soak.sh --duration 120 --multiple 3 --cluster
# Builds like scripts/test.sh unless SWIFTLET_SOAK_SKIP_BUILD=1; fetches the default model (SmolLM2-135M-Instruct
# Q4_1) when missing. Other options: --max-num-seqs N (16), --max-queued-requests N (N/2), --model PATH, --logs DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
flags=(-c release -Xswiftc -enable-testing)
if [ "${SWIFTLET_SOAK_SKIP_BUILD:-}" != 1 ]; then swift build "${flags[@]}" --product swiftlet; fi
bin=$(swift build "${flags[@]}" --show-bin-path)/swiftlet
"$root/models/fetch-default-model.sh"
exec python3 "$root/scripts/soak.py" "$bin" "$@" </dev/null
