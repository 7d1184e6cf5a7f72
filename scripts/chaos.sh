#!/usr/bin/env bash
# Opt-in cluster chaos run against real processes (not part of scripts/test.sh; it needs minutes):
# PostgreSQL fast restart (or a stop of S seconds) while streams run through one router and two instances on
# stories260K; every stream must equal single-process `serve`, and so must the first request after the fault.
#   SWIFTLET_CHAOS=1 scripts/chaos.sh                         # one run, 40 streams x 400 tokens
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --repeat 20             # 20 runs in a row on the same cluster
#   SWIFTLET_CHAOS=1 scripts/chaos.sh --stop-seconds 10       # the database stopped for 10 s instead
#   SWIFTLET_CHAOS=1 SWIFTLET_CHAOS_CPU_LOAD=2 scripts/chaos.sh  # with `stress-ng --cpu 2` beside it
# Builds like scripts/test.sh (release, -enable-testing) unless SWIFTLET_CHAOS_SKIP_BUILD=1. Needs postgresql-15
# (SWIFTLET_WITH_POSTGRES=1 scripts/setup.sh). Other arguments go to scripts/chaos.py (--streams, --max-tokens,
# --client-timeout, --logs DIR).
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
