#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Measures rtsp-camsim's own CPU for N cameras (docs/benchmarks.md "rtsp-camsim").

Starts rtsp-camsim with N paths on loopback, opens one session per path with a minimal RTSP
client (OPTIONS, DESCRIBE, SETUP, PLAY), over TCP interleaved (the data is read and dropped
with large recv calls) or UDP (client ports bound, read and dropped likewise), waits a warm-up,
then samples camsim's CPU from /proc over --seconds and prints one JSON line:
{"cameras", "transport", "seconds", "cpu_s", "cpu_pct", "packets", "pkts_per_s", "mbit_s",
 "dropped", "rss_kib"}.

    camsim_cpu.py --camsim build/rel/tools/rtsp-camsim/rtsp-camsim --media build/rel/media/camsim-720p25.h264 \
                  -n 200 -T tcp --seconds 10
"""
import argparse
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time


def request(sock, buf, method, url, cseq, extra=""):
    sock.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n".encode())
    while b"\r\n\r\n" not in buf[0]:
        c = sock.recv(65536)
        if not c:
            raise RuntimeError("closed")
        buf[0] += c
    head, _, rest = buf[0].partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    m = re.search(r"^Content-Length:\s*(\d+)", text, re.M | re.I)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        rest += sock.recv(65536)
    buf[0] = rest[n:]
    if not text.startswith("RTSP/1.0 200"):
        raise RuntimeError(f"{method}: {text.splitlines()[0]}")
    return text


def open_session(port, path, transport, sel):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buf = [b""]
    url = f"rtsp://127.0.0.1:{port}/{path}"
    request(s, buf, "OPTIONS", url, 1)
    request(s, buf, "DESCRIBE", url, 2, "Accept: application/sdp\r\n")
    extra_socks = []
    if transport == "tcp":
        tr = "RTP/AVP/TCP;unicast;interleaved=0-1"
    else:
        while True:
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            if p % 2 == 0:
                b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    b.bind(("127.0.0.1", p + 1))
                    break
                except OSError:
                    b.close()
            a.close()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        a.setblocking(False)
        extra_socks = [a, b]
        sel.register(a, selectors.EVENT_READ)
        tr = f"RTP/AVP;unicast;client_port={p}-{p + 1}"
    head = request(s, buf, "SETUP", url + "/trackID=0", 3, f"Transport: {tr}\r\n")
    sid = re.search(r"^Session:\s*([^;\r\n]+)", head, re.M | re.I).group(1)
    request(s, buf, "PLAY", url, 4, f"Session: {sid}\r\nRange: npt=0.000-\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    return [s] + extra_socks


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(v[11]) + int(v[12])) / tck


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camsim", required=True)
    ap.add_argument("--media", required=True)
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("-T", choices=("tcp", "udp"), default="tcp")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--extra", default="", help="more rtsp-camsim arguments")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="camsim-cpu-")
    stats = os.path.join(tmp, "stats.json")
    portf = os.path.join(tmp, "port")
    cs = subprocess.Popen([a.camsim, "--media", a.media, "--paths", f"cam1..cam{a.n}", "--port",
                           "0", "--port-file", portf, "--stats-file", stats] + a.extra.split(),
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
    try:
        for _ in range(100):
            if os.path.exists(portf):
                break
            time.sleep(0.05)
        port = int(open(portf).read())
        sel = selectors.DefaultSelector()
        socks = []
        for i in range(a.n):
            socks += open_session(port, f"cam{i + 1}", a.T, sel)

        def drain(until):
            while time.monotonic() < until:
                for key, _ in sel.select(timeout=0.05):
                    try:
                        while key.fileobj.recv(1 << 18):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass

        drain(time.monotonic() + a.warmup)
        os.kill(cs.pid, signal.SIGUSR1)
        time.sleep(0.1)
        st0 = json.load(open(stats))
        c0, t0 = proc_cpu(cs.pid), time.monotonic()
        drain(t0 + a.seconds)
        c1, t1 = proc_cpu(cs.pid), time.monotonic()
        os.kill(cs.pid, signal.SIGUSR1)
        time.sleep(0.1)
        st1 = json.load(open(stats))
        el = t1 - t0
        pk = st1["packets"] - st0["packets"]
        out = {"cameras": a.n, "transport": a.T, "seconds": round(el, 2),
               "cpu_s": round(c1 - c0, 3), "cpu_pct": round(100 * (c1 - c0) / el, 2),
               "packets": pk, "pkts_per_s": round(pk / el), "mbit_s":
               round((st1["bytes"] - st0["bytes"]) * 8 / el / 1e6, 1),
               "dropped": st1["dropped"] - st0["dropped"], "rss_kib": proc_rss(cs.pid)}
        print(json.dumps(out))
        for s in socks:
            s.close()
    finally:
        cs.send_signal(signal.SIGTERM)
        cs.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
