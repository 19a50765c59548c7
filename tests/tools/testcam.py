#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A test camera: the GStreamer RTSP server serving an H.264 test pattern.

Stands in for an IP camera (and, in broker tests, for a relay): it serves every path given
with --path (default /cam), optionally behind Digest authentication, on 127.0.0.1.

    testcam.py --port 0 --path /cam [--path /v1/lobby --relay-paths] [--user u --password p]
               [--ready-file F] [--stats-file S]

With --port 0 a free port is chosen; the bound port is printed as "PORT <n>" on stdout and
written to --ready-file once the server accepts connections. A fixed --port lets a test stop
the camera and start it again where its clients (a relay's puller) expect it. --stats-file
keeps a JSON object up to date (rewritten atomically on every change) with what the camera
saw from its clients: {"connections": accepted TCP connections, "open": still open,
"sessions": RTSP sessions created (SETUP), "plays": PLAY requests, "teardowns": TEARDOWN
requests}; a test counts camera sessions with it. Stops on SIGTERM or SIGINT.
Run it with Debian's /usr/bin/python3: python3-gi is not installed for other interpreters.
"""
import argparse
import json
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def pipeline(fps, gop, bitrate_kbps, pattern="ball"):
    # x264enc is in gstreamer1.0-plugins-ugly; key-int-max fixes the GOP so key-frame
    # tests know when the next IDR comes. config-interval=-1 repeats SPS/PPS before each IDR.
    return (
        f"( videotestsrc is-live=true pattern={pattern} ! video/x-raw,width=640,height=360,"
        f"framerate={fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast "
        f"bitrate={bitrate_kbps} key-int-max={gop} ! video/x-h264,profile=baseline ! "
        f"rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


class RelayPathMounts(GstRtspServer.RTSPMountPoints):
    """Serves relay-style URLs /v1/<camera>/<token>/<control> from the mount /v1/<camera>,
    so a broker's 302 Location can be followed without a real relay (the token is only
    checked for shape: five dot-separated fields)."""

    def do_make_path(self, url):
        path = url.abspath
        parts = path.split("/")
        # ['', 'v1', camera, token, control...]
        if len(parts) >= 4 and parts[1] == "v1" and len(parts[3].split(".")) == 5:
            rest = [p for p in parts[4:] if p]
            return "/".join(["", "v1", parts[2]] + rest)
        return path


class Stats:
    """Counts client connections and RTSP sessions; rewrites path atomically on each change."""

    def __init__(self, path):
        self.path = path
        self.v = {"connections": 0, "open": 0, "sessions": 0, "plays": 0, "teardowns": 0}
        self.write()

    def bump(self, key, n=1):
        self.v[key] += n
        self.write()

    def write(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.v, f)
        os.rename(tmp, self.path)

    def attach(self, server):
        server.connect("client-connected", self.on_client)

    def on_client(self, _server, client):
        self.bump("connections")
        self.bump("open")
        client.connect("new-session", lambda *_a: self.bump("sessions"))
        client.connect("play-request", lambda *_a: self.bump("plays"))
        client.connect("teardown-request", lambda *_a: self.bump("teardowns"))
        client.connect("closed", lambda *_a: self.bump("open", -1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", action="append", help="mount path (repeatable)")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop", type=int, default=50, help="frames between key frames")
    ap.add_argument("--bitrate", type=int, default=1000, help="kbit/s")
    ap.add_argument("--pattern", default="ball",
                    help="videotestsrc pattern; 'snow' (noise) makes x264 use the whole bitrate")
    ap.add_argument("--ready-file")
    ap.add_argument("--stats-file", help="JSON counters of client connections and sessions")
    ap.add_argument("--relay-paths", action="store_true",
                    help="also accept /v1/<camera>/<token>/... for a mount /v1/<camera>")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(args.fps, args.gop, args.bitrate, args.pattern))
    factory.set_shared(True)  # one encoder for all clients, like a camera

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_digest(args.user, args.password or "", token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)

    if args.relay_paths:
        server.set_mount_points(RelayPathMounts())
    mounts = server.get_mount_points()
    for path in args.path or ["/cam"]:
        mounts.add_factory(path, factory)

    if args.stats_file:
        Stats(args.stats_file).attach(server)

    return serve(server, "testcam", args.ready_file)


def serve(server, name, ready_file):
    """Listens, reports the bound port ("PORT n" on stdout, and ready_file written atomically
    when given) and runs until SIGTERM or SIGINT. Returns the exit status. Also used by
    scripts/bench/gst_relay.py."""
    if server.attach(None) == 0:
        print(f"{name}: cannot listen", file=sys.stderr)
        return 1
    port = server.get_bound_port()
    print(f"PORT {port}", flush=True)
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, ready_file)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
