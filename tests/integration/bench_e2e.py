#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""rtsp-bench end to end: five viewers through the real broker and relays to the GStreamer
test camera, over TCP interleaved and over UDP, with thresholds.

  1. `rtsp-bench -n 5 -T tcp -d 5 --max-loss 0 --min-sessions 5 --json out.json <broker URL>`
     exits 0; the JSON has 5 established sessions, each with packets, zero loss, a key frame
     seen and a redirect followed; the aggregate agrees.
  2. The same with -T udp.
  3. A threshold that cannot be met (--min-sessions 6 with -n 5; --max-setup-ms 0) makes it
     exit 1, and the JSON says which threshold failed.
  4. A usage error exits 2.
  5. --redirect-only: 200 OPTIONS+DESCRIBE on new connections, all redirected.

    bench_e2e.py --broker B --relay R --bench build/tools/rtsp-bench/rtsp-bench
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, skip  # noqa: E402
import deployment as dep  # noqa: E402


def run_bench(h, bench, argv, name, timeout=60):
    out = h.path(f"{name}.json")
    cmd = [bench] + argv + ["--json", out]
    log(f"running {' '.join(cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    log(f"{name}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
    return r.returncode, data


def check_run(rc, data, transport):
    check(rc == 0, f"{transport}: rtsp-bench exited {rc}, want 0")
    check(data is not None, f"{transport}: no JSON written")
    agg = data["aggregate"]
    check(data["config"]["transport"] == transport, f"transport in JSON {data['config']}")
    check(agg["sessions"] == 5 and agg["established"] == 5,
          f"{transport}: sessions {agg['sessions']} established {agg['established']}, want 5")
    check(agg["lost"] == 0 and agg["loss_pct"] == 0, f"{transport}: loss {agg}")
    check(agg["packets"] > 0 and agg["key_frame_seen"] == 5, f"{transport}: aggregate {agg}")
    check(agg["redirects"] >= 5, f"{transport}: redirects {agg['redirects']}, want >= 5")
    check(data["thresholds"]["met"] is True, f"thresholds {data['thresholds']}")
    check(data["own_cpu"]["total_s"] >= 0, "own cpu reported")
    sessions = data["sessions"]
    check(len(sessions) == 5, f"{len(sessions)} session objects")
    for s in sessions:
        check(s["established"] and s["error"] is None, f"{transport}: session {s}")
        check(s["packets"] > 0 and s["lost"] == 0, f"{transport}: session packets/loss {s}")
        check(s["first_key_ms"] is not None and s["first_key_ms"] > 0 and s["setup_ms"] > 0,
              f"{transport}: key frame timing {s}")
        if transport == "tcp":  # interleaved media follows the PLAY response on the wire
            check(s["first_key_ms"] >= s["setup_ms"], f"tcp: key frame before PLAY? {s}")
        check(s["redirects"] == 1 and "/v1/" in s["final_url"], f"redirect followed {s}")
        check(s["torn_down"], f"{transport}: TEARDOWN answered {s}")
        check(s["media_s"] >= 4.5, f"{transport}: played {s['media_s']} s, want ~5")
    t = data["times"]
    for k in ("setup_ms", "first_packet_ms", "first_key_ms"):
        check(t[k]["n"] == 5 and 0 < t[k]["p50"] <= t[k]["p99"] <= t[k]["max"],
              f"{transport}: {k} percentiles {t[k]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--bench", required=True)
    args = ap.parse_args()
    dep.require(args.broker, args.relay)
    if not (os.path.isfile(args.bench) and os.access(args.bench, os.X_OK)):
        skip(f"rtsp-bench binary {args.bench} not built")
    with Harness() as h:
        d = dep.Deployment(h, args.broker, args.relay, [dep.CameraSpec("lobby", gop=25)])
        d.start()
        url = d.url("lobby")

        for transport in ("tcp", "udp"):
            rc, data = run_bench(h, args.bench,
                                 ["-n", "5", "-T", transport, "-d", "5", "--max-loss", "0",
                                  "--min-sessions", "5", url], f"bench-{transport}")
            check_run(rc, data, transport)

        # Thresholds that cannot be met: exit 1, and the JSON says why.
        rc, data = run_bench(h, args.bench, ["-n", "5", "-T", "tcp", "-d", "1",
                                             "--min-sessions", "6", url], "bench-min")
        check(rc == 1, f"--min-sessions 6 with 5 viewers exited {rc}, want 1")
        check(data and data["thresholds"]["met"] is False
              and "min-sessions" in data["thresholds"]["why"], f"thresholds {data and data['thresholds']}")
        rc, data = run_bench(h, args.bench, ["-n", "2", "-d", "1", "--max-setup-ms", "0", url],
                             "bench-setup")
        check(rc == 1, f"--max-setup-ms 0 exited {rc}, want 1")

        # Usage error.
        r = subprocess.run([args.bench, "-T", "sctp", url], capture_output=True, text=True,
                           timeout=10)
        check(r.returncode == 2, f"bad -T exited {r.returncode}, want 2")

        # Redirect mode against the same broker, spread over 200 loopback source addresses
        # (the broker admits 20 new connections per second per IP, burst 50).
        rc, data = run_bench(h, args.bench, ["--redirect-only", "-n", "200",
                                             "--src", "127.0.1.1-200", url], "redirect")
        check(rc == 0 and data["completed"] == 200 and data["errors"] == 0,
              f"redirect mode: rc {rc} {data}")
    log("bench_e2e: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
