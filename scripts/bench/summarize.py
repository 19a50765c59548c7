#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Summarises one scripts/bench/broker.sh run: medians of the repeated measurements, the
broker/nginx ratios, a table on stdout and summary.json in the results directory.

    summarize.py RESULTS_DIR
    summarize.py --parse-wrk WRK_OUTPUT OUT.json    (wrk --latency text -> JSON)

Inputs (written by broker.sh): <phase>-<n>.json from rd_redirect_bench, rd_heartbeat_sim.py
or the wrk parser, <phase>-<n>.cpu holding the server's CPU seconds during that run, and
meta.json (machine, registry, RSS).
"""
import glob
import json
import os
import re
import statistics
import sys


def load_runs(d, phase):
    runs = []
    for path in sorted(glob.glob(os.path.join(d, f"{phase}-*.json")),
                       key=lambda p: int(re.search(r"-(\d+)\.json$", p).group(1))):
        with open(path) as f:
            r = json.load(f)
        # The server's CPU over the measured window (the generator reads it at the window's
        # start and end: --server-pid); else over the generator's whole run, warmup included.
        cpu = path[:-5] + ".cpu"
        if "server_cpu_s" not in r and os.path.exists(cpu):
            with open(cpu) as f:
                r["server_cpu_s"] = float(f.read().strip() or 0)
        runs.append(r)
    return runs


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def redirect_phase(runs):
    if not runs:
        return None
    out = {
        "runs": len(runs),
        "redirects_per_s": med([r["redirects_per_s"] for r in runs]),
        "redirects_per_s_each": [r["redirects_per_s"] for r in runs],
        "errors": sum(r["errors"] for r in runs),
        "completed": sum(r["completed"] for r in runs),
        "p50_us": med([r["latency_us"]["p50"] for r in runs]),
        "p99_us": med([r["latency_us"]["p99"] for r in runs]),
        "p99_9_us": med([r["latency_us"]["p99_9"] for r in runs]),
        "max_us": med([r["latency_us"]["max"] for r in runs]),
        "generator_cpu_pct": med([100.0 * (r["cpu_user_s"] + r["cpu_sys_s"]) / r["window_s"]
                                  for r in runs if r["window_s"]]),
        # What the generator would do on one fully busy core at its measured cost per viewer.
        "generator_per_core_s": med([r["completed"] / (r["cpu_user_s"] + r["cpu_sys_s"])
                                     for r in runs if r["cpu_user_s"] + r["cpu_sys_s"] > 0]),
        "rate": runs[0].get("rate"),
        "start_delay_p99_us": med([r.get("start_delay_us", {}).get("p99") for r in runs]),
    }
    errs = {}
    for r in runs:
        for k, v in r.get("errors_by_kind", {}).items():
            if v:
                errs[k] = errs.get(k, 0) + v
    out["errors_by_kind"] = errs
    cpu = [(r["completed"], r["server_cpu_s"], r["window_s"]) for r in runs if r.get("server_cpu_s")]
    if cpu:
        out["server_cpu_pct"] = med([100.0 * c / w for _, c, w in cpu if w])
        # What one fully busy core would do at this server's measured cost per viewer.
        out["per_server_core_s"] = med([n / c for n, c, _ in cpu if c])
    return out


def wrk_phase(runs):
    if not runs:
        return None
    return {
        "runs": len(runs),
        "requests_per_s": med([r["requests_per_s"] for r in runs]),
        "requests_per_s_each": [r["requests_per_s"] for r in runs],
        "socket_errors": sum(r.get("socket_errors", 0) for r in runs),
        "non_3xx": sum(r.get("non_2xx_3xx", 0) for r in runs),
        "p50_us": med([r.get("p50_us") for r in runs]),
        "p99_us": med([r.get("p99_us") for r in runs]),
        "server_cpu_pct": med([100.0 * r["server_cpu_s"] / r["duration_s"] for r in runs
                               if r.get("server_cpu_s") and r.get("duration_s")]),
        "per_server_core_s": med([r["requests"] / r["server_cpu_s"] for r in runs
                                  if r.get("server_cpu_s")]),
    }


def ingest_phase(runs):
    if not runs:
        return None
    return {
        "runs": len(runs),
        "relays": runs[0]["relays"],
        "offered_per_s": runs[0]["offered_per_s"],
        "beats_per_s": med([r["per_s"] for r in runs]),
        "beats_per_s_each": [r["per_s"] for r in runs],
        "status": {k: sum(r["status"].get(k, 0) for r in runs)
                   for k in sorted({k for r in runs for k in r["status"]})},
        "errors": sum(sum(r["errors"].values()) for r in runs),
        "p99_ms": med([r["latency_ms"]["p99"] for r in runs]),
        "broker_cpu_us_per_beat": med([r.get("broker_cpu_us_per_beat") for r in runs]),
        "projected_beats_per_core_s": med([r.get("projected_beats_per_core_s") for r in runs]),
        "simulator_cpu_s": med([r.get("own_cpu_s") for r in runs]),
    }


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = round(v, 1) if v < 100 else round(v)
    return f"{v}{unit}"


def _wrk_time_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def parse_wrk(src, dst):
    with open(src) as f:
        t = f.read()
    out = {"tool": "wrk"}
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    out["requests_per_s"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", t)
    if m:
        out["requests"] = int(m.group(1))
        out["duration_s"] = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    out["non_2xx_3xx"] = int(m.group(1)) if m else 0
    for p in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % p, t, re.M)
        out[f"p{p}_us"] = _wrk_time_us(m.group(1)) if m else None
    with open(dst, "w") as f:
        json.dump(out, f, indent=2)


def main():
    if sys.argv[1] == "--parse-wrk":
        parse_wrk(sys.argv[2], sys.argv[3])
        return 0
    d = sys.argv[1]
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    s = {"meta": meta}
    s["broker_full"] = redirect_phase(load_runs(d, "broker-full"))
    s["broker_describe_only"] = redirect_phase(load_runs(d, "broker-describe"))
    s["broker_half_rate"] = redirect_phase(load_runs(d, "broker-half"))
    s["heartbeat_ingest"] = ingest_phase(load_runs(d, "ingest"))
    s["nginx_gen"] = redirect_phase(load_runs(d, "nginx-gen"))
    s["nginx_wrk"] = wrk_phase(load_runs(d, "nginx-wrk"))
    s["stub_full"] = redirect_phase(load_runs(d, "stub-full"))
    s["stub_half_rate"] = redirect_phase(load_runs(d, "stub-half"))
    keep = os.path.join(d, "keepalive.json")
    if os.path.exists(keep):
        with open(keep) as f:
            s["keepalive"] = json.load(f)
    bf, bd, ng = s["broker_full"], s["broker_describe_only"], s["nginx_gen"]
    s["ratios"] = {
        "broker_options_describe_vs_nginx_get": ratio(bf and bf["redirects_per_s"],
                                                      ng and ng["redirects_per_s"]),
        "broker_describe_vs_nginx_get": ratio(bd and bd["redirects_per_s"],
                                              ng and ng["redirects_per_s"]),
        "per_core_broker_options_describe_vs_nginx": ratio(bf and bf.get("per_server_core_s"),
                                                           ng and ng.get("per_server_core_s")),
        "per_core_broker_describe_vs_nginx": ratio(bd and bd.get("per_server_core_s"),
                                                   ng and ng.get("per_server_core_s")),
    }
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(s, f, indent=2)

    print()
    print(f"rtsp-broker benchmark  {meta.get('date', '')}  {meta.get('cpu', '')}  "
          f"{meta.get('cores')} cores  load avg at start {meta.get('loadavg_start')}")
    print(f"registry: {meta.get('cameras')} cameras, {meta.get('relays')} relays "
          f"(CLI {meta.get('cli_ms_per_add', '-')} ms per add)  repeats: {meta.get('repeats')} "
          f"x {meta.get('seconds')} s, medians shown")
    print()
    hdr = f"{'measurement':47} {'rate/s':>9} {'p50 us':>8} {'p99 us':>8} {'p99.9':>8} " \
          f"{'srv cpu%':>8} {'/core-s':>9} {'gen/core-s':>10} {'errors':>6}"
    print(hdr)
    print("-" * len(hdr))
    rows = [
        ("broker OPTIONS+DESCRIBE, new conn, full", bf),
        ("broker DESCRIBE only, new conn, full", bd),
        ("broker OPTIONS+DESCRIBE at half rate", s["broker_half_rate"]),
        ("nginx GET 302, new conn (rd_redirect_bench)", ng),
        ("stub redirector (generator ceiling)", s["stub_full"]),
        ("stub at the broker's half rate (latency floor)", s["stub_half_rate"]),
    ]
    for name, r in rows:
        if not r:
            print(f"{name:47} {'(not run)':>9}")
            continue
        print(f"{name:47} {fmt(r['redirects_per_s']):>9} {fmt(r['p50_us']):>8} "
              f"{fmt(r['p99_us']):>8} {fmt(r['p99_9_us']):>8} {fmt(r.get('server_cpu_pct')):>8} "
              f"{fmt(r.get('per_server_core_s')):>9} {fmt(r.get('generator_per_core_s')):>10} "
              f"{r['errors']:>6}")
    w = s["nginx_wrk"]
    if w:
        print(f"{'nginx GET 302, Connection: close (wrk)':47} {fmt(w['requests_per_s']):>9} "
              f"{fmt(w['p50_us']):>8} {fmt(w['p99_us']):>8} {'':>8} {fmt(w['server_cpu_pct']):>8} "
              f"{fmt(w['per_server_core_s']):>9} {'':>10} {w['socket_errors'] + w['non_3xx']:>6}")
    hb = s["heartbeat_ingest"]
    if hb:
        print()
        print(f"heartbeat ingest: {hb['relays']} relays offering {fmt(hb['offered_per_s'])}/s: "
              f"{fmt(hb['beats_per_s'])}/s answered, status {hb['status']}, "
              f"errors {hb['errors']}, p99 {fmt(hb['p99_ms'])} ms, broker "
              f"{fmt(hb['broker_cpu_us_per_beat'])} us CPU per beat "
              f"(~{fmt(hb['projected_beats_per_core_s'])}/s per core)")
    k = s.get("keepalive")
    if k:
        print(f"keep-alive heartbeats during the redirect runs: {k['relays']} relays, "
              f"{k['sent']} beats, status {k['status']}, errors {k['errors']}, p99 "
              f"{k['latency_ms']['p99']} ms, simulator CPU {k['own_cpu_s']} s in {k['window_s']} s")
    by = meta.get("broker_rss_max_kib_by_phase") or {}
    if by:
        print(f"broker RSS by phase (max KiB): 200 relays at full speed and half rate {by.get('target')}, "
              f"load sweep {by.get('sweep') or '-'}, ingest from {meta.get('ingest_relays')} relays "
              f"{by.get('ingest')}")
    print(f"broker RSS: max sampled {meta.get('broker_rss_max_kib', '-')} KiB, "
          f"VmHWM {meta.get('broker_hwm_kib', '-')} KiB; nginx worker VmHWM "
          f"{meta.get('nginx_hwm_kib', '-')} KiB")
    print(f"ratios: {s['ratios']}")
    print(f"results: {os.path.join(d, 'summary.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
