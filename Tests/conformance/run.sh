#!/usr/bin/env bash
# OpenAI API conformance: the official `openai` Python client against live `swiftlet serve` processes
# (stories260K and SmolLM2), started and stopped by the test fixtures. Usage: run.sh PATH_TO_SWIFTLET
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export SWIFTLET_BIN="${1:?path to the swiftlet binary}"
export SWIFTLET_ROOT=$(cd "$here/../.." && pwd)
python3 -c "import openai" 2>/dev/null || python3 -m pip install --quiet openai
python3 -c "import jsonschema" 2>/dev/null || python3 -m pip install --quiet jsonschema
cd "$here"
python3 -m pytest -q -p no:cacheprovider test_openai_client.py test_structured.py
