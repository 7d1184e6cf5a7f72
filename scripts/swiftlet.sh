#!/usr/bin/env bash
# Builds (optimised) and runs the swiftlet command after installing what it needs.
# With no arguments it serves the default model: scripts/swiftlet.sh  ==  swiftlet serve
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# The same build configuration as scripts/test.sh (release with -enable-testing), so neither rebuilds the other's.
swift build -c release -Xswiftc -enable-testing --package-path "$root" --product swiftlet >&2
bin="$root/.build/release/swiftlet"
if [ $# -eq 0 ]; then set -- serve; fi
exec "$bin" "$@"
