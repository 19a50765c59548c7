#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The relay fan-out benchmark of issues 4 and 5 (method and results: docs/benchmarks.md,
# "Relay fan-out (issue 4)"), one command, loopback only, bounded in time (about 8 minutes with
# the defaults: 2 transports x 5 points x ~15 s, plus the reference floors):
#   1. builds Release (build/bench) and makes the media (scripts/bench/make-media.sh: 4 Mbit/s,
#      25 fps, GOP 50, ~400 RTP packets/s);
#   2. one rtsp-camsim camera, the broker (core 1) and ONE relay (core 0, capacity 5,000),
#      registered with the broker's CLI as tests/integration/deployment.py does;
#   3. per transport (tcp, udp; a fresh relay each) and N (1,10,100,300,500,1000): rtsp-bench -n N
#      (core 1) starting every viewer at the broker URL, viewers spread over 127.0.2.x source
#      addresses (the relay takes 50 connections per IP); relay CPU (utime+stime) over the
#      steady window per million delivered packets, rd_relay_packets_out_total, VmRSS/VmHWM,
#      loss, setup and PLAY->first key frame p50/p99, rtsp-bench's own CPU;
#   4. beside it, scripts/bench/fanout_micro at the same N: writev, sendto, sendmmsg,
#      sendmmsg+GSO floors, ratios relay/floor;
#   5. the peers of scripts/bench/peers.py at the same N (GStreamer's RTSP server as a relay,
#      rtsp-streaming-server from npm fed by ffmpeg; --peers-module FILE), --no-peers skips them.
# Writes relay.json, summary.txt and every rtsp-bench JSON into the results directory.
#
# usage: scripts/bench/relay.sh [--no-build] [--out DIR] [--n 1,10,100,300,500,1000]
#                               [--transports tcp,udp] [--seconds 12] [--ramp 200]
#                               [--micro-seconds 3] [--no-micro] [--no-peers] [--keep]
#                               [--pace-pct N]   (rtsp-camsim's; 0 = each frame in one burst)
#                               [--awake]  (keep the client core from halting: see docs/benchmarks.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/bench"
build_it=1
out=""
args=()
peers=(--peers)
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) build_it=0; shift ;;
    --out) out=$2; shift 2 ;;
    --n | --transports | --seconds | --ramp | --micro-seconds | --pace-pct) args+=("$1" "$2"); shift 2 ;;
    --no-micro | --keep | --awake) args+=("$1"); shift ;;
    --peers) peers=(--peers); shift ;;
    --no-peers) peers=(); shift ;;
    --peers-module | --peer-classes) args+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n "2,25p" "$0"; exit 0 ;;
    *) echo "relay.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
[ "$(nproc)" -ge 2 ] || { log "needs 2 cores (relay and load pinned apart)"; exit 1; }
command -v taskset >/dev/null || { log "taskset missing (util-linux)"; exit 1; }
if [ $build_it -eq 1 ]; then
    log "building Release in $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target rtsp-broker rtsp-relay rtsp-bench rtsp-camsim fanout_micro >/dev/null
fi
media=$("$root/scripts/bench/make-media.sh")
out=${out:-"$root/build/bench-results/$(date +%Y%m%d-%H%M%S)-relay"}
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
la=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average $la; results in $out"
/usr/bin/python3 - "$out/meta.json" "$la" <<'PY'
import json, os, platform, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
json.dump({"kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(), "loadavg_start": sys.argv[2]},
          open(sys.argv[1], "w"), indent=1)
PY
exec /usr/bin/python3 "$root/scripts/bench/relay_bench.py" fanout --bin-dir "$build" --media "$media" \
    --out "$out" "${args[@]}" "${peers[@]}"
