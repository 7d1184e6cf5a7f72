#!/usr/bin/env bash
# OpenAI API conformance: the official `openai` Python client against live `swiftlet serve` processes
# (stories260K, SmolLM2 and Gemma 3 270M), started and stopped by the test fixtures; then TLS, HTTP/2, keep-alive and the OpenAPI
# description (test_transport.py: openai over https, httpx h2, h2load, schemathesis). Usage: run.sh PATH_TO_SWIFTLET
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export SWIFTLET_BIN="${1:?path to the swiftlet binary}"
export SWIFTLET_ROOT=$(cd "$here/../.." && pwd)
python3 -c "import openai, jsonschema, h2, httpx, schemathesis" 2>/dev/null \
  || python3 -m pip install --quiet openai jsonschema 'httpx[http2]' schemathesis
cd "$here"
python3 -m pytest -q -p no:cacheprovider test_openai_client.py test_structured.py test_transport.py test_gemma3.py
