#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real players start at the BROKER URL, follow its 302 to a real rtsp-relay and decode the
camera through it: the GStreamer RTSP test camera (H.264), the real rtsp-broker and two
rtsp-relay processes (deployment.py).

  - ffmpeg over TCP and over UDP: exit 0, >= 100 frames decoded in 5 s, no error line;
  - gst-launch-1.0 rtspsrc protocols=tcp and udp ! rtph264depay ! h264parse [! avdec_h264]
    ! fakesink num-buffers=100: EOS (100 access units), no ERROR;
  - the same against a camera behind Digest authentication (registered with --user, the
    password on stdin): the relay answers the camera's 401 with the broker-provided
    credentials; the players never see a 401 (relays never challenge viewers).
Each player must reach a relay: the relays' accepted connection counters grow.

    relay_players.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log  # noqa: E402
import deployment as dep  # noqa: E402

CAM_USER, CAM_PASSWORD = "viewer", "Digest-only s3cret"


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay, tools=("ffmpeg",),
                gst=("rtspsrc", "rtph264depay", "h264parse"))
    with Harness() as h:
        d = dep.Deployment(h, args.broker, args.relay,
                           [dep.CameraSpec("lobby", gop=25),
                            dep.CameraSpec("vault", user=CAM_USER, password=CAM_PASSWORD, gop=25)])
        d.start()
        runs = [("ffmpeg-tcp", "lobby", "ffmpeg", "tcp"), ("ffmpeg-udp", "lobby", "ffmpeg", "udp"),
                ("gst-tcp", "lobby", "gst", "tcp"), ("gst-udp", "lobby", "gst", "udp"),
                ("digest-ffmpeg-tcp", "vault", "ffmpeg", "tcp"),
                ("digest-gst-udp", "vault", "gst", "udp")]
        for name, cam, player, proto in runs:
            before = dep.relays_connections(d)
            if player == "ffmpeg":
                dep.play_ffmpeg(h, name, d.url(cam), proto)
            else:
                dep.play_gst(h, name, d.url(cam), proto)
            after = dep.relays_connections(d)
            served = [d.relays[i].id for i in range(len(after)) if after[i] > before[i]]
            log(f"{name}: served by {served or 'no relay'} "
                f"(connections {before} -> {after})")
            check(served, f"{name}: no relay accepted a connection: the player did not go "
                          f"through a relay")
        for cam in ("lobby", "vault"):
            st = d.camera(cam).stats()
            log(f"camera {cam}: {st}")
            check(st["sessions"] >= 1, f"camera {cam} never saw a session: {st}")
        # The Digest camera: the relays fetched the credentials from the broker and never
        # failed to authenticate.
        for i in range(len(d.relays)):
            c = d.relay_camera(i, "vault")
            if c:
                log(f"{d.relays[i].id} vault: state {c.get('state')} auth_failures "
                    f"{c.get('auth_failures')} reconnects {c.get('reconnects')}")
                check(not c.get("auth_failures"), f"auth failures pulling vault: {c}")
        # Clean exits, and the camera password never reached a log.
        d.finish(secrets=[CAM_PASSWORD])
    log("relay_players: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
