#!/usr/bin/env bash
# Runs every Swift test of an existing build (scripts/test.sh builds it: release, -enable-testing), in two
# processes one after the other, each beside a throwaway PostgreSQL (scripts/with-postgres.sh):
#   1. the suites that time things (ClusterTests, ServerTests, BenchTests: leases, timeouts, request rates), then
#   2. all the others (kernels, models, engine, tokenizer, scheduler, simulator ...).
# In one process the compute-heavy tests keep the Swift concurrency pool's threads (one per core) busy for seconds
# at a time, and every `await` of the timing suites (a PostgreSQL answer, a timer) waits behind them: beside
# `stress-ng --cpu 2` every queue operation of the cluster tests once went 15 s without an answer, while
# PostgreSQL's log showed no statement slower than 1 s. (SwiftPM lets one command at a time use .build, so the
# two processes take turns.) Exit status non-zero if either failed; both always run.
#   scripts/run-swift-tests.sh [log-dir]      (default .build; writes swift-test-timing.log and swift-test.log)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logs=${1:-.build}
mkdir -p "$logs"
flags=(-c release -Xswiftc -enable-testing)
timing='^(ClusterTests|ServerTests|BenchTests)\.'
echo "---- Swift tests 1/2: the suites that time things (ClusterTests, ServerTests, BenchTests) ----"
"$root/scripts/with-postgres.sh" swift test "${flags[@]}" --skip-build --filter "$timing" 2>&1 | tee "$logs/swift-test-timing.log"
timed=${PIPESTATUS[0]}
echo "---- Swift tests 2/2: all the other suites ----"
"$root/scripts/with-postgres.sh" swift test "${flags[@]}" --skip-build --skip "$timing" 2>&1 | tee "$logs/swift-test.log"
rest=${PIPESTATUS[0]}
echo "swift tests: the timing suites exited $timed, the others $rest"
[ "$timed" -eq 0 ] && [ "$rest" -eq 0 ]
