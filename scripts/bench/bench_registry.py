#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bulk part of the benchmark registry (scripts/bench/broker.sh).

The CLI (`rtsp-broker camera add`, `relay add`) is one process and one transaction per row:
fine for operators, minutes for 10,000 cameras. broker.sh registers the first few relays and
cameras with the CLI (timing it) and has this script load the rest in one sqlite3 transaction
per call, on the schema the CLI's first call created (schema/001_init.sql):

    bench_registry.py cameras DB PATTERN FIRST LAST [--site S] [--url rtsp://HOST:PORT/cam%d]
    bench_registry.py relays DB FIRST LAST --json OUT [--cli-json F]... [--port-base N]
                      [--capacity N]

`relays` also writes OUT: every relay with its kid and key ([{"id", "kid", "key"}]), the
CLI-made ones read from their `relay add --json` output (--cli-json), for rd_heartbeat_sim.py.
Relay i gets the base URL rtsp://127.0.0.1:<port-base + i>: nothing listens there, the
generator only checks the Location and never follows it.
"""
import argparse
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
import relaychan  # noqa: E402


def cmd_cameras(a):
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA foreign_keys = ON")
    head, _, tail = a.pattern.partition("%d")
    url = a.url.replace("%d", "{}") if a.url else "rtsp://10.255.0.1/stream{}"
    rows = [(f"{head}{i}{tail}", f"{head}{i}{tail}", a.site, url.format(i))
            for i in range(a.first, a.last + 1)]
    with db:
        db.executemany("INSERT OR IGNORE INTO cameras (id, name, site_id, upstream_url) "
                       "VALUES (?, ?, ?, ?)", rows)
    n = db.execute("SELECT count(*) FROM cameras").fetchone()[0]
    db.close()
    print(f"cameras in registry: {n}")


def cmd_relays(a):
    out = []
    for f in a.cli_json or []:
        with open(f) as fh:
            text = fh.read()
        creds = relaychan.parse_relay_add_output(text)
        rid = json.loads(text).get("relay") if text.lstrip().startswith("{") else None
        rid = rid or os.path.basename(f).split(".")[0]
        out.append({"id": rid, "kid": creds["kid"], "key": creds["key"].hex()})
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA foreign_keys = ON")
    with db:
        for i in range(a.first, a.last + 1):
            rid = f"r{i}"
            key = os.urandom(32)
            kid = "b" + os.urandom(4).hex()
            db.execute("INSERT INTO relays (id, name, site_id, rtsp_base_url, capacity_viewers, "
                       "capacity_mbps) VALUES (?, ?, ?, ?, ?, ?)",
                       (rid, rid, a.site, f"rtsp://127.0.0.1:{a.port_base + i}", a.capacity,
                        a.capacity_mbps))
            db.execute("INSERT INTO relay_keys (relay_id, kid, gen, key) VALUES (?, ?, 1, ?)",
                       (rid, kid, key))
            out.append({"id": rid, "kid": kid, "key": key.hex()})
    n = db.execute("SELECT count(*) FROM relays").fetchone()[0]
    db.close()
    if a.json:
        existing = []
        if a.append and os.path.exists(a.json):
            with open(a.json) as fh:
                existing = json.load(fh)
        with open(a.json, "w") as fh:
            json.dump(existing + out, fh)
        os.chmod(a.json, 0o600)
    print(f"relays in registry: {n}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cameras")
    c.add_argument("db")
    c.add_argument("pattern")
    c.add_argument("first", type=int)
    c.add_argument("last", type=int)
    c.add_argument("--site", default="default")
    c.add_argument("--url", help="upstream URL pattern with %%d (default rtsp://10.255.0.1/stream%%d)")
    r = sub.add_parser("relays")
    r.add_argument("db")
    r.add_argument("first", type=int)
    r.add_argument("last", type=int)
    r.add_argument("--json")
    r.add_argument("--append", action="store_true", help="add to an existing --json file")
    r.add_argument("--cli-json", action="append")
    r.add_argument("--site", default="default")
    r.add_argument("--port-base", type=int, default=30000)
    r.add_argument("--capacity", type=int, default=100000)
    r.add_argument("--capacity-mbps", type=int, default=100000)
    a = ap.parse_args()
    if a.cmd == "cameras":
        cmd_cameras(a)
    else:
        cmd_relays(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
