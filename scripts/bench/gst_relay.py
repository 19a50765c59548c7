#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Peer relay (a) for the relay fan-out benchmark: GStreamer's RTSP server as a relay.

One SHARED media factory pulls the camera once with rtspsrc (TCP-interleaved, latency 0),
depayloads the H.264, re-parses it (SPS/PPS in front of every IDR) and re-payloads it as pay0;
every viewer, UDP unicast or TCP-interleaved, is served from that one pipeline.

    gst_relay.py --camera rtsp://127.0.0.1:8554/cam1 [--port 0] [--path /relay]
                 [--address 127.0.0.1] [--backlog 1024] [--ready-file F]

With --port 0 a free port is chosen; the bound port is printed as "PORT <n>" on stdout and
written to --ready-file once the server accepts connections (the camera is only pulled when
the first viewer DESCRIBEs). Stops on SIGTERM or SIGINT.
Run it with Debian's /usr/bin/python3: python3-gi is not installed for other interpreters.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "tools"))
from testcam import Gst, GstRtsp, GstRtspServer, serve  # noqa: E402  (also loads gi's modules)


def launch_line(camera_url):
    """The relay pipeline: pull, depayload, parse, re-payload (pay0 is what viewers get)."""
    if any(c in camera_url for c in ' "\'!()'):
        raise ValueError(f"camera URL with characters gst-launch syntax would split: {camera_url!r}")
    return (
        f"( rtspsrc location={camera_url} latency=0 protocols=tcp ! rtph264depay ! "
        f"h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camera", required=True, help="rtsp:// URL of the camera to relay")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/relay", help="mount path viewers play")
    ap.add_argument("--backlog", type=int, default=1024,
                    help="listen backlog (the library's default is 5; viewers arrive in bursts)")
    ap.add_argument("--ready-file")
    args = ap.parse_args()
    if not args.path.startswith("/"):
        ap.error("--path must start with /")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.set_backlog(args.backlog)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.camera))
    factory.set_shared(True)  # one camera pull for every viewer: what a relay is
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory(args.path, factory)

    return serve(server, "gst_relay", args.ready_file)

if __name__ == "__main__":
    sys.exit(main())
