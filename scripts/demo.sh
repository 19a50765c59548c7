#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a local deployment on loopback: a test camera, the broker and two relays, and prints
# the URL to play and the admin page address.
#
# This version of rtsp-director does not build rtsp-broker and rtsp-relay yet (they come
# with the broker and relay issues), so the demo says so and exits non-zero.
set -euo pipefail
echo "demo.sh: the local deployment needs rtsp-broker and rtsp-relay," \
    "which this version of rtsp-director does not build yet." >&2
exit 2
