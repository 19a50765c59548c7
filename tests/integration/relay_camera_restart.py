#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The camera restarts; viewers stay connected and play again when it is back.

A TCP-interleaved viewer, a UDP viewer (both rtspview.py, started at the broker URL) and an
ffmpeg process (TCP, decoding to the null muxer) play. The camera process is stopped by PID
(SIGTERM: the GStreamer server closes the relay's connection), kept down for OUTAGE_S, and
started again on the same port. Then:
  - both viewers' connections stayed open the whole time (no EOF, no RST);
  - media resumes at both within RESUME_MAX_S of the camera's return (measured);
  - across the restart each viewer saw one SSRC and no sequence gap (the relay rewrites the
    new upstream session onto the viewers' numbering);
  - ffmpeg exits 0 with no decode error and frames from after the restart;
  - the relay counts a camera reconnect, and the restarted camera sees exactly one session.

    relay_camera_restart.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, wait_for  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import Viewer  # noqa: E402

OUTAGE_S = 3.0
# Backoff after the drop: 1 s doubling (+-20 %); with a 3 s outage the attempt that finds
# the camera back comes at most ~4.8 s after its return; plus the camera's start-up.
RESUME_MAX_S = 12.0
FFMPEG_S = 22


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay, tools=("ffmpeg",))
    viewers = []
    ff = None
    with Harness() as h:
        try:
            d = dep.Deployment(h, args.broker, args.relay, [dep.CameraSpec("lobby", gop=25)])
            d.start()
            cam = d.camera("lobby")
            url = d.url("lobby")
            tcp = Viewer(url, "tcp", name="tcp-viewer").start()
            udp = Viewer(url, "udp", name="udp-viewer").start()
            viewers += [tcp, udp]
            ffout = open(h.path("ffmpeg-restart.out"), "w")
            ff = subprocess.Popen(dep.ffmpeg_argv(url, "tcp", FFMPEG_S), stdout=subprocess.PIPE,
                                  stderr=ffout, text=True, stdin=subprocess.DEVNULL)
            time.sleep(4)
            relay_i = [r.rtsp_base for r in d.relays].index(tcp.relay_url.split("/v1/")[0])
            before = {v.name: v.stats() for v in viewers}
            for v in viewers:
                check(before[v.name]["packets"] > 50, f"{v.name} not playing: {before[v.name]}")
            log("before the restart: " + "; ".join(
                f"{n}: {s['packets']} packets, ssrc {s['ssrcs']}, gaps {s['gaps']}"
                for n, s in before.items()))

            t_stop = time.monotonic()
            cam.stop()
            log(f"camera stopped (pid {cam.proc.pid}) in {time.monotonic() - t_stop:.2f}s")
            time.sleep(OUTAGE_S)
            mid = {v.name: v.stats() for v in viewers}
            for v in viewers:
                check(v.connected() and not v.error,
                      f"{v.name} lost its connection while the camera was down: "
                      f"{v.close_reason} {v.error}")
            c = d.relay_camera(relay_i, "lobby")
            log(f"camera down {OUTAGE_S:.0f}s: relay state {c and c.get('state')}, viewers "
                f"connected; packets {[mid[n]['packets'] for n in mid]}")

            t_back = time.monotonic()
            cam.start()
            log(f"camera back on port {cam.port} after {t_back - t_stop:.1f}s")

            def resumed():
                return all(v.stats()["packets"] > mid[v.name]["packets"] + 25 for v in viewers)
            wait_for(resumed, RESUME_MAX_S + 10, "media at both viewers after the restart")
            t_resumed = time.monotonic()
            log(f"media resumed at both viewers {t_resumed - t_back:.1f}s after the camera's "
                f"return (limit {RESUME_MAX_S:.0f}s)")
            time.sleep(3)
            after = {v.name: v.stats() for v in viewers}
            for v in viewers:
                s = after[v.name]
                log(f"{v.name}: {s['packets']} packets, ssrcs {s['ssrcs']}, gaps {s['gaps']} "
                    f"{s['gap_log'][:3]}, dups {s['dups']}, connected {v.connected()}")
            for v in viewers:
                s = after[v.name]
                check(v.connected() and not v.error, f"{v.name} disconnected: {v.close_reason}")
                check(len(s["ssrcs"]) == 1, f"{v.name}: SSRC changed across the restart: "
                                            f"{s['ssrcs']}")
                check(s["gaps"] == 0, f"{v.name}: {s['gaps']} sequence numbers skipped across "
                                      f"the restart: {s['gap_log']}")
            check(t_resumed - t_back <= RESUME_MAX_S,
                  f"media resumed {t_resumed - t_back:.1f}s after the camera returned")
            c = d.relay_camera(relay_i, "lobby") or {}
            st = cam.stats()
            log(f"relay camera state {c.get('state')} reconnects {c.get('reconnects')}; "
                f"restarted camera saw {st}")
            check((c.get("reconnects") or 0) >= 1, f"relay did not count a reconnect: {c}")
            check(st["sessions"] == 1, f"restarted camera sessions {st['sessions']}, want 1")

            out, _ = ff.communicate(timeout=FFMPEG_S + 30)
            ffout.close()
            with open(h.path("ffmpeg-restart.out")) as f:
                err = f.read()
            r = subprocess.CompletedProcess(ff.args, ff.returncode, out, err)
            frames, errs, benign = dep.ffmpeg_result(r)
            log(f"ffmpeg across the restart: exit {ff.returncode}, {frames} frames, "
                f"{len(errs)} errors {errs[:3]}, {benign} benign notices")
            check(ff.returncode == 0, f"ffmpeg exited {ff.returncode}: {err[-1500:]}")
            check(not errs, f"ffmpeg errors: {errs[:10]}")
            # Decoding went on after the return: more frames than the time before the stop.
            check(frames >= 25 * 8, f"ffmpeg decoded only {frames} frames")
            d.finish()
        finally:
            if ff and ff.poll() is None:
                ff.kill()
                ff.wait()
            for v in viewers:
                v.close()
    log("relay_camera_restart: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
