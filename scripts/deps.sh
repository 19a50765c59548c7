#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian 12 packages rtsp-director needs to build and test, and an installer that runs
# apt-get only when something is missing. Sourced by test.sh and demo.sh.

RD_BUILD_DEPS=(
    cmake pkg-config gcc clang clang-format libclang-rt-14-dev git
    libev-dev libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev
    libcmocka-dev
)
# Real peers for the integration tests and the demo: players and the GStreamer RTSP server.
RD_PEER_DEPS=(
    ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-rtsp
    python3 python3-gi gir1.2-gst-rtsp-server-1.0 sqlite3 curl
)

# rd_missing_packages PKG...: prints the packages that are not installed.
rd_missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
            || echo "$p"
    done
}

# rd_install_deps: installs whatever is missing, or explains what to install when not root.
rd_install_deps() {
    local missing
    missing=$(rd_missing_packages "${RD_BUILD_DEPS[@]}" "${RD_PEER_DEPS[@]}")
    if [ -z "$missing" ]; then
        echo "deps: all packages present"
        return 0
    fi
    echo "deps: installing:" $missing
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: not root; run: apt-get install -y" $missing >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null
    missing=$(rd_missing_packages "${RD_BUILD_DEPS[@]}" "${RD_PEER_DEPS[@]}")
    if [ -n "$missing" ]; then
        echo "deps: still missing after apt-get:" $missing >&2
        return 1
    fi
}
