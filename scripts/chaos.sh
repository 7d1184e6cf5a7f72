#!/usr/bin/env bash
# Cluster chaos scenarios against real processes and a throwaway PostgreSQL (scripts/chaos.py says what each does
# and checks): two routers and two instances on stories260K, streams through them, a fault mid-stream; every stream
# must equal single-process `serve` (or end as the scenario allows), the next request too, and nothing may leak
# (no queue row left queued/assigned, 0 requests running and 0 KV usage on every instance).
#   SWIFTLET_CHAOS=1 scripts/chaos.sh                              # pg-restart, 40 streams x 400 tokens
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --scenario all               # pg-restart pg-stop sigstop kill-instance
#                                                                  # kill-router terminate-backend burst
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --scenario all --quick       # the CI form (scripts/test.sh runs it): 20 streams
#                                                                  # x 200 tokens, 5 s stop; ~1 min, ~4 min loaded
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --scenario sigstop --repeat 5
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --stop-seconds 10            # pg-stop (the old option)
#   SWIFTLET_CHAOS=1 SWIFTLET_CHAOS_CPU_LOAD=2 scripts/chaos.sh    # with `stress-ng --cpu 2` beside it
# Builds like scripts/test.sh (release, -enable-testing) unless SWIFTLET_CHAOS_SKIP_BUILD=1. Needs postgresql-15
# and stress-ng for the load (SWIFTLET_WITH_POSTGRES=1 scripts/setup.sh). Other arguments go to scripts/chaos.py
# (--streams, --max-tokens, --repeat, --client-timeout, --logs DIR).
set -euo pipefail
if [ "${SWIFTLET_CHAOS:-}" != 1 ]; then echo "chaos: opt-in; set SWIFTLET_CHAOS=1" >&2; exit 2; fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
flags=(-c release -Xswiftc -enable-testing)
if [ "${SWIFTLET_CHAOS_SKIP_BUILD:-}" != 1 ]; then swift build "${flags[@]}" --build-tests; fi
bin=$(swift build "${flags[@]}" --show-bin-path)/swiftlet
load_pid=""
cleanup() { if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
if [ -n "${SWIFTLET_CHAOS_CPU_LOAD:-}" ]; then
  command -v stress-ng >/dev/null || { echo "chaos: stress-ng not installed (apt-get install stress-ng)" >&2; exit 1; }
  stress-ng --cpu "$SWIFTLET_CHAOS_CPU_LOAD" --timeout 4h --quiet &
  load_pid=$!
  echo "chaos: stress-ng --cpu $SWIFTLET_CHAOS_CPU_LOAD beside the run (pid $load_pid)" >&2
fi
python3 "$root/scripts/chaos.py" "$bin" "$@"
