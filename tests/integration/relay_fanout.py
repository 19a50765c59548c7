#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One upstream session per camera, and instant start from the relay's key-frame cache.

  1. Five viewers (three TCP interleaved, two UDP) start at the broker URL at the same time;
     after they all play, the camera (testcam.py --stats-file) has seen exactly ONE RTSP
     session and one connection, and every viewer received packets without a sequence gap.
  2. With the stream running, more viewers join one after another at irregular moments of
     the 2 s GOP (TCP and UDP). For each: the time from the PLAY response until SPS, PPS and
     the whole first IDR access unit arrived must be <= 300 ms (without the cache a viewer
     waits on average 1 s for the next key frame); its first packet starts that key frame
     (SPS/PPS/IDR) and the RTP-Info seq of the PLAY response is the first packet's seq.
     The camera still has one session.

    relay_fanout.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, wait_for  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import NAL_IDR, NAL_PPS, NAL_SPS, NAL_STAP_A, Viewer  # noqa: E402

KEYFRAME_MAX_MS = 300
GOP = 50  # 2 s at 25 fps


def start_all(viewers):
    errs = []

    def go(v):
        try:
            v.start()
        except Exception as e:  # noqa: BLE001
            errs.append(f"{v.name}: {e!r}")

    ts = [threading.Thread(target=go, args=(v,)) for v in viewers]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=30)
    check(not errs, f"viewers failed to start: {errs}")


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay)
    viewers = []
    with Harness() as h:
        try:
            d = dep.Deployment(h, args.broker, args.relay, [dep.CameraSpec("lobby", gop=GOP)])
            d.start()
            cam = d.camera("lobby")
            url = d.url("lobby")

            # 1. Five concurrent viewers, one camera session.
            five = [Viewer(url, "tcp" if i < 3 else "udp", name=f"v{i}") for i in range(5)]
            viewers += five
            start_all(five)
            wait_for(lambda: all(v.stats()["packets"] > 0 for v in five), 10,
                     "packets at all five viewers")
            time.sleep(3)
            relays = sorted({v.relay_url.split("/v1/")[0] for v in five})
            st = cam.stats()
            for v in five:
                s = v.stats()
                log(f"{v.name} ({v.transport}) via {v.relay_url.split('/v1/')[0]}: "
                    f"{s['packets']} packets, {s['frames']} frames, gaps {s['gaps']}, "
                    f"first key frame {v.keyframe_ms():.0f} ms after PLAY"
                    if v.keyframe_ms() is not None else f"{v.name}: no key frame yet {s}")
            log(f"five viewers: relays used {relays}; camera saw {st}")
            check(st["sessions"] == 1, f"five viewers made {st['sessions']} camera sessions, "
                                       f"want exactly 1 ({st})")
            check(st["connections"] == 1, f"camera connections {st['connections']}, want 1")
            for v in five:
                s = v.stats()
                check(v.connected() and not v.error, f"{v.name} lost its connection: "
                                                     f"{v.close_reason} {v.error}")
                check(s["packets"] >= 50, f"{v.name}: only {s['packets']} packets in 3 s")
                check(s["gaps"] == 0, f"{v.name}: {s['gaps']} packets missing {s['gap_log']}")
            total_viewers = sum((d.relay_status(i) or {}).get("viewers", 0)
                                for i in range(len(d.relays)))
            log(f"relays report {total_viewers} viewers playing")
            check(total_viewers == 5, f"relays report {total_viewers} viewers, want 5")

            # 2. Joiners at different points of the GOP.
            results = []
            delays = [0.37, 0.61, 0.29, 0.83, 0.47, 0.71, 0.53, 0.9]
            for i, delay in enumerate(delays):
                time.sleep(delay)
                transport = "udp" if i % 4 == 3 else "tcp"
                v = Viewer(url, transport, name=f"join{i}")
                viewers.append(v)
                v.start()
                wait_for(lambda: v.keyframe_ms() is not None
                         or time.monotonic() - v.play_resp_at > 3, 5, f"{v.name} key frame")
                ms = v.keyframe_ms()
                s = v.stats()
                info_seq = v.rtp_info_seq()
                log(f"{v.name} ({transport}): key frame {ms if ms is None else round(ms, 1)} ms "
                    f"after PLAY; first packet seq {s['first_seq']} NAL {s['first_nal']}; "
                    f"RTP-Info seq {info_seq}; PLAY round trip "
                    f"{(v.play_resp_at - v.play_sent_at) * 1000:.1f} ms")
                results.append((v, ms, s, info_seq))
            st = cam.stats()
            log(f"after {len(viewers)} viewers the camera saw {st}")
            times = [ms for _, ms, _, _ in results if ms is not None]
            if times:
                log(f"key frame after PLAY over {len(times)} joins: median "
                    f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms "
                    f"(limit {KEYFRAME_MAX_MS} ms)")
            for v, ms, s, info_seq in results:
                check(ms is not None, f"{v.name}: no decodable key frame within 3 s of PLAY")
                check(ms <= KEYFRAME_MAX_MS, f"{v.name}: first key frame {ms:.0f} ms after PLAY, "
                                             f"limit {KEYFRAME_MAX_MS} ms")
                check(s["first_nal"] in (NAL_SPS, NAL_PPS, NAL_IDR, NAL_STAP_A),
                      f"{v.name}: first packet carries NAL type {s['first_nal']}, not the start "
                      f"of a key frame")
                check(info_seq == s["first_seq"],
                      f"{v.name}: RTP-Info seq {info_seq} but first packet seq {s['first_seq']} "
                      f"(RTP-Info: {v.rtp_info})")
            check(st["sessions"] == 1, f"camera sessions {st['sessions']}, want 1")
            d.finish()
        finally:
            for v in viewers:
                v.close()
    log("relay_fanout: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
