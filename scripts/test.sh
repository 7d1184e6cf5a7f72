#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, builds, runs the Swift tests (optimised build,
# since the model tests run real forward passes), then the Python conformance suite against a live server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SWIFTLET_WITH_PYTHON_TESTS=1 "$root/scripts/setup.sh"
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build 2>&1 | tee .build/swift-test.log
if [ -x "$root/Tests/conformance/run.sh" ]; then
  "$root/Tests/conformance/run.sh"
fi
