#!/usr/bin/env bash
# Installs what Swiftlet needs on a fresh Debian machine, idempotently:
# OpenBLAS (libopenblas-dev, pkg-config), the default model, and what the tests use (Python packages: openai,
# httpx[http2], schemathesis; Debian: nghttp2-client for h2load, openssl for test certificates).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
need_apt=()
dpkg -s libopenblas-dev >/dev/null 2>&1 || need_apt+=(libopenblas-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ "${SWIFTLET_WITH_PYTHON_TESTS:-0}" = 1 ]; then
  command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)   # h2load: the HTTP/2 load test
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)         # test certificates
fi
if [ "${SWIFTLET_WITH_POSTGRES:-0}" = 1 ]; then
  [ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
  command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)             # chaos: an instance's database connections
  command -v stress-ng >/dev/null 2>&1 || need_apt+=(stress-ng)     # chaos and tests under background CPU load
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} ..." >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
"$root/models/fetch-default-model.sh"
if [ "${SWIFTLET_WITH_PYTHON_TESTS:-0}" = 1 ]; then
  python3 -c "import openai, numpy, regex, jsonschema, h2, httpx, schemathesis" 2>/dev/null \
    || python3 -m pip install --quiet openai numpy regex jsonschema 'httpx[http2]' schemathesis
fi
