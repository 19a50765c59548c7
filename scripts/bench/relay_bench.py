#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Driver of the relay benchmarks of issues 4 and 5 (scripts/bench/relay.sh and
scripts/bench/many_cameras.sh; method and results: docs/benchmarks.md).

    relay_bench.py fanout  --bin-dir build/bench --media M --out DIR [--n 1,10,100,300,500,1000]
                           [--transports tcp,udp] [--seconds 12] [--ramp 200] [--micro-seconds 3]
                           [--no-micro] [--peers]
    relay_bench.py cameras --bin-dir build/bench --media M --out DIR [--cameras 200]
                           [--viewers-per-camera 2] [--relays 2] [--seconds 15] [--transport tcp]

Everything on 127.0.0.1: rtsp-camsim (core 1), the real rtsp-broker (core 1) and rtsp-relay
processes (core 0) set up with the broker's CLI as tests/integration/deployment.py does, and
rtsp-bench (core 1) starting every viewer at the broker URL. Per point it reads the relay's
utime+stime from /proc/<pid>/stat over a steady window (all viewers playing), its /metrics
(rd_relay_packets_out_total) and VmRSS/VmHWM, and keeps rtsp-bench's JSON. fanout also runs
scripts/bench/fanout_micro (the bare floors) at the same N in the same run. Every process is
stopped by PID; each step has a deadline.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from deployment import SITE, CameraSpec, Deployment  # noqa: E402
from harness import Harness, log  # noqa: E402

CORE_SRV, CORE_CLI = "0", "1"
CLK = os.sysconf("SC_CLK_TCK")
PY = "/usr/bin/python3"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fl = f.read().rsplit(")", 1)[1].split()
    return (int(fl[11]) + int(fl[12])) / CLK


def mem_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def msum(m, name):
    return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))


class CamRef:
    """The part of deployment.Camera the Deployment uses: url and stats()."""

    def __init__(self, cs, path):
        self.cs, self.path = cs, path

    @property
    def url(self):
        return f"rtsp://127.0.0.1:{self.cs.port}/{self.path}"

    def stats(self):
        return self.cs.stats().get("paths", {}).get(self.path, {})

    def stop(self):
        if self.cs.proc:
            self.cs.proc.stop(timeout=10)


class Camsim:
    """One rtsp-camsim process serving every camera path (core 1)."""

    def __init__(self, h, binary, media, paths_arg):
        self.h, self.binary, self.media, self.paths_arg = h, binary, media, paths_arg
        self.port = None
        self.stats_file = h.path("camsim.stats.json")
        self.proc = None
        self.pace = None

    def start(self):
        pf = self.h.path("camsim.port")
        self.proc = self.h.spawn("camsim", ["taskset", "-c", CORE_CLI, self.binary, "--media",
                                            self.media, *self.paths_arg, "--port", "0",
                                            "--port-file", pf, "--stats-file", self.stats_file,
                                            "--log-level", "warn",
                                            *(["--pace-pct", str(self.pace)] if self.pace is not None else [])])
        deadline = time.monotonic() + 20
        while not (os.path.exists(pf) and open(pf).read().strip()):
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"rtsp-camsim did not start:\n{self.proc.log_text()[-2000:]}")
            time.sleep(0.05)
        self.port = int(open(pf).read().strip())

    def stats(self):
        try:
            os.kill(self.proc.pid, 10)  # SIGUSR1: rewrite the stats file now
            time.sleep(0.2)
            with open(self.stats_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


class BenchDeployment(Deployment):
    """deployment.Deployment with rtsp-camsim as the cameras, relay capacity, CPU pinning
    and a bulk camera registry."""

    def __init__(self, h, a, cam_ids, camsim_paths, n_relays):
        self.a, self.cam_ids = a, cam_ids
        bd = a.bin_dir
        super().__init__(h, os.path.join(bd, "broker", "rtsp-broker"),
                         os.path.join(bd, "relay-agent", "rtsp-relay"),
                         [CameraSpec(c) for c in cam_ids], n_relays=n_relays, hb_ms=1000,
                         log_level="notice",
                         relay_options={"capacity": str(a.capacity), "max_conns": "5000"},
                         broker_options={"max_conns_per_ip": "100"})
        self.camsim = Camsim(h, os.path.join(bd, "tools", "rtsp-camsim", "rtsp-camsim"),
                             a.media, camsim_paths)
        self.camsim.pace = a.pace_pct

    def start_cameras(self):
        self.camsim.start()
        for c in self.cam_ids:
            self.cameras[c] = CamRef(self.camsim, c)

    def make_registry(self):
        self.write_broker_conf()
        for r in self.relays:
            obj = json.loads(self.cli(["relay", "add", r.id, "--site", SITE, "--rtsp-url",
                                       r.rtsp_base, "--capacity", str(self.a.capacity),
                                       "--egress-mbps", "100000", "--json"]).stdout)
            r.kid, r.key_hex = obj["kid"], obj["key"]
            self.write_relay_conf(r)
        few = self.cam_ids[:5]
        for c in few:  # the CLI for a few, the rest in one transaction (bench_registry.py)
            self.cli(["camera", "add", c, self.cameras[c].url, "--site", SITE])
        rest = self.cam_ids[5:]
        if rest:
            pre = rest[0].rstrip("0123456789")
            first, last = int(rest[0][len(pre):]), int(rest[-1][len(pre):])
            self.h.run([PY, os.path.join(HERE, "bench_registry.py"), "cameras",
                        self.h.path("registry.db"), pre + "%d", str(first), str(last), "--url",
                        f"rtsp://127.0.0.1:{self.camsim.port}/{pre}%d"])

    def start_broker(self, timeout=15):
        self.broker_starts += 1
        self.broker = self.h.spawn(f"broker-{self.broker_starts}",
                                   ["taskset", "-c", CORE_CLI, self.broker_bin, "-c", self.conf])
        self._wait_listening(self.broker, [self.rtsp_port, self.admin_port], timeout)
        return self.broker

    def start_relay(self, r, timeout=15):
        r.starts += 1
        r.proc = self.h.spawn(f"{r.id}-{r.starts}",
                              ["taskset", "-c", CORE_SRV, self.relay_bin, "-c", r.conf])
        self._wait_listening(r.proc, [r.rtsp_port, r.status_port], timeout)
        return r.proc

    def restart_relays(self):
        for r in self.relays:
            r.proc.stop(timeout=10)
        for r in self.relays:
            self.start_relay(r)
        self.wait_healthy(30)
        for c in self.cam_ids[:3]:
            self.wait_redirect(c, 30)


def run_bench(a, h, name, urls, n, transport, seconds, ramp, relays_of, out_dir, extra=()):
    """One rtsp-bench run of n viewers; measures the relays in relays_of() (list of (name,
    pid, metrics_fn)) over the steady window. Returns the point's dict."""
    jpath = os.path.join(out_dir, f"{name}.bench.json")
    # Viewers per source address: the relay takes 50 connections per IP
    # (RD_RELAY_MAX_CONNS_PER_IP) and 16 UDP sessions per IP (RD_VSERVER_UDP_SESSIONS_PER_IP).
    per_ip = 12 if transport == "udp" else 40
    nsrc = max(4, (n + per_ip - 1) // per_ip)
    argv = ["taskset", "-c", CORE_CLI, os.path.join(a.bin_dir, "tools", "rtsp-bench", "rtsp-bench"),
            "-n", str(n), "-T", transport, "-d", str(seconds), "--ramp", str(ramp), "--src",
            f"127.0.2.1-{nsrc}", "--json", jpath, "--label", name, "-q", *extra, *urls]
    rel = relays_of()
    m0 = [fn() for _, _, fn in rel]
    c0 = [cpu_s(pid) for _, pid, _ in rel]
    t_start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Steady window: every viewer playing (rd_relay_viewers), or their number stable for 2 s
    # once the ramp is over (some refused: reported), ending before rtsp-bench's TEARDOWN
    # (seconds after the last viewer started).
    ramp_s = n / ramp if ramp > 0 else 0
    deadline = t_start + ramp_s + 15
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and p.poll() is None:
        v = sum(msum(fn(), "rd_relay_viewers") for _, _, fn in rel)
        now = time.monotonic()
        if v >= n:
            break
        if v != last:
            last, since = v, now
        elif now - since >= 2.0 and now - t_start > ramp_s + 1:
            break
        time.sleep(0.2)
    t_ramped = time.monotonic() - t_start
    time.sleep(1.0)
    window = min(seconds - 3.0, t_start + ramp_s + seconds - 1.0 - time.monotonic())
    window = max(1.0, window)
    w0 = [(cpu_s(pid), msum(fn(), "rd_relay_packets_out_total")) for _, pid, fn in rel]
    tw0 = time.monotonic()
    time.sleep(window)
    w1 = [(cpu_s(pid), msum(fn(), "rd_relay_packets_out_total")) for _, pid, fn in rel]
    tw1 = time.monotonic()
    mem = [mem_kib(pid) for _, pid, _ in rel]
    viewers_w = sum(msum(fn(), "rd_relay_viewers") for _, _, fn in rel)
    try:
        out, _ = p.communicate(timeout=seconds + ramp_s + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    m1 = [fn() for _, _, fn in rel]
    c1 = [cpu_s(pid) for _, pid, _ in rel]
    with open(os.path.join(out_dir, f"{name}.bench.out"), "w") as f:
        f.write(out or "")
    try:
        with open(jpath) as f:
            bj = json.load(f)
    except (OSError, ValueError):
        bj = {"aggregate": {}, "times": {}, "own_cpu": {}}
    ag, tm = bj.get("aggregate", {}), bj.get("times", {})
    cpu_w = sum(b[0] - a_[0] for a_, b in zip(w0, w1))
    pk_w = sum(b[1] - a_[1] for a_, b in zip(w0, w1))
    pk_run = sum(msum(b, "rd_relay_packets_out_total") - msum(a_, "rd_relay_packets_out_total")
                 for a_, b in zip(m0, m1))
    drops = sum(msum(b, "rd_relay_drops_total") - msum(a_, "rd_relay_drops_total")
                for a_, b in zip(m0, m1))
    delivered = ag.get("packets", 0)
    frac = delivered / pk_run if pk_run else 0
    cpu_run = sum(b - a_ for a_, b in zip(c0, c1))

    est = None
    if not pk_w and ag.get("packets_per_s"):
        # no relay metrics (peers): packets delivered in the window from rtsp-bench's rate
        est = ag["packets_per_s"] * (tw1 - tw0)

    def pct(k, q):
        return (tm.get(k) or {}).get(q)

    pt = {
        "name": name, "n": n, "transport": transport, "rc": p.returncode,
        "established": ag.get("established"), "failed": ag.get("failed"),
        "disconnected": ag.get("disconnected"), "errors": ag.get("errors"),
        "ramp_s": round(t_ramped, 2), "viewers_in_window": viewers_w,
        "window_s": round(tw1 - tw0, 2), "relay_cpu_window_s": round(cpu_w, 3),
        "relay_cpu_pct": round(100 * cpu_w / (tw1 - tw0), 1),
        "relay_pkts_out_window": pk_w, "relay_pkts_out_run": pk_run, "relay_drops_run": drops,
        "delivered_run": delivered, "delivered_fraction": round(frac, 5),
        "s_per_M_out": round(cpu_w / (pk_w / 1e6), 3) if pk_w else None,
        "s_per_M_delivered": (round(cpu_w / (pk_w * frac / 1e6), 3) if pk_w and frac
                              else round(cpu_w / (est / 1e6), 3) if est else None),
        "delivered_window_estimated": est is not None,
        "s_per_M_delivered_whole_run": round(cpu_run / (delivered / 1e6), 3) if delivered else None,
        "rss_kib": sum(x.get("VmRSS", 0) for x in mem), "hwm_kib": sum(x.get("VmHWM", 0) for x in mem),
        "loss_pct": ag.get("loss_pct"), "lost": ag.get("lost"), "expected": ag.get("expected"),
        "setup_ms_p50": pct("setup_ms", "p50"), "setup_ms_p99": pct("setup_ms", "p99"),
        "play_to_key_ms_p50": pct("play_to_key_ms", "p50"),
        "play_to_key_ms_p99": pct("play_to_key_ms", "p99"),
        "play_to_key_ms_max": pct("play_to_key_ms", "max"),
        "first_key_ms_p50": pct("first_key_ms", "p50"), "first_key_ms_p99": pct("first_key_ms", "p99"),
        "bench_cpu_pct": (bj.get("own_cpu") or {}).get("pct_of_core"),
        "bench_s_per_M": (bj.get("own_cpu") or {}).get("s_per_million_packets"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }
    log(f"  {name}: est {pt['established']}/{n} window {pt['window_s']}s relay {pt['relay_cpu_pct']}% "
        f"{pt['s_per_M_delivered']} s/M delivered ({pt['s_per_M_out']} per M out) rss "
        f"{pt['rss_kib']} KiB loss {pt['loss_pct']}% setup p50/p99 {pt['setup_ms_p50']}/"
        f"{pt['setup_ms_p99']} ms play->key p50/p99 {pt['play_to_key_ms_p50']}/"
        f"{pt['play_to_key_ms_p99']} ms bench {pt['bench_cpu_pct']}%")
    return pt


def run_micro(a, ns, out_dir):
    """scripts/bench/fanout_micro at the same N: the bare floors (and the relay's fan-out
    library in-process)."""
    exe = os.path.join(a.bin_dir, "scripts", "bench", "fanout_micro")
    if not os.access(exe, os.X_OK):
        log(f"no {exe}: no floor reference")
        return []
    argv = [exe, "-n", ",".join(str(n) for n in ns), "-d", str(a.micro_seconds), "-m",
            "tcp,tcp_floor,udp_gso,udp,udp_floor,udp_sendto,udp_gso_floor"]
    log("fan-out reference: " + " ".join(argv))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60 + 10 * len(ns) * 7 * a.micro_seconds)
    with open(os.path.join(out_dir, "fanout_micro.txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    rows = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 11 and not line.startswith(("#", "mode")):
            rows.append({"mode": f[0], "n": int(f[1]), "pkts_out": int(f[2]), "pkts_rx": int(f[3]),
                         "lost": int(f[4]), "cpu_s": float(f[5]), "s_per_M": float(f[6]),
                         "rss_mb": float(f[7]), "syscalls": int(f[8])})
    return rows


def load_peers(a):
    """scripts/bench/peers.py (or --peers-module): its GstRelay and NpmRelay classes, each
    cls(workdir); start(camera_url) -> viewer URL; .pids (CPU and RSS are theirs); stop()."""
    path = a.peers_module or os.path.join(HERE, "peers.py")
    if not os.path.exists(path):
        log(f"peers: {path} not present: peers not measured")
        return {}
    spec = importlib.util.spec_from_file_location("peers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = {}
    for cname in a.peer_classes.split(","):
        cls = getattr(mod, cname, None)
        if cls is None:
            log(f"peers: {path} has no class {cname}")
            continue
        out[getattr(cls, "name", cname)] = cls
    return out


# Transports each peer serves (rtsp-streaming-server answers 461 to a TCP SETUP).
PEER_TRANSPORTS = {"npm": ("udp",)}


def run_peers(a, h, d, ns, transports, res):
    for pname, cls in load_peers(a).items():
        for t in transports:
            if t not in PEER_TRANSPORTS.get(pname, ("tcp", "udp")):
                continue
            for n in ns:
                peer = cls(h.path(f"peer-{pname}-{t}-{n}"))
                try:
                    vurl = peer.start(d.camera("cam1").url)
                except Exception as e:  # a peer that cannot run is reported, not fatal
                    log(f"peer {pname}: cannot start: {e}")
                    res["peers"].append({"peer": pname, "transport": t, "n": n, "error": str(e)})
                    peer.stop()
                    continue
                try:
                    # Pinned like our relay: every thread of every process of the peer on
                    # the server core (threads made later inherit it).
                    for pid in peer.pids:
                        subprocess.run(["taskset", "-a", "-p", "-c", CORE_SRV, str(pid)],
                                       capture_output=True, timeout=10)
                    rel = [(f"{pname}-{i}", pid, dict) for i, pid in enumerate(peer.pids)]
                    run_bench(a, h, f"warmup-{pname}-{t}-{n}", [vurl], 1, t, 3, 50, lambda: rel, a.out)
                    pt = run_bench(a, h, f"peer-{pname}-{t}-{n}", [vurl], n, t, a.seconds, a.ramp,
                                   lambda: rel, a.out)
                    pt["peer"] = pname
                    res["peers"].append(pt)
                    json.dump(res, open(os.path.join(a.out, "relay.json"), "w"), indent=1)
                finally:
                    peer.stop()


def keep_core_awake(core):
    """A SCHED_IDLE busy loop pinned to core: it only gets time nothing else wants, and the vCPU
    never halts. On this VM a sender that wakes a reader on a halted vCPU pays for the wake-up
    through the hypervisor in its own system time (see docs/benchmarks.md); bare-metal
    benchmarks get the same effect with `cpupower idle-set -D 0` or idle=poll."""
    code = "import os\nos.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\nwhile True:\n    pass\n"
    return subprocess.Popen(["taskset", "-c", core, sys.executable, "-c", code])


def cmd_fanout(a):
    spinner = keep_core_awake(CORE_CLI) if a.awake else None
    try:
        return fanout(a)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def fanout(a):
    ns = [int(x) for x in a.n.split(",")]
    transports = a.transports.split(",")
    os.makedirs(a.out, exist_ok=True)
    res = {"points": [], "micro": [], "peers": [], "config": vars(a).copy()}
    with Harness(keep=a.keep) as h:
        d = BenchDeployment(h, a, ["cam1"], ["--path", "cam1"], n_relays=1)
        d.start(timeout=40)
        url = d.url("cam1")
        r0 = d.relays[0]

        def relays_of():
            return [(r0.id, r0.proc.pid, lambda: d.relay_metrics(0))]

        for ti, t in enumerate(transports):
            if ti > 0:
                d.restart_relays()  # fresh heap per transport: RSS at N - RSS at 1
            # Warm-up: the relay pulls the camera; the points then find it already pulled
            # (it lingers 10 s after its last viewer, longer than the gap between points).
            run_bench(a, h, f"warmup-{t}", [url], 1, t, 4, 50, relays_of, a.out)
            for n in ns:
                res["points"].append(run_bench(a, h, f"relay-{t}-{n}", [url], n, t, a.seconds,
                                               a.ramp, relays_of, a.out))
                json.dump(res, open(os.path.join(a.out, "relay.json"), "w"), indent=1)
        res["camsim"] = d.camsim.stats()
        if a.peers:
            run_peers(a, h, d, ns, transports, res)
        d.stop()
    if not a.no_micro:
        res["micro"] = run_micro(a, ns, a.out)
    json.dump(res, open(os.path.join(a.out, "relay.json"), "w"), indent=1)
    summarize_fanout(res, a.out)


def summarize_fanout(res, out):
    micro = {(m["mode"], m["n"]): m for m in res["micro"]}
    floor_of = {"tcp": ["tcp_floor", "tcp"], "udp": ["udp_gso_floor", "udp_floor", "udp_sendto", "udp_gso"]}
    awake = " client core kept awake (--awake);" if res["config"].get("awake") else ""
    lines = [f"relay fan-out (one camera, one relay on core 0;{awake} s/M = relay CPU s per million delivered packets)",
             f"{'tr':3} {'N':>5} {'est':>5} {'s/M':>6} {'s/M out':>7} {'cpu%':>5} {'RSS MiB':>7} "
             f"{'HWM':>6} {'KiB/v':>6} {'loss%':>7} {'setup p50/p99':>14} {'PLAY->key p50/p99':>18} "
             f"{'bench%':>6}  floors s/M (ratio relay/floor)"]
    rss1 = {}
    for p in res["points"]:
        if p["n"] == 1:
            rss1[p["transport"]] = p["rss_kib"]
    for p in res["points"]:
        base = rss1.get(p["transport"])
        p["kib_per_viewer"] = round((p["rss_kib"] - base) / p["n"], 1) if base and p["n"] > 1 else None
        fl = []
        for mname in floor_of[p["transport"]]:
            m = micro.get((mname, p["n"]))
            if m and m["s_per_M"] > 0 and p["s_per_M_delivered"]:
                ratio = p["s_per_M_delivered"] / m["s_per_M"]
                p[f"ratio_{mname}"] = round(ratio, 2)
                fl.append(f"{mname} {m['s_per_M']:.2f} ({ratio:.1f}x)")

        def f(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "-"

        lines.append(f"{p['transport']:3} {p['n']:>5} {f(p['established'], 'd'):>5} "
                     f"{f(p['s_per_M_delivered'], '.2f'):>6} {f(p['s_per_M_out'], '.2f'):>7} "
                     f"{f(p['relay_cpu_pct'], '.1f'):>5} {p['rss_kib'] / 1024:7.1f} {p['hwm_kib'] / 1024:6.1f} "
                     f"{f(p['kib_per_viewer'], '.1f'):>6} {f(p['loss_pct'], '.4f'):>7} "
                     f"{f(p['setup_ms_p50'], '.1f'):>6}/{f(p['setup_ms_p99'], '.1f'):<7} "
                     f"{f(p['play_to_key_ms_p50'], '.1f'):>8}/{f(p['play_to_key_ms_p99'], '.1f'):<9} "
                     f"{f(p['bench_cpu_pct'], '.0f'):>6}  " + ", ".join(fl))
    for p in res.get("peers", []):
        if "error" in p:
            lines.append(f"peer {p['peer']}: {p['error']}")
        else:
            lines.append(f"peer {p['peer']:>5} {p['transport']} N={p['n']:>4}: est {p['established']} "
                         f"{p['s_per_M_delivered']} s/M (window; whole run {p['s_per_M_delivered_whole_run']}) "
                         f"cpu {p['relay_cpu_pct']}% RSS {p['rss_kib'] / 1024:.1f} MiB loss {p['loss_pct']}% "
                         f"PLAY->key p50/p99 {p['play_to_key_ms_p50']}/{p['play_to_key_ms_p99']} ms")
    if res["micro"]:
        lines.append("fan-out reference (fanout_micro, same N): mode N s/M lost")
        for m in res["micro"]:
            lines.append(f"  {m['mode']:14} {m['n']:5} {m['s_per_M']:7.3f} {m['lost']}")
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "summary.txt"), "w").write(text)
    json.dump(res, open(os.path.join(out, "relay.json"), "w"), indent=1)
    print(text)


def cmd_cameras(a):
    os.makedirs(a.out, exist_ok=True)
    cams = [f"cam{i}" for i in range(1, a.cameras + 1)]
    res = {"config": vars(a).copy()}
    with Harness(keep=a.keep) as h:
        d = BenchDeployment(h, a, cams, ["--paths", f"cam1..cam{a.cameras}"], n_relays=a.relays)
        d.start(timeout=60)
        rel = [(r.id, r.proc.pid, (lambda i=i: d.relay_metrics(i))) for i, r in enumerate(d.relays)]
        url = f"rtsp://127.0.0.1:{d.rtsp_port}/cam{{1..{a.cameras}}}"
        n = a.cameras * a.viewers_per_camera
        cs0 = d.camsim.stats()
        # status of the relays while the viewers play: which relay pulls which camera
        pairs = {}

        def relays_of():
            return rel
        # run_bench samples the window; read the relays' camera lists right after it
        pt = run_bench(a, h, f"cameras-{a.transport}-{a.cameras}x{a.viewers_per_camera}", [url], n,
                       a.transport, a.seconds, a.ramp, relays_of, a.out,
                       extra=())
        cs1 = d.camsim.stats()
        for i, r in enumerate(d.relays):
            for c in (d.relay_status(i) or {}).get("cameras", []):
                pairs.setdefault(c["id"], []).append(r.id)
        sessions = {p: (cs1.get("paths", {}).get(p, {}).get("sessions", 0)
                        - cs0.get("paths", {}).get(p, {}).get("sessions", 0)) for p in cams}
        # relays each camera's viewers were sent to (rtsp-bench final_url) = pairs chosen
        bj = json.load(open(os.path.join(a.out, pt["name"] + ".bench.json")))
        chosen = {}
        port_to_relay = {r.rtsp_port: r.id for r in d.relays}
        for s in bj.get("sessions", []):
            fu = s.get("final_url") or ""
            cam = (s.get("url") or "").rsplit("/", 1)[-1]
            try:
                port = int(fu.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            except (IndexError, ValueError):
                continue
            chosen.setdefault(cam, set()).add(port_to_relay.get(port, str(port)))
        n_pairs = sum(len(v) for v in chosen.values())
        mism = {c: (sessions.get(c, 0), sorted(chosen.get(c, ()))) for c in cams
                if sessions.get(c, 0) != len(chosen.get(c, ()))}
        pt.update({
            "cameras": a.cameras, "relays": a.relays, "viewers": n,
            "camera_sessions": sum(sessions.values()), "pairs_chosen": n_pairs,
            "pairs_in_relay_status": sum(len(v) for v in pairs.values()),
            "viewers_per_relay": {rid: sum(1 for s in bj.get("sessions", [])
                                           if port_to_relay.get(_port(s.get("final_url"))) == rid)
                                  for rid in port_to_relay.values()},
            "sessions_equal_pairs": not mism, "mismatches": dict(list(mism.items())[:20]),
            "camsim_cpu_s": round((cs1.get("cpu_user_s", 0) + cs1.get("cpu_sys_s", 0))
                                  - (cs0.get("cpu_user_s", 0) + cs0.get("cpu_sys_s", 0)), 2),
            "camsim_dropped": cs1.get("dropped"),
        })
        res["point"] = pt
        d.stop()
    json.dump(res, open(os.path.join(a.out, "many_cameras.json"), "w"), indent=1)
    p = res["point"]
    text = (f"many cameras: {a.cameras} cameras x {a.viewers_per_camera} viewers ({a.transport}) through "
            f"{a.relays} relays via the broker, media {os.path.basename(a.media)}\n"
            f"  sessions established {p['established']}/{p['viewers']}  failed {p['failed']}  "
            f"loss {p['loss_pct']}%  setup p50/p99 {p['setup_ms_p50']}/{p['setup_ms_p99']} ms  "
            f"PLAY->key p50/p99 {p['play_to_key_ms_p50']}/{p['play_to_key_ms_p99']} ms\n"
            f"  relays CPU {p['relay_cpu_pct']}% of a core (both, steady window)  "
            f"{p['s_per_M_delivered']} s per M delivered  RSS {p['rss_kib'] / 1024:.1f} MiB (sum)  "
            f"viewers per relay {p['viewers_per_relay']}\n"
            f"  camera sessions {p['camera_sessions']}  (camera, relay) pairs chosen {p['pairs_chosen']}  "
            f"in relay status {p['pairs_in_relay_status']}  equal per camera: {p['sessions_equal_pairs']}\n"
            f"  camsim CPU {p['camsim_cpu_s']} s  rtsp-bench {p['bench_cpu_pct']}% of a core\n")
    open(os.path.join(a.out, "summary.txt"), "w").write(text)
    print(text)


def _port(u):
    try:
        return int((u or "").split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("fanout", "cameras"):
        s = sub.add_parser(name)
        s.add_argument("--bin-dir", required=True)
        s.add_argument("--media", required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--ramp", type=int, default=200)
        s.add_argument("--capacity", type=int, default=5000)
        s.add_argument("--keep", action="store_true", help="keep the harness directory (logs)")
        s.add_argument("--pace-pct", type=int, help="rtsp-camsim --pace-pct (default: its 50; 0 = a frame per burst)")
    f = sub.choices["fanout"]
    f.add_argument("--n", default="1,10,100,300,500,1000")
    f.add_argument("--transports", default="tcp,udp")
    f.add_argument("--seconds", type=float, default=12)
    f.add_argument("--micro-seconds", type=float, default=3)
    f.add_argument("--no-micro", action="store_true")
    f.add_argument("--awake", action="store_true",
                   help="keep the client core from halting (SCHED_IDLE busy loop) for the whole run")
    f.add_argument("--peers", action="store_true")
    f.add_argument("--peers-module", help="peers.py to use (default scripts/bench/peers.py)")
    f.add_argument("--peer-classes", default="GstRelay,NpmRelay")
    c = sub.choices["cameras"]
    c.add_argument("--cameras", type=int, default=200)
    c.add_argument("--viewers-per-camera", type=int, default=2)
    c.add_argument("--relays", type=int, default=2)
    c.add_argument("--seconds", type=float, default=15)
    c.add_argument("--transport", default="tcp")
    a = ap.parse_args()
    # This driver (sampling /proc, parsing /metrics) and whatever it starts without a taskset
    # of their own stay off the relay's core.
    os.sched_setaffinity(0, {int(CORE_CLI)})
    return cmd_fanout(a) if a.cmd == "fanout" else cmd_cameras(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
