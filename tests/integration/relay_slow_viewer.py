#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A TCP viewer that stops reading must not disturb the others, and is disconnected.

A normal viewer (TCP interleaved, reading everything) plays a 4 Mbit/s camera. A second viewer
on the same relay connects with SO_RCVBUF 4 KiB, sets up TCP interleaved, reads the PLAY
response and then never reads again. Checks:
  - the relay disconnects the stalled viewer within RD_VIEWER_STALL_S (read from rd_limits.h)
    plus STALL_MARGIN_S after its PLAY (the relay's kernel send buffer fills first), seen in
    /api/v1/status and confirmed on the socket (EOF or RST after draining it);
  - the normal viewer loses nothing meanwhile: 0 sequence gaps, no pause over 1 s;
  - the relay's RSS (/proc/<pid>/status VmRSS) grows by at most RSS_GROWTH_MAX_KIB while the
    stalled viewer's queue fills.

    relay_slow_viewer.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Harness, check, log, wait_for  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import Viewer  # noqa: E402

STALL_MARGIN_S = 6.0
RSS_GROWTH_MAX_KIB = 16 * 1024
MAX_PAUSE_S = 1.0


def stall_s():
    with open(os.path.join(ROOT, "common", "proto", "rd_limits.h")) as f:
        m = re.search(r"#define RD_VIEWER_STALL_S (\d+)", f.read())
    check(m, "RD_VIEWER_STALL_S not found in rd_limits.h")
    return int(m.group(1))


def socket_closed(sock, timeout):
    """Drains sock until EOF/RST (True) or timeout (False)."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            return False, n
        except (ConnectionResetError, BrokenPipeError):
            return True, n
        if not chunk:
            return True, n
        n += len(chunk)
    return False, n


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay)
    limit = stall_s() + STALL_MARGIN_S
    viewers = []
    with Harness() as h:
        try:
            d = dep.Deployment(h, args.broker, args.relay,
                               [dep.CameraSpec("lobby", gop=25, bitrate=4000, pattern="snow")])
            d.start()
            url = d.url("lobby")
            normal = Viewer(url, "tcp", name="normal").start()
            viewers.append(normal)
            base = normal.relay_url.split("/v1/")[0]
            ri = [r.rtsp_base for r in d.relays].index(base)
            relay = d.relays[ri]
            time.sleep(3)
            rss0 = dep.vmrss_kib(relay.proc.pid)
            st0 = d.relay_status(ri)
            s = normal.stats()
            log(f"normal viewer on {relay.id}: {s['packets']} packets, "
                f"{s['bytes'] * 8 / 3 / 1000:.0f} kbit/s; relay RSS "
                f"{rss0} KiB, connections {st0['connections']}, sessions {st0['sessions']}")

            stalled = Viewer(url, "tcp", rcvbuf=4096, read=False, name="stalled").start()
            viewers.append(stalled)
            t0 = stalled.play_resp_at
            check(stalled.relay_url.split("/v1/")[0] == base,
                  f"the second viewer went to {stalled.relay_url.split('/v1/')[0]}, not to "
                  f"{base} which already pulls the camera (broker affinity)")
            normal.reset_max_interval()
            gaps0 = normal.stats()["gaps"]
            rss_peak, t_gone, samples = rss0, None, []
            while time.monotonic() - t0 < limit + 4:
                time.sleep(0.5)
                rss = dep.vmrss_kib(relay.proc.pid) or 0
                rss_peak = max(rss_peak, rss)
                st = d.relay_status(ri) or {}
                samples.append((round(time.monotonic() - t0, 1), st.get("sessions"),
                                st.get("queue_bytes"), rss))
                if st.get("sessions") == st0["sessions"] and t_gone is None and \
                        time.monotonic() - t0 > 1:
                    t_gone = time.monotonic() - t0
                    break
            log("samples (s after PLAY, sessions, queue_bytes, RSS KiB): "
                + " ".join(str(s) for s in samples[::2]))
            closed, drained = socket_closed(stalled.conn.sock, 10)
            m = d.relay_metrics(ri)
            disc = {k: v for k, v in m.items() if k.startswith("rd_relay_viewers_disconnected")}
            drops = {k: v for k, v in m.items() if k.startswith("rd_relay_drops_total") and v}
            n = normal.stats()
            log(f"stalled viewer: removed from the relay's sessions "
                f"{'%.1f s' % t_gone if t_gone else 'never'} after PLAY (limit {limit:.0f} s = "
                f"RD_VIEWER_STALL_S {stall_s()} + {STALL_MARGIN_S:.0f}); socket closed {closed} "
                f"after {drained} bytes drained; {disc}; drops {drops}")
            log(f"normal viewer: {n['packets']} packets, gaps during the stall "
                f"{n['gaps'] - gaps0}, longest pause {n['max_interval_s'] * 1000:.0f} ms; "
                f"relay RSS {rss0} -> peak {rss_peak} KiB (+{rss_peak - rss0} KiB)")
            check(t_gone is not None and t_gone <= limit,
                  f"stalled viewer still a session {limit:.0f}s after PLAY")
            check(closed, "the stalled viewer's connection was not closed by the relay")
            check(normal.connected() and not normal.error,
                  f"normal viewer disconnected: {normal.close_reason} {normal.error}")
            check(n["gaps"] == 0, f"normal viewer lost {n['gaps']} packets: {n['gap_log']}")
            check(n["max_interval_s"] < MAX_PAUSE_S,
                  f"normal viewer waited {n['max_interval_s']:.2f}s for a packet")
            check(rss_peak - rss0 <= RSS_GROWTH_MAX_KIB,
                  f"relay RSS grew by {rss_peak - rss0} KiB, limit {RSS_GROWTH_MAX_KIB}")
            # Still serving after the disconnect.
            p = n["packets"]
            wait_for(lambda: normal.stats()["packets"] > p + 100, 5, "normal viewer goes on")
            d.finish()
        finally:
            for v in viewers:
                v.close()
    log("relay_slow_viewer: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
