#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a local deployment on loopback: a test camera "lobby" (GStreamer RTSP server, H.264 test
# pattern), the broker (RTSP 127.0.0.1:8554, admin page http://127.0.0.1:8080/) and two relays
# (RTSP 127.0.0.1:8555 and :8556), and prints the URL to play:
#   ffplay rtsp://127.0.0.1:8554/lobby
# Ctrl-C stops every process it started. On Debian 12, as root, it first installs what is
# missing (scripts/deps.sh), then builds build/release as scripts/test.sh does.
# Arguments go to tests/integration/deployment.py --demo (--rtsp-port, --admin-port,
# --relay-port, --status-port). Environment: RD_JOBS (parallel build jobs, default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source scripts/deps.sh
rd_install_deps

jobs=${RD_JOBS:-$(nproc)}
mkdir -p build
echo "=== build release (gcc)"
CC=gcc cmake -S . -B build/release -DRD_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
    >build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
cmake --build build/release -j "$jobs" --target rtsp-broker rtsp-relay \
    >build/release.build.log 2>&1 \
    || { grep -E -B2 -A8 'error|Error' build/release.build.log | head -100; exit 1; }

echo "=== demo"
exec /usr/bin/python3 tests/integration/deployment.py --demo --bin-dir build/release "$@"
