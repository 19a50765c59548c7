#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes rtsp-camsim's media once: an H.264 Annex B elementary stream encoded by libx264 from
# FFmpeg's testsrc2 at a fixed GOP (no scene-cut key frames), constant 4 Mbit/s, 25 fps, so a
# camera matches issue 4's benchmark camera (key frame every 2 s, ~400 RTP packets/s).
# Output goes into a build directory (never committed); an existing file is kept unless --force.
#
# usage: scripts/bench/make-media.sh [--out FILE] [--seconds N] [--size WxH] [--fps N]
#                                    [--gop N] [--bitrate KBIT] [--force]
# Default FILE: build/media/camsim-720p25.h264 under the repository. Prints the path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/media/camsim-720p25.h264"
seconds=10
size=1280x720
fps=25
gop=50
kbit=4000
force=0
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --fps) fps=$2; shift 2 ;;
    --gop) gop=$2; shift 2 ;;
    --bitrate) kbit=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '3,10p' "$0"; exit 0 ;;
    *) echo "make-media.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -s "$out" ] && [ "$force" = 0 ]; then
    echo "$out"
    exit 0
fi
command -v ffmpeg >/dev/null || { echo "make-media.sh: ffmpeg not installed (apt-get install ffmpeg)" >&2; exit 77; }
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null || true)
[[ "$encoders" == *libx264* ]] || { echo "make-media.sh: ffmpeg has no libx264" >&2; exit 77; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
# -bufsize of a quarter second keeps every second near the target rate; zerolatency: no
# B-frames (decode order = presentation order, as IP cameras send).
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=$fps" \
    -t "$seconds" -c:v libx264 -preset veryfast -tune zerolatency -g "$gop" -keyint_min "$gop" \
    -sc_threshold 0 -b:v "${kbit}k" -maxrate "${kbit}k" -bufsize "$((kbit / 4))k" \
    -bsf:v h264_mp4toannexb -f h264 "$tmp"
mv "$tmp" "$out"
echo "$out"
