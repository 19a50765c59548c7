#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulates N relays heartbeating the broker (docs/relay-channel.md): signed POSTs to
/api/v1/heartbeat, each relay every --interval seconds, spread evenly over the interval.

Keeps a benchmark registry alive (200 relays x 10,000 cameras at 1/s) and measures
heartbeat ingest (e.g. 1,000 relays at 2/s, the per-relay rate limit):

    rd_heartbeat_sim.py --admin 127.0.0.1:8080 --relays relays.json \\
        --cameras cam%d --camera-range 0-9999 --interval 1 --duration 60 [--json out.json]
        [--broker-pid PID] [--warmup 2] [--conns 8]

relays.json: [{"id": "r0", "kid": "k1", "key": "<64 hex or 43 base64url>"}, ...] (or
{"relays": [...]}), as scripts/bench/broker.sh writes it from `rtsp-broker relay add`.
Cameras are dealt round-robin: relay i reports cameras i, i+N, i+2N, ... as playing (at most
256 per relay, RD_HEARTBEAT_MAX_CAMERAS). With --broker-pid the broker's CPU time over the
measured window is read from /proc, giving its cost per heartbeat.
One asyncio loop with --conns keep-alive HTTP/1.1 connections (the broker's admin server
allows RD_HTTP_PER_IP_LIMIT = 16 per client address; --src spreads over 127.0.0.x).
Stops after --duration or on SIGINT/SIGTERM, then prints a summary (and writes --json).
Run with /usr/bin/python3 (stdlib only).
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import relaychan  # noqa: E402

MAX_CAMERAS_PER_BEAT = 256  # RD_HEARTBEAT_MAX_CAMERAS
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime + stime of pid in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def camera_names(pattern, lo, hi):
    if "%d" not in pattern:
        return [pattern]
    head, tail = pattern.split("%d", 1)
    return [f"{head}{i}{tail}" for i in range(lo, hi + 1)]


class Stats:
    def __init__(self):
        self.sent = 0
        self.status = {}
        self.applied = 0
        self.not_applied = 0
        self.errors = {}
        self.lat = []
        self.late = 0  # beats sent more than one interval after their slot

    def add_status(self, st):
        self.status[st] = self.status.get(st, 0) + 1

    def add_error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    k = max(1, -(-len(sorted_vals) * p // 100))  # ceil
    return sorted_vals[int(min(k, len(sorted_vals))) - 1]


class Conn:
    """One keep-alive HTTP/1.1 connection with a minimal response reader."""

    def __init__(self, host, port, src):
        self.host, self.port, self.src = host, port, src
        self.reader = self.writer = None

    async def open(self):
        local = (self.src, 0) if self.src else None
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, local_addr=local)

    def close(self):
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, path, headers, body):
        if not self.writer:
            await self.open()
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        parts = status_line.split(None, 2)
        status = int(parts[1])
        clen, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                clen = int(v.strip())
            elif k == b"connection" and v.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(clen) if clen else b""
        if close:
            self.close()
        return status, data


async def run(args, relays):
    host, _, port = args.admin.rpartition(":")
    port = int(port)
    stats = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    queue = asyncio.Queue(maxsize=args.conns * 64)
    t0 = time.monotonic()
    measure_from = t0 + args.warmup
    measure_until = t0 + args.warmup + args.duration if args.duration else None
    n = len(relays)
    srcs = [None]
    if args.src:
        base, _, count = args.src.partition("-")
        a = [int(x) for x in base.split(".")]
        srcs = [".".join(map(str, a[:3] + [a[3] + i])) for i in range(int(count or 1))]
    window = {"start_cpu": None, "end_cpu": None, "start": None, "end": None}

    async def scheduler():
        # Relay i beats at t0 + (i / n + k) * interval for k = 0, 1, ...
        k = 0
        while not stop.is_set():
            for i, r in enumerate(relays):
                slot = t0 + (k + i / n) * args.interval
                if measure_until and slot >= measure_until:
                    stop.set()
                    break
                delay = slot - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if stop.is_set():
                    break
                await queue.put((r, slot))
            k += 1
        for _ in range(args.conns):
            await queue.put(None)

    async def worker(idx):
        conn = Conn(host, port, srcs[idx % len(srcs)])
        while True:
            item = await queue.get()
            if item is None:
                break
            r, slot = item
            now = time.monotonic()
            measured = slot >= measure_from
            if measured and window["start"] is None:
                window["start"] = now
                window["start_cpu"] = proc_cpu_s(args.broker_pid) if args.broker_pid else None
            if measured and now - slot > args.interval:
                stats.late += 1
            path, hdrs, body = r.beat_request()
            try:
                st, data = await asyncio.wait_for(conn.request(path, hdrs, body), args.timeout)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError,
                    IndexError) as e:
                conn.close()
                if measured:
                    stats.add_error(type(e).__name__)
                continue
            except asyncio.TimeoutError:
                conn.close()
                if measured:
                    stats.add_error("timeout")
                continue
            done = time.monotonic()
            if st == 200 and r.seq == 1 and args.verbose:
                print(f"{r.id}: first beat accepted: {data[:200]!r}", file=sys.stderr)
            if not measured:
                continue
            stats.sent += 1
            stats.add_status(st)
            stats.lat.append(done - now)
            window["end"] = done
            if st == 200:
                try:
                    applied = json.loads(data).get("applied")
                except ValueError:
                    applied = None
                if applied is True:
                    stats.applied += 1
                else:
                    stats.not_applied += 1
            elif args.verbose and stats.status[st] <= 3:
                print(f"{r.id}: HTTP {st}: {data[:200]!r}", file=sys.stderr)
        conn.close()

    async def reporter():
        last = 0
        while not stop.is_set() and args.report_every > 0:
            try:
                await asyncio.wait_for(stop.wait(), args.report_every)
            except asyncio.TimeoutError:
                pass
            if not args.quiet:
                print(f"[{time.monotonic() - t0:6.1f}s] sent {stats.sent} (+{stats.sent - last}) "
                      f"status {stats.status} errors {stats.errors}", file=sys.stderr, flush=True)
                last = stats.sent

    tasks = [asyncio.create_task(worker(i)) for i in range(args.conns)]
    rep = asyncio.create_task(reporter())
    await scheduler()
    await asyncio.gather(*tasks)
    stop.set()
    await rep
    if args.broker_pid:
        window["end_cpu"] = proc_cpu_s(args.broker_pid)
    return stats, window


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admin", required=True, help="broker admin_listen HOST:PORT")
    ap.add_argument("--relays", required=True, help="JSON file of relays with kid and key")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N relays")
    ap.add_argument("--cameras", default="", help="camera id pattern, %%d = number (cam%%d)")
    ap.add_argument("--camera-range", default="0-9999")
    ap.add_argument("--viewers", type=int, default=0, help="viewers reported per camera")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between beats of a relay")
    ap.add_argument("--duration", type=float, default=0, help="seconds to measure (0: until signal)")
    ap.add_argument("--warmup", type=float, default=0, help="seconds not counted first")
    ap.add_argument("--conns", type=int, default=8, help="HTTP connections (<= 16 per source IP)")
    ap.add_argument("--src", default="", help="source addresses A.B.C.D-N (round-robin per conn)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--broker-pid", type=int, default=0, help="read this process's CPU time")
    ap.add_argument("--json", help="write the summary as JSON")
    ap.add_argument("--report-every", type=float, default=5.0)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    relays = relaychan.load_relays(args.relays)
    if args.limit:
        relays = relays[:args.limit]
    if not relays:
        print("rd_heartbeat_sim: no relays", file=sys.stderr)
        return 2
    if args.cameras:
        lo, _, hi = args.camera_range.partition("-")
        cams = camera_names(args.cameras, int(lo), int(hi or lo))
        n = len(relays)
        for i, r in enumerate(relays):
            mine = cams[i::n][:MAX_CAMERAS_PER_BEAT]
            r.set_cameras([{"id": c, "state": "playing", "viewers": args.viewers,
                            "ingress_kbps": 2000, "drops": 0} for c in mine])
            r.viewers = args.viewers * len(mine)
            r.egress_kbps = r.viewers * 2000

    cpu0 = time.process_time()
    stats, window = asyncio.run(run(args, relays))
    own_cpu = time.process_time() - cpu0

    span = (window["end"] - window["start"]) if window["start"] and window["end"] else 0.0
    lat = sorted(stats.lat)
    broker_cpu = None
    if window["start_cpu"] is not None and window["end_cpu"] is not None:
        broker_cpu = window["end_cpu"] - window["start_cpu"]
    out = {
        "tool": "rd_heartbeat_sim",
        "relays": len(relays),
        "interval_s": args.interval,
        "offered_per_s": len(relays) / args.interval,
        "window_s": round(span, 3),
        "sent": stats.sent,
        "per_s": round(stats.sent / span, 1) if span else 0.0,
        "status": {str(k): v for k, v in sorted(stats.status.items())},
        "applied": stats.applied,
        "not_applied": stats.not_applied,
        "errors": stats.errors,
        "late": stats.late,
        "latency_ms": {"p50": round(pct(lat, 50) * 1e3, 3), "p99": round(pct(lat, 99) * 1e3, 3),
                       "max": round(lat[-1] * 1e3, 3) if lat else 0.0},
        "own_cpu_s": round(own_cpu, 3),
        "broker_cpu_s": round(broker_cpu, 3) if broker_cpu is not None else None,
        "broker_cpu_us_per_beat": (round(broker_cpu * 1e6 / stats.sent, 1)
                                   if broker_cpu is not None and stats.sent else None),
    }
    if out["broker_cpu_us_per_beat"]:
        out["projected_beats_per_core_s"] = round(1e6 / out["broker_cpu_us_per_beat"])
    if not args.quiet:
        print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0 if stats.sent and not stats.errors else 1


if __name__ == "__main__":
    sys.exit(main())
