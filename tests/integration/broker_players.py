#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real players start at the BROKER URL and must follow its 302 to a relay and play.

A GStreamer RTSP server (tests/tools/testcam.py --relay-paths) stands in for the relay. The
test registers that relay (rtsp base URL = the testcam's 127.0.0.1:port) and a camera in the
same site with the CLI, starts the broker on free loopback ports, keeps the relay healthy with
signed heartbeats (docs/relay-channel.md, tests/integration/relaychan.py) and then runs:
  - ffprobe over TCP: a video stream with codec h264;
  - ffmpeg over TCP, decoding 3 s to the null muxer: at least 50 frames, exit 0, no error lines
    (but the null muxer's dts notices about the test camera's timestamps);
  - gst-launch-1.0 rtspsrc (TCP, then UDP) ! rtph264depay ! h264parse [! avdec_h264] ! fakesink
    num-buffers=50: reaches EOS (openh264dec is not used: it conceals every frame of the
    stand-in's x264 zerolatency stream and never outputs one).
Exits 77 (skip) when the broker binary is not built yet or a prerequisite is missing.

    broker_players.py --broker build/broker/rtsp-broker
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, skip, wait_for, wait_port  # noqa: E402
import relaychan  # noqa: E402
from deployment import gst_has, play_gst, run_client  # noqa: E402

CAMERA = "lobby"
RELAY = "relay-a"
SITE = "default"  # created by schema/001_init.sql
CLIENT_TIMEOUT = 45


def have_gi_rtsp_server():
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import gi; gi.require_version('Gst', '1.0'); "
                        "gi.require_version('GstRtspServer', '1.0'); "
                        "from gi.repository import GstRtspServer"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


class Beater(threading.Thread):
    """Posts a signed heartbeat every interval until stopped; remembers the statuses."""

    def __init__(self, relay, port, interval):
        super().__init__(daemon=True)
        self.relay, self.port, self.interval = relay, port, interval
        self.stop_ev = threading.Event()
        self.statuses = []
        self.last = None
        self.errors = []

    def run(self):
        conn = relaychan.connect("127.0.0.1", self.port)
        while not self.stop_ev.is_set():
            try:
                st, body = self.relay.beat(conn)
                self.statuses.append(st)
                self.last = (st, body)
            except OSError as e:
                self.errors.append(repr(e))
                conn.close()
                conn = relaychan.connect("127.0.0.1", self.port)
            self.stop_ev.wait(self.interval)
        conn.close()

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


def describe(port, url):
    """One DESCRIBE on a new connection; returns (status, headers dict) or (None, {})."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"
                  .encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    m = re.match(r"RTSP/1\.0 (\d{3})", head[0]) if head else None
    if not m:
        return None, {}
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(m.group(1)), hdrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    args = ap.parse_args()

    broker = args.broker
    if not (os.path.isfile(broker) and os.access(broker, os.X_OK)):
        skip(f"broker binary {broker} not built yet")
    for tool in ("ffprobe", "ffmpeg", "gst-launch-1.0", "gst-inspect-1.0"):
        if not shutil.which(tool):
            skip(f"{tool} not installed")
    if not have_gi_rtsp_server():
        skip("python3-gi with GstRtspServer not available for /usr/bin/python3")
    if not gst_has("rtspsrc") or not gst_has("rtph264depay") or not gst_has("h264parse"):
        skip("GStreamer rtspsrc/rtph264depay/h264parse missing")

    with Harness() as h:
        # The stand-in relay: serves /v1/lobby and /v1/lobby/<token>/... (token shape only).
        _, relay_port = h.testcam([f"/v1/{CAMERA}"], relay_paths=True, gop=25)
        rtsp_port, admin_port = h.free_port(), h.free_port()
        while admin_port == rtsp_port:
            admin_port = h.free_port()
        conf = h.write("broker.conf",
                       f"database = {h.path('registry.db')}\n"
                       f"rtsp_listen = 127.0.0.1:{rtsp_port}\n"
                       f"admin_listen = 127.0.0.1:{admin_port}\n"
                       "log_level = debug\n")
        cli = [broker, "-c", conf]

        r = h.run(cli + ["relay", "add", RELAY, "--site", SITE, "--rtsp-url",
                         f"rtsp://127.0.0.1:{relay_port}", "--json"])
        creds = relaychan.parse_relay_add_output(r.stdout)
        h.run(cli + ["camera", "add", CAMERA, "rtsp://127.0.0.1:9/unused-upstream", "--site", SITE])

        h.spawn("broker", cli)
        wait_port(rtsp_port, timeout=15)
        wait_port(admin_port, timeout=15)

        relay = relaychan.Relay(RELAY, creds["kid"], creds["key"])
        relay.set_cameras([{"id": CAMERA, "state": "playing", "viewers": 0, "ingress_kbps": 1000,
                            "drops": 0}])
        beater = Beater(relay, admin_port, 0.5)
        beater.start()
        try:
            wait_for(lambda: beater.statuses or beater.errors, 10, "first heartbeat answer")
            check(beater.statuses and beater.statuses[0] == 200,
                  f"first heartbeat refused: {beater.last} {beater.errors}")

            url = f"rtsp://127.0.0.1:{rtsp_port}/{CAMERA}"
            expect_prefix = f"rtsp://127.0.0.1:{relay_port}/v1/{CAMERA}/"

            # Healthy after a few beats: DESCRIBE answers 302 to the testcam.
            def redirected():
                st, hdrs = describe(rtsp_port, url)
                return hdrs if st == 302 else None

            hdrs = wait_for(redirected, 15, "DESCRIBE answered 302 (relay healthy)")
            loc = hdrs.get("location", "")
            check(loc.startswith(expect_prefix), f"Location {loc!r} does not point at the relay")
            log(f"broker redirects to {loc}")

            # ffprobe: follows the 302 and sees an H.264 video stream.
            r = run_client(h, "ffprobe", ["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                                          "-show_entries", "stream=codec_name,codec_type",
                                          "-of", "json", "-i", url])
            check(r.returncode == 0, f"ffprobe failed: {r.stderr[-2000:]}")
            streams = json.loads(r.stdout).get("streams", [])
            check(any(s.get("codec_type") == "video" and s.get("codec_name") == "h264"
                      for s in streams), f"ffprobe saw no h264 video: {r.stdout}")

            # ffmpeg: decodes at least 50 frames in 3 s, exit 0, no error lines.
            r = run_client(h, "ffmpeg", ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel",
                                         "error", "-rtsp_transport", "tcp", "-i", url, "-t", "3",
                                         "-f", "null", "-", "-progress", "pipe:1"])
            check(r.returncode == 0, f"ffmpeg failed: {r.stderr[-2000:]}")
            frames = [int(m) for m in re.findall(r"^frame=(\d+)", r.stdout, re.M)]
            check(frames and frames[-1] >= 50, f"ffmpeg decoded {frames[-1:] or 0} frames, want 50")
            # The null muxer complains when the stand-in's RTP timestamps give two frames the
            # same dts (a property of the test camera's stream, not of decoding or of the
            # redirect); anything else at error level fails the test.
            errs = [ln for ln in r.stderr.splitlines()
                    if ln.strip() and "non monotonically increasing dts" not in ln]
            check(not errs, f"ffmpeg reported errors: {errs[:10]}")
            log(f"ffmpeg decoded {frames[-1]} frames "
                f"({len(r.stderr.splitlines()) - len(errs)} muxer dts notices ignored)")

            # GStreamer: rtspsrc follows the redirect; 50 access units reach the sink, then
            # EOS. Decoding inside GStreamer only with avdec_h264 (gst-libav): openh264dec
            # conceals every frame of the stand-in's x264 zerolatency stream (sliced threads)
            # and would never output one; ffmpeg above already proves the video decodes.
            # Over TCP (interleaved) and UDP (loopback): the redirect is the same, the media
            # path differs.
            for proto in ("tcp", "udp"):
                play_gst(h, f"gst-{proto}", url, proto, buffers=50, timeout=CLIENT_TIMEOUT)

            check(all(st == 200 for st in beater.statuses),
                  f"a heartbeat was refused: {sorted(set(beater.statuses))} {beater.last}")
            check(not beater.errors, f"heartbeat errors: {beater.errors[:3]}")
        finally:
            beater.stop()
    log("broker_players: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
