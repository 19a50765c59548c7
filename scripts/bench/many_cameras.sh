#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The many-cameras scenario of issue 5 (docs/benchmarks.md, "Many cameras"), one command,
# loopback only, about 2 minutes: 200 rtsp-camsim cameras (one process, --paths cam1..cam200,
# core 1) x 2 viewers each (rtsp-bench, core 1, cam{1..200} at the broker URL) through 2 relays
# (core 0) via the broker (core 1). Reports loss, setup time, PLAY->key frame, the relays' CPU
# over the steady window and RSS, and camera sessions from camsim's stats compared per camera
# with the (camera, relay) pairs actually chosen (rtsp-bench's final URLs, and the relays'
# /api/v1/status). Media: issue 4's camera (4 Mbit/s, make-media.sh) by default; --bitrate
# KBIT makes and uses a lower-rate file for a busier machine.
#
# usage: scripts/bench/many_cameras.sh [--no-build] [--out DIR] [--cameras 200]
#          [--viewers-per-camera 2] [--relays 2] [--seconds 15] [--transport tcp|udp]
#          [--bitrate 4000] [--ramp 100] [--keep]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/bench"
build_it=1
out=""
kbit=4000
ramp=100
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) build_it=0; shift ;;
    --out) out=$2; shift 2 ;;
    --bitrate) kbit=$2; shift 2 ;;
    --ramp) ramp=$2; shift 2 ;;
    --cameras | --viewers-per-camera | --relays | --seconds | --transport) args+=("$1" "$2"); shift 2 ;;
    --keep) args+=("$1"); shift ;;
    -h | --help) sed -n '3,15p' "$0"; exit 0 ;;
    *) echo "many_cameras.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
[ "$(nproc)" -ge 2 ] || { log "needs 2 cores"; exit 1; }
if [ $build_it -eq 1 ]; then
    log "building Release in $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target rtsp-broker rtsp-relay rtsp-bench rtsp-camsim >/dev/null
fi
if [ "$kbit" = 4000 ]; then
    media=$("$root/scripts/bench/make-media.sh")
else
    media=$("$root/scripts/bench/make-media.sh" --bitrate "$kbit" --out "$root/build/media/camsim-720p25-${kbit}k.h264")
fi
out=${out:-"$root/build/bench-results/$(date +%Y%m%d-%H%M%S)-many-cameras"}
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "load average $(cut -d' ' -f1-3 /proc/loadavg); media $media; results in $out"
exec /usr/bin/python3 "$root/scripts/bench/relay_bench.py" cameras --bin-dir "$build" --media "$media" \
    --out "$out" --ramp "$ramp" "${args[@]}"
