#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plots a benchmark results directory into PNG files next to its JSON (docs/benchmarks.md).

    plot.py RESULTS_DIR [RESULTS_DIR...]

Understands what the scenario scripts write:
  - relay.json (scripts/bench/relay.sh): relay CPU seconds per million delivered packets and
    loss against viewers, for the relay over TCP and UDP, the peers and the bare fan-out floors
    (fanout_micro); the first-key-frame time of every session (the <point>.bench.json files
    of rtsp-bench) as a distribution per point;
  - summary.json (scripts/bench/broker.sh): redirects per second achieved against offered load
    (full speed = closed loop, the open-loop rate runs), broker and nginx side by side.
Needs python3-matplotlib (Debian); installs it with apt-get when run as root and missing.
"""
import glob
import json
import os
import subprocess
import sys


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if os.geteuid() != 0:
            sys.exit("plot.py: python3-matplotlib is missing (apt-get install python3-matplotlib)")
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-matplotlib"], check=True,
                       stdout=subprocess.DEVNULL)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def series(points, key, pred):
    xs, ys = [], []
    for p in sorted(points, key=lambda p: p["n"]):
        if pred(p) and p.get(key) is not None:
            xs.append(p["n"])
            ys.append(p[key])
    return xs, ys


def finish(plt, fig, ax, path, xlabel, ylabel, title, grid_which="major", legend_cols=1):
    """Labels, grid and legend of ax, then fig saved to path and closed. Returns path."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which=grid_which, alpha=0.3)
    ax.legend(fontsize=7, ncol=legend_cols)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_relay(plt, d, path):
    with open(path) as f:
        r = json.load(f)
    points = r.get("points", [])
    peers = r.get("peers", []) or []
    micro = r.get("micro", []) or []
    made = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for tr, style in (("tcp", "o-"), ("udp", "s-")):
        xs, ys = series(points, "s_per_M_delivered", lambda p, tr=tr: p["transport"] == tr)
        if xs:
            ax.plot(xs, ys, style, label=f"rtsp-relay {tr.upper()}")
    for name in sorted({p.get("peer", p.get("name", "")) for p in peers}):
        for tr, style in (("tcp", "^--"), ("udp", "v--")):
            xs, ys = series(peers, "s_per_M_delivered",
                            lambda p, tr=tr, name=name: p.get("transport") == tr
                            and p.get("peer", p.get("name", "")) == name)
            if xs:
                ax.plot(xs, ys, style, label=f"{name} {tr.upper()}")
    for mode in sorted({m["mode"] for m in micro if "floor" in m["mode"] or "sendto" in m["mode"]}):
        xs, ys = series(micro, "s_per_M", lambda m, mode=mode: m["mode"] == mode)
        if xs:
            ax.plot(xs, ys, ":", label=f"floor: {mode}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    made.append(finish(plt, fig, ax, os.path.join(d, "relay-cpu-per-mpkt.png"), "viewers",
                       "CPU seconds per million delivered packets",
                       "Relay fan-out cost (one 4 Mbit/s camera)", grid_which="both"))

    fig, ax = plt.subplots(figsize=(7, 4))
    for tr, style in (("tcp", "o-"), ("udp", "s-")):
        xs, ys = series(points, "loss_pct", lambda p, tr=tr: p["transport"] == tr)
        if xs:
            ax.plot(xs, ys, style, label=f"rtsp-relay {tr.upper()}")
    ax.set_xscale("log")
    made.append(finish(plt, fig, ax, os.path.join(d, "relay-loss.png"), "viewers",
                       "loss, % of expected packets", "Loss against viewers"))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    drew = False
    for p in sorted(points, key=lambda p: (p["transport"], p["n"])):
        bj = os.path.join(d, f"{p['name']}.bench.json")
        if not os.path.exists(bj):
            continue
        with open(bj) as f:
            b = json.load(f)
        vals = sorted(s["play_to_key_ms"] for s in b.get("sessions", [])
                      if s.get("established") and s.get("play_to_key_ms") is not None)
        firsts = sorted(s["first_key_ms"] for s in b.get("sessions", [])
                        if s.get("established") and s.get("first_key_ms") is not None)
        use = firsts if firsts else vals
        if not use:
            continue
        ys = [(i + 1) / len(use) for i in range(len(use))]
        ax.step(use, ys, where="post", label=f"{p['transport'].upper()} n={p['n']}")
        drew = True
    if drew:
        ax.set_xscale("symlog", linthresh=1)
        made.append(finish(plt, fig, ax, os.path.join(d, "relay-first-key.png"),
                           "ms from connect to the first key-frame packet", "fraction of viewers",
                           "First key frame (camera already pulled)", legend_cols=2))
    else:
        plt.close(fig)
    return made


def plot_broker(plt, d, path):
    with open(path) as f:
        s = json.load(f)
    made = []
    pts = {}
    # Every run JSON of the generator: offered rate (0 = closed loop) against achieved rate.
    for f in glob.glob(os.path.join(d, "*-*.json")):
        base = os.path.basename(f)
        if base.startswith(("summary", "meta", "ingest")):
            continue
        try:
            with open(f) as fh:
                r = json.load(fh)
        except (OSError, ValueError):
            continue
        achieved = r.get("redirects_per_s")
        if achieved is None:
            continue
        server = "nginx" if "nginx" in base else ("stub" if "stub" in base else "broker")
        offered = r.get("rate", 0) if r.get("open_loop") else 0  # closed loop: as fast as possible
        pts.setdefault(server, []).append((offered, achieved))
    if not pts:
        return made
    fig, ax = plt.subplots(figsize=(7, 4.5))
    top = max(a for v in pts.values() for _, a in v)
    for server, v in sorted(pts.items()):
        xs = [o if o else top * 1.25 for o, _ in v]  # closed loop drawn at the right edge
        ax.plot(xs, [a for _, a in v], "o", label=server)
    ax.plot([0, top * 1.3], [0, top * 1.3], "k:", linewidth=0.8, label="achieved = offered")
    made.append(finish(plt, fig, ax, os.path.join(d, "broker-redirects.png"),
                       "offered redirects/s (right edge: as fast as possible)",
                       "achieved redirects/s",
                       "Broker redirects (new connection each) against offered load"))
    return made


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    plt = need_matplotlib()
    made = []
    for d in sys.argv[1:]:
        if os.path.exists(os.path.join(d, "relay.json")):
            made += plot_relay(plt, d, os.path.join(d, "relay.json"))
        if os.path.exists(os.path.join(d, "summary.json")):
            made += plot_broker(plt, d, os.path.join(d, "summary.json"))
    for m in made:
        print(m)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
