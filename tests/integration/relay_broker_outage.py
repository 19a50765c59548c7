#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The broker goes away and comes back; the data plane does not notice.

Two viewers (TCP interleaved and UDP, rtspview.py, started at the broker URL) play. The broker
is stopped by PID (SIGTERM) for OUTAGE_S, then started again with the same configuration and
registry. Checks:
  - during the outage both viewers keep receiving (packets grow) with 0 sequence gaps and no
    pause over 1 s, and stay connected;
  - the relays notice: /api/v1/status broker.reachable turns false (time measured);
  - after the broker's return, heartbeats resume: every relay reports broker.reachable true
    again and the broker's GET /api/v1/relays shows every relay healthy, within
    RECOVER_MAX_S (the relays' retry backoff is at most RD_BCLIENT_BACKOFF_MAX_S);
  - the broker redirects again, and a new viewer plays;
  - the viewers saw 0 gaps over the whole test.

    relay_broker_outage.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, wait_for  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import Viewer  # noqa: E402

OUTAGE_S = 6.0
RECOVER_MAX_S = 20.0
MAX_PAUSE_S = 1.0


def reachable(d):
    return [((d.relay_status(i) or {}).get("broker") or {}).get("reachable")
            for i in range(len(d.relays))]


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay)
    viewers = []
    with Harness() as h:
        try:
            d = dep.Deployment(h, args.broker, args.relay, [dep.CameraSpec("lobby", gop=25)])
            d.start()
            url = d.url("lobby")
            viewers += [Viewer(url, "tcp", name="tcp-viewer").start(),
                        Viewer(url, "udp", name="udp-viewer").start()]
            time.sleep(3)
            for v in viewers:
                check(v.stats()["packets"] > 50, f"{v.name} not playing: {v.stats()}")
                v.reset_max_interval()
            before = {v.name: v.stats() for v in viewers}
            check(all(reachable(d)), f"relays do not reach the broker before the test: "
                                     f"{reachable(d)}")

            t_stop = time.monotonic()
            rc = d.stop_broker()
            log(f"broker stopped by PID (exit {rc})")
            t_unreach = None
            while time.monotonic() - t_stop < OUTAGE_S:
                time.sleep(0.25)
                if t_unreach is None and not any(reachable(d)):
                    t_unreach = time.monotonic() - t_stop
            log("relays saw the broker unreachable after "
                + (f"{t_unreach:.1f}s" if t_unreach is not None else "never (within the outage)"))
            mid = {v.name: v.stats() for v in viewers}
            for v in viewers:
                s, s0 = mid[v.name], before[v.name]
                log(f"{v.name} during the {OUTAGE_S:.0f}s outage: +{s['packets'] - s0['packets']} "
                    f"packets, gaps {s['gaps']}, longest pause {s['max_interval_s'] * 1000:.0f} ms,"
                    f" connected {v.connected()}")
                check(v.connected() and not v.error, f"{v.name} disconnected during the outage: "
                                                     f"{v.close_reason} {v.error}")
                check(s["packets"] - s0["packets"] >= OUTAGE_S * 20,
                      f"{v.name}: only {s['packets'] - s0['packets']} packets during the outage")
                check(s["gaps"] == 0, f"{v.name}: {s['gaps']} packets lost: {s['gap_log']}")
                check(s["max_interval_s"] < MAX_PAUSE_S,
                      f"{v.name}: {s['max_interval_s']:.2f}s without a packet")
            check(t_unreach is not None, f"relays still report the broker reachable "
                                         f"{OUTAGE_S:.0f}s after it stopped: {reachable(d)}")

            t_back = time.monotonic()
            d.start_broker()

            def recovered():
                rel = d.broker_relays()
                return all(reachable(d)) and all(rel.get(r.id, {}).get("healthy")
                                                 for r in d.relays)
            wait_for(recovered, RECOVER_MAX_S + 10, "relays reachable and healthy again")
            t_rec = time.monotonic() - t_back
            rel = d.broker_relays()
            log(f"broker back: relays report it reachable and it shows them healthy after "
                f"{t_rec:.1f}s (limit {RECOVER_MAX_S:.0f}s): " + ", ".join(
                    f"{r.id} health={rel[r.id].get('health')} seq={rel[r.id].get('seq')} "
                    f"viewers={rel[r.id].get('viewers')}" for r in d.relays))
            check(t_rec <= RECOVER_MAX_S, f"recovery took {t_rec:.1f}s")
            beats = [((d.relay_status(i) or {}).get("broker") or {}) for i in range(len(d.relays))]
            log("relay broker state: " + "; ".join(
                f"{d.relays[i].id} beats_ok={b.get('beats_ok')} beats_failed={b.get('beats_failed')}"
                for i, b in enumerate(beats)))
            check(all((b.get("beats_failed") or 0) > 0 for b in beats),
                  f"no failed heartbeat counted during the outage: {beats}")
            # The relay serving the viewers reports them to the new broker.
            wait_for(lambda: sum((x.get("viewers") or 0) for x in d.broker_relays().values()) >= 2,
                     10, "broker sees the 2 viewers from heartbeats")

            st, loc = d.describe_broker("lobby")
            check(st == 302, f"broker does not redirect after its restart: {st}")
            late = Viewer(url, "tcp", name="late-viewer").start()
            viewers.append(late)
            wait_for(lambda: late.stats()["packets"] > 50, 10, "a new viewer plays")
            ms = late.keyframe_ms()
            log(f"new viewer after the restart via {late.relay_url.split('/v1/')[0]}: key frame "
                f"{ms:.0f} ms after PLAY" if ms is not None else "new viewer: no key frame")

            end = {v.name: v.stats() for v in viewers[:2]}
            for v in viewers[:2]:
                s = end[v.name]
                log(f"{v.name} over the whole test: {s['packets']} packets, gaps {s['gaps']}, "
                    f"ssrcs {s['ssrcs']}")
                check(v.connected(), f"{v.name} disconnected")
                check(s["gaps"] == 0, f"{v.name}: {s['gaps']} packets lost: {s['gap_log']}")
            d.finish()
        finally:
            for v in viewers:
                v.close()
    log("relay_broker_outage: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
